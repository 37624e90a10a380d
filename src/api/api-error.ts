import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';

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

  /** A 400 naming the first offending field, e.g. `webhook.max_retries`. */
  static fromZod(error: z.ZodError): ApiError {
    const issue = error.issues[0]!;
    const param = issue.path.map(String).join('.') || null;
    const message = param ? `Invalid value for '${param}': ${issue.message}` : issue.message;
    return new ApiError(400, message, 'invalid_value', param);
  }
}
