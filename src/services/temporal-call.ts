import type { ServiceDeps } from './service-deps.js';

/** Longest a request waits on a Temporal call; while Temporal is unreachable the user gets a 503 instead. */
const TEMPORAL_CALL_DEADLINE_MS = 10_000;

/** Runs one call to Temporal (start, signal) under the request deadline. */
export function withTemporalDeadline<T>(deps: ServiceDeps, call: () => Promise<T>): Promise<T> {
  return deps.temporal.connection.withDeadline(Date.now() + TEMPORAL_CALL_DEADLINE_MS, call);
}
