import { Hono } from 'hono';
import { createMiddleware } from 'hono/factory';
import { ApiError } from '../api-error.js';
import { docsAsset, renderDocsPage, DOCS_ASSETS_VERSION } from '../openapi/docs-assets.js';
import { openApiDocument } from '../openapi/openapi-document.js';

/**
 * Scripts and stylesheets only from this API (Swagger UI's bundle and our
 * init script, nothing inline); Swagger UI sets inline style attributes and
 * draws icons from data: URLs; "try it out" calls this API only.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const docsHeaders = createMiddleware(async (c, next) => {
  await next();
  c.header('content-security-policy', CONTENT_SECURITY_POLICY);
  c.header('x-content-type-options', 'nosniff');
  c.header('referrer-policy', 'no-referrer');
  c.header('x-frame-options', 'DENY');
});

/**
 * `GET /openapi.json` (the OpenAPI 3.1 description, built from the routes'
 * zod schemas) and `GET /docs` (Swagger UI on it). Public: neither holds a
 * secret, and the page sends the key only where the user enters it.
 */
export function openApiRoutes() {
  return new Hono()
    .get('/openapi.json', (c) => {
      c.header('cache-control', 'no-cache');
      return c.json(openApiDocument());
    })
    .use('/docs', docsHeaders)
    .use('/docs/*', docsHeaders)
    .get('/docs', (c) => {
      c.header('cache-control', 'no-cache');
      return c.html(renderDocsPage());
    })
    .get('/docs/assets/:name', (c) => {
      const asset = docsAsset(c.req.param('name'));
      if (!asset) return c.json(new ApiError(404, `No docs asset named '${c.req.param('name')}'.`, 'not_found').toBody(), 404);
      const cache = c.req.query('v') === DOCS_ASSETS_VERSION ? 'public, max-age=31536000, immutable' : 'no-cache';
      return c.body(asset.body, 200, { 'content-type': asset.contentType, 'cache-control': cache });
    });
}
