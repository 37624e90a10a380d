import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ServiceDeps } from '../services/service-deps.js';
import { allowedMethodsOf } from './allowed-methods.js';
import { ServiceError } from '../services/service-error.js';
import { ApiError } from './api-error.js';
import { bearerAuth, type AuthVariables } from './auth.js';
import { isDatabaseUnavailable } from '../db/connection-errors.js';
import { httpMetrics } from '../metrics/http-metrics.js';
import { jsonBodyLimit, storableUrlText } from './request-guards.js';
import { batchesRoutes } from './routes/batches-routes.js';
import { consoleRoutes } from './routes/console-routes.js';
import { deadLetterRoutes } from './routes/dead-letter-routes.js';
import { filesRoutes } from './routes/files-routes.js';
import { healthRoutes } from './routes/health-routes.js';
import { metricsRoutes } from './routes/metrics-routes.js';
import { openApiRoutes } from './routes/openapi-routes.js';
import { webhookEndpointsRoutes } from './routes/webhook-endpoints-routes.js';

/** Seconds a client should wait before retrying a 503 (Postgres or Temporal unreachable, still starting). */
const RETRY_AFTER_SECONDS = 5;

/** The HTTP API. Tests call `app.request()` on it or serve it on a port. */
export function createApp(deps: ServiceDeps) {
  const app = new Hono<{ Variables: AuthVariables }>();
  if (deps.metrics) {
    // First, so that it times and counts every answer; /metrics sits outside /v1 and its API keys.
    app.use('*', httpMetrics(deps.metrics));
    app.route('/', metricsRoutes({ registry: deps.metrics.registry, token: deps.config.metrics.token }));
  }
  app.route('/', healthRoutes(deps));
  // The API's description and its docs page: public, outside /v1 and its API keys.
  app.route('/', openApiRoutes());
  app.route('/console', consoleRoutes(deps.config));
  app.use('/v1/*', bearerAuth(deps.config.apiKeys), storableUrlText, jsonBodyLimit);
  if (deps.startup) {
    const { schemaReady } = deps.startup;
    app.use('/v1/*', async (_c, next) => {
      if (!schemaReady()) {
        throw new ServiceError('unavailable', 'The service is starting: its database migrations are not applied yet (is Postgres up?); please retry.', 'starting_up');
      }
      await next();
    });
  }
  app.route('/v1/files', filesRoutes(deps));
  app.route('/v1/batches', batchesRoutes(deps));
  app.route('/v1/webhooks/dead-letter', deadLetterRoutes(deps));
  app.route('/v1/webhook_endpoints', webhookEndpointsRoutes(deps));

  const allowedMethods = allowedMethodsOf(app.routes);
  app.notFound((c) => {
    const allowed = allowedMethods(c.req.path);
    if (allowed.length > 0) {
      c.header('allow', allowed.join(', '));
      return c.json(new ApiError(405, `Method ${c.req.method} is not allowed on ${c.req.path}; use ${allowed.join(', ')}.`, 'method_not_allowed').toBody(), 405);
    }
    return c.json(new ApiError(404, `Unknown route: ${c.req.method} ${c.req.path}`, 'unknown_route').toBody(), 404);
  });
  app.onError((caught, c) => {
    const err = caught instanceof ServiceError ? ApiError.fromService(caught) : caught;
    if (err instanceof ApiError) {
      // OpenAI's clients retry 409s and some 4xx unless told not to; a client error will not change on retry.
      if (err.status < 500) c.header('x-should-retry', 'false');
      if (err.status === 503) c.header('retry-after', String(RETRY_AFTER_SECONDS));
      return c.json(err.toBody(), err.status);
    }
    if (err instanceof HTTPException && err.status < 500) {
      return c.json(new ApiError(err.status, err.message || 'Bad request.').toBody(), err.status);
    }
    if (isDatabaseUnavailable(err)) {
      deps.log.warn({ err: { message: err.message }, path: c.req.path }, 'database unavailable');
      c.header('retry-after', String(RETRY_AFTER_SECONDS));
      const error = new ApiError(503, 'The database is unavailable right now; please retry shortly.', 'database_unavailable');
      return c.json(error.toBody(), 503);
    }
    deps.log.error({ err: { message: err.message, stack: err.stack }, path: c.req.path }, 'unhandled API error');
    return c.json(new ApiError(500, 'The server had an error while processing your request.', 'internal_error').toBody(), 500);
  });
  return app;
}
