import { createHash, timingSafeEqual } from 'node:crypto';
import { Hono } from 'hono';
import type { Registry } from 'prom-client';
import { ApiError } from '../api-error.js';

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * `GET /metrics` in Prometheus' text format, outside `/v1` and its API keys:
 * the figures are aggregates whose labels never carry an id, a URL or an
 * owner. With `token` (METRICS_TOKEN) a scrape must send it as a bearer token,
 * for an API reachable from where its volumes should not be read. The
 * worker's metrics server serves the same router.
 */
export function metricsRoutes({ registry, token }: { registry: Registry; token?: string | undefined }) {
  const expected = token === undefined ? undefined : digest(token);
  return new Hono().get('/metrics', async (c) => {
    if (expected) {
      const presented = /^Bearer\s+(.+)$/i.exec(c.req.header('authorization') ?? '')?.[1]?.trim();
      // Hashes have equal length, so the comparison is constant-time.
      if (presented === undefined || !timingSafeEqual(digest(presented), expected)) {
        c.header('www-authenticate', 'Bearer realm="metrics"');
        return c.json(new ApiError(401, 'Send the metrics token as `Authorization: Bearer <METRICS_TOKEN>`.', 'invalid_metrics_token').toBody(), 401);
      }
    }
    const text = await registry.metrics();
    return c.body(text, 200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
  });
}
