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

  /** Temporal could not be reached, so `what` did not happen; nothing changed and the caller may retry. */
  static temporalUnavailable(what: string): ServiceError {
    return new ServiceError('unavailable', `${what} could not be started right now; please retry.`, 'temporal_unavailable');
  }
}
