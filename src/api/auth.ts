import { createHash, timingSafeEqual } from 'node:crypto';
import { createMiddleware } from 'hono/factory';
import { ApiError } from './api-error.js';

export type AuthVariables = { owner: string };

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Bearer-key authentication: each key belongs to one owner, and every
 * resource is scoped to the owner that created it.
 */
export function bearerAuth(apiKeys: { owner: string; key: string }[]) {
  const known = apiKeys.map(({ owner, key }) => ({ owner, hash: digest(key) }));
  return createMiddleware<{ Variables: AuthVariables }>(async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match) throw new ApiError(401, 'Missing API key: send it as `Authorization: Bearer <key>`.', 'missing_api_key', null, 'invalid_request_error');
    const presented = digest(match[1]!.trim());
    // Hashes have equal length, so the comparison is constant-time per key.
    const found = known.find((k) => timingSafeEqual(k.hash, presented));
    if (!found) throw new ApiError(401, 'Incorrect API key provided.', 'invalid_api_key', null, 'invalid_request_error');
    c.set('owner', found.owner);
    await next();
  });
}
