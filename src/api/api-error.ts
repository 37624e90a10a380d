import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';
import type { ServiceError, ServiceErrorKind } from '../services/service-error.js';

const STATUS_OF: Record<ServiceErrorKind, ContentfulStatusCode> = {
  invalid_request: 400,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  unavailable: 503,
};

/** An error the API answers with OpenAI's error shape `{error: {message, type, param, code}}`. */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    message: string,
    readonly code: string | null = null,
    readonly param: string | null = null,
    readonly type: string = status >= 500 ? 'server_error' : 'invalid_request_error',
  ) {
    super(message);
  }

  toBody() {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }

  static notFound(what: string, id: string): ApiError {
    return new ApiError(404, `No ${what} found with id '${id}'.`, 'not_found', 'id');
  }

  /** The HTTP answer to a service's error: the one place where its kind becomes a status. */
  static fromService(error: ServiceError): ApiError {
    return new ApiError(STATUS_OF[error.kind], error.message, error.code, error.param);
  }

  /** A 400 naming the first offending field, e.g. `webhook.max_retries`. */
  static fromZod(error: z.ZodError): ApiError {
    const issue = error.issues[0]!;
    const param = issue.path.map(String).join('.') || null;
    const message = param ? `Invalid value for '${param}': ${issue.message}` : issue.message;
    return new ApiError(400, message, 'invalid_value', param);
  }
}
