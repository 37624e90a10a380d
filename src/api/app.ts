import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ServiceDeps } from '../services/service-deps.js';
import { ApiError } from './api-error.js';
import { bearerAuth, type AuthVariables } from './auth.js';
import { batchesRoutes } from './routes/batches-routes.js';
import { deadLetterRoutes } from './routes/dead-letter-routes.js';
import { filesRoutes } from './routes/files-routes.js';
import { healthRoutes } from './routes/health-routes.js';

/** The HTTP API. Tests call `app.request()` on it or serve it on a port. */
export function createApp(deps: ServiceDeps) {
  const app = new Hono<{ Variables: AuthVariables }>();
  app.route('/', healthRoutes(deps));
  app.use('/v1/*', bearerAuth(deps.config.apiKeys));
  app.route('/v1/files', filesRoutes(deps));
  app.route('/v1/batches', batchesRoutes(deps));
  app.route('/v1/webhooks/dead-letter', deadLetterRoutes(deps));

  app.notFound((c) => c.json(new ApiError(404, `Unknown route: ${c.req.method} ${c.req.path}`, 'unknown_route').toBody(), 404));
  app.onError((err, c) => {
    if (err instanceof ApiError) {
      // OpenAI's clients retry 409s and some 4xx unless told not to; a client error will not change on retry.
      if (err.status < 500) c.header('x-should-retry', 'false');
      return c.json(err.toBody(), err.status);
    }
    if (err instanceof HTTPException && err.status < 500) {
      return c.json(new ApiError(err.status, err.message || 'Bad request.').toBody(), err.status);
    }
    deps.log.error({ err: { message: err.message, stack: err.stack }, path: c.req.path }, 'unhandled API error');
    return c.json(new ApiError(500, 'The server had an error while processing your request.', 'internal_error').toBody(), 500);
  });
  return app;
}
