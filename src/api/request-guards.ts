import { createMiddleware } from 'hono/factory';
import { bodyLimit } from 'hono/body-limit';
import { ApiError } from './api-error.js';
import { isStorableText, UNSTORABLE_TEXT_MESSAGE } from '../shared/storable-text.js';

/** JSON bodies are small; only a multipart upload may be large (its file has its own limit). */
export const MAX_JSON_BODY_BYTES = 1024 * 1024;

/**
 * Checks every path segment and query parameter once, before any route runs:
 * text Postgres cannot store is refused here rather than failing a query.
 * A path that cannot name anything is a 404, like any unknown id.
 */
export const storableUrlText = createMiddleware(async (c, next) => {
  for (const segment of c.req.path.split('/')) {
    if (!isStorableText(decodeSegment(segment))) {
      throw new ApiError(404, 'No object found with an id that contains NUL characters or unpaired surrogates.', 'not_found', 'id');
    }
  }
  for (const [name, values] of Object.entries(c.req.queries())) {
    for (const value of [name, ...values]) {
      if (!isStorableText(value)) {
        const param = isStorableText(name) ? name : null;
        throw new ApiError(400, `Invalid query parameter${param ? ` '${param}'` : ''}: ${UNSTORABLE_TEXT_MESSAGE}.`, 'invalid_value', param);
      }
    }
  }
  await next();
});

// Hono decodes route params with decodeURIComponent, so check what the routes will see.
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * Caps every body but a multipart upload at MAX_JSON_BODY_BYTES, by its
 * Content-Length when given and while reading otherwise.
 */
export const jsonBodyLimit = createMiddleware(async (c, next) => {
  if (/^\s*multipart\/form-data\s*(;|$)/i.test(c.req.header('content-type') ?? '')) return next();
  return bodyLimit({
    maxSize: MAX_JSON_BODY_BYTES,
    onError: () => {
      throw new ApiError(413, `The request body exceeds the ${MAX_JSON_BODY_BYTES / 1024 / 1024} MiB limit.`, 'request_too_large');
    },
  })(c, next);
});
