import { temporalProblem } from '../temporal/temporal-problem.js';

/** What went wrong, in the service's terms; the API decides what status each kind gets. */
export type ServiceErrorKind = 'invalid_request' | 'not_found' | 'conflict' | 'too_large' | 'unavailable';

/**
 * An error a service function throws for its caller to report. It knows nothing
 * of HTTP: `src/api` maps each kind to a status in one place (api-error.ts).
 */
export class ServiceError extends Error {
  constructor(
    readonly kind: ServiceErrorKind,
    message: string,
    /** A stable machine-readable code, e.g. `file_not_found`. */
    readonly code: string | null = null,
    /** The request field the error is about, e.g. `input_file_id`. */
    readonly param: string | null = null,
  ) {
    super(message);
  }

  static notFound(what: string, id: string): ServiceError {
    return new ServiceError('not_found', `No ${what} found with id '${id}'.`, 'not_found', 'id');
  }

  /**
   * Temporal did not take the call, so `what` did not happen and nothing
   * changed. Unreachable: the caller may retry. Set up wrongly (a missing
   * namespace or search attribute): the message says what to fix.
   */
  static temporalUnavailable(what: string, cause?: unknown, namespace = 'default'): ServiceError {
    const problem = cause === undefined ? undefined : temporalProblem(cause, namespace);
    if (problem) return new ServiceError('unavailable', `${what} could not be started: ${problem.message}`, problem.code);
    return new ServiceError('unavailable', `${what} could not be started right now; please retry.`, 'temporal_unavailable');
  }
}
