import { readdir, readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { WebhookEventNameSchema } from '../../src/batches/create-batch-request.js';
import { LIFECYCLE_EVENTS, WEBHOOK_EVENTS, type LifecycleEvent } from '../../src/workflows/contracts.js';

/** Every `emit('…')` in the workflow code: the points where lifecycle events leave the batch workflow. */
async function emittedEvents(): Promise<string[]> {
  const dir = new URL('../../src/workflows/', import.meta.url);
  const files = (await readdir(dir)).filter((f) => f.endsWith('.ts'));
  const sources = await Promise.all(files.map((f) => readFile(new URL(f, dir), 'utf8')));
  return sources.flatMap((source) => [...source.matchAll(/\bemit\('([a-z_]+)'\)/g)].map((m) => m[1]!));
}

describe('the lifecycle event map', () => {
  it('lists every event the batch workflow emits, and nothing it does not', async () => {
    const emitted = await emittedEvents();
    // Terminal statuses are emitted through `finish(status)` / `end(...)` rather than a literal.
    const emittedOrTerminal = new Set([...emitted, 'completed', 'cancelled', 'expired', 'failed']);
    for (const event of emitted) expect(Object.keys(LIFECYCLE_EVENTS), `emitted '${event}' is not in LIFECYCLE_EVENTS`).toContain(event);
    for (const event of Object.keys(LIFECYCLE_EVENTS)) expect(emittedOrTerminal.has(event), `'${event}' is never emitted`).toBe(true);
  });

  it('marks each event either deliverable or internal, and subscriptions accept exactly the deliverable ones', () => {
    for (const [event, entry] of Object.entries(LIFECYCLE_EVENTS)) {
      expect(['subscribable', 'internal'], event).toContain(entry.delivery);
      const accepted = WebhookEventNameSchema.safeParse(event).success;
      expect(accepted, `webhook.events accepting '${event}'`).toBe(entry.delivery === 'subscribable');
      expect(WEBHOOK_EVENTS.includes(event as never)).toBe(entry.delivery === 'subscribable');
    }
    expect(LIFECYCLE_EVENTS.in_progress.delivery satisfies string).toBe('internal');
  });

  it('names the terminal events the workflow ends with', () => {
    const terminal: LifecycleEvent[] = ['completed', 'failed', 'cancelled', 'expired'];
    for (const event of terminal) expect(LIFECYCLE_EVENTS[event].delivery).toBe('subscribable');
  });
});
