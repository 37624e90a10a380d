import proto from '@temporalio/proto';

type History = proto.temporal.api.history.v1.IHistory;
const { History } = proto.temporal.api.history.v1;
const EventType = proto.temporal.api.enums.v1.EventType as unknown as Record<number, string>;

/**
 * A recorded workflow history. `history` is the protobuf encoding (base64), which
 * replays exactly; `events` is a readable outline of it for reviewers. (The SDK's
 * JSON history helpers are not used: with two copies of protobufjs installed they
 * throw "type must be a Type".)
 */
export interface HistoryFixture {
  note: string;
  workflowId: string;
  events: string[];
  history: string;
}

function outline(history: History): string[] {
  return (history.events ?? []).map((event) => {
    const type = String(EventType[event.eventType ?? 0] ?? event.eventType).replace(/^EVENT_TYPE_/, '');
    const name =
      event.activityTaskScheduledEventAttributes?.activityType?.name ??
      event.startChildWorkflowExecutionInitiatedEventAttributes?.workflowType?.name ??
      event.workflowExecutionStartedEventAttributes?.workflowType?.name ??
      event.markerRecordedEventAttributes?.markerName ??
      event.workflowExecutionSignaledEventAttributes?.signalName ??
      '';
    return `${String(event.eventId)} ${type}${name ? ` ${name}` : ''}`;
  });
}

export function toFixture(history: History, note: string, workflowId: string): HistoryFixture {
  return { note, workflowId, events: outline(history), history: Buffer.from(History.encode(history).finish()).toString('base64') };
}

export function historyOf(fixture: HistoryFixture): History {
  return History.decode(Buffer.from(fixture.history, 'base64'));
}
