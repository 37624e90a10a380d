import type { Config } from '../config.js';
import { createUpstreamClient, type UpstreamClient, type UpstreamClientOptions } from './upstream-client.js';

/**
 * Several upstreams, chosen by a batch's model (`UPSTREAM_ROUTES`, with
 * `UPSTREAM_BASE_URL` as the default). Each route is its own client: its own
 * keep-alive pool, concurrency limit and retry budget, so a slow model never
 * takes another's slots.
 */

export interface UpstreamRoute {
  /** The pattern that chose it (`default` for the default upstream); fit for logs, never a URL or key. */
  name: string;
  client: UpstreamClient;
}

export interface UpstreamRouter {
  /** The route a model's requests go to, or undefined when no route serves it. */
  route(model: string | null): UpstreamRoute | undefined;
  close(): Promise<void>;
}

const DEFAULT_ROUTE = 'default';

function globRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\/]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.');
  return new RegExp(`^${body}$`);
}

const isGlob = (pattern: string) => /[*?]/.test(pattern);

/**
 * Index of the pattern serving `model`: a pattern equal to the model wins,
 * then the first glob (in the order written) that matches it; -1 for none.
 * A request without a model is matched as the empty string (only `*` takes it).
 */
export function findRoutePattern(patterns: readonly string[], model: string | null): number {
  const name = model ?? '';
  const exact = patterns.findIndex((p) => !isGlob(p) && p === name);
  if (exact >= 0) return exact;
  return patterns.findIndex((p) => isGlob(p) && globRegExp(p).test(name));
}

type ClientExtras = Pick<UpstreamClientOptions, 'logger' | 'observer'>;

/**
 * One client per route of `upstream.routes`, plus one for `defaultBaseUrl`
 * (the default route) when given. `close()` closes them all.
 */
export function createUpstreamRouter(upstream: Config['upstream'], defaultBaseUrl: string | undefined, extras: ClientExtras = {}): UpstreamRouter {
  const routes: UpstreamRoute[] = upstream.routes.map(({ pattern, ...options }) => ({
    name: pattern,
    client: createUpstreamClient({ ...options, ...extras }),
  }));
  const patterns = upstream.routes.map((r) => r.pattern);
  const fallback: UpstreamRoute | undefined =
    defaultBaseUrl === undefined ? undefined : { name: DEFAULT_ROUTE, client: createUpstreamClient({ ...upstream, baseUrl: defaultBaseUrl, ...extras }) };
  return {
    route(model) {
      const index = findRoutePattern(patterns, model);
      return index >= 0 ? routes[index] : fallback;
    },
    async close() {
      await Promise.all([...routes, ...(fallback ? [fallback] : [])].map((r) => r.client.close()));
    },
  };
}

/** A single client is a router whose one route takes every model (tests, tools). */
export function asUpstreamRouter(upstream: UpstreamRouter | UpstreamClient): UpstreamRouter {
  if ('route' in upstream) return upstream;
  const only: UpstreamRoute = { name: DEFAULT_ROUTE, client: upstream };
  return { route: () => only, close: () => upstream.close() };
}
