import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { ApiMetrics } from './api-metrics.js';
import { methodLabel } from './labels.js';

/** The route label of a request that no route answered (404, 405). */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * The pattern of the route that answered (`/v1/batches/:id`), never the raw
 * path, which carries ids. Middleware (`app.use`, method `ALL`) matches too,
 * so the last matched route with a real method is the handler's.
 */
export function routeLabel(c: Context): string {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) {
    const route = routes[i]!;
    if (route.method !== 'ALL') return route.path;
  }
  return UNMATCHED_ROUTE;
}

/**
 * Counts and times every request. Registered first, so it also sees the
 * answers of the auth middleware and of `onError`, which Hono turns into
 * responses before they reach it.
 */
export function httpMetrics(metrics: ApiMetrics): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      metrics.observeHttpRequest({
        method: methodLabel(c.req.method),
        route: routeLabel(c),
        status: c.res.status,
        seconds: (performance.now() - started) / 1000,
      });
    }
  };
}
