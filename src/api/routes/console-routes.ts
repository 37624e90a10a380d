import { Hono, type Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { Config } from '../../config.js';
import { WEBHOOK_EVENTS } from '../../workflows/contracts.js';
import { loadConsoleAssets } from '../console/console-assets.js';
import { renderConsoleShell, type ConsolePage } from '../console/console-shell.js';

/**
 * Only our own module and stylesheet may run or apply; data comes from our
 * own `/v1` API; no form may submit anywhere (the key form is handled in script,
 * so a key can never end up in a URL); no other site may frame the console.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const consoleHeaders = createMiddleware(async (c, next) => {
  await next();
  c.header('content-security-policy', CONTENT_SECURITY_POLICY);
  c.header('x-content-type-options', 'nosniff');
  c.header('referrer-policy', 'no-referrer');
  c.header('x-frame-options', 'DENY');
  c.header('cross-origin-opener-policy', 'same-origin');
});

/**
 * The web console under `/console`: public HTML shells and static assets. It
 * holds no data and no secret; the page asks the `/v1` API for everything with
 * the key the user enters, which stays in the tab's sessionStorage.
 */
export function consoleRoutes(config: Config) {
  const assets = loadConsoleAssets();
  const settings = {
    temporalUiUrl: config.temporal.uiUrl,
    temporalNamespace: config.temporal.namespace,
    webhookEvents: WEBHOOK_EVENTS.map((event) => `batch.${event}`),
    versions: { js: assets.get('console.js')!.version, css: assets.get('console.css')!.version },
  };
  const shell = (page: ConsolePage) => (c: Context) => {
    c.header('cache-control', 'no-cache');
    return c.html(renderConsoleShell(page, settings));
  };
  return new Hono()
    .use('*', consoleHeaders)
    .get('/', (c) => c.redirect('/console/batches'))
    .get('/key', shell('key'))
    .get('/batches', shell('batches'))
    .get('/batches/:id', shell('batch'))
    .get('/dead-letters', shell('dead-letters'))
    .get('/endpoints', shell('endpoints'))
    .get('/assets/:name', (c) => {
      const asset = assets.get(c.req.param('name'));
      if (!asset) return c.text('Not found', 404);
      // A URL carrying the current version never changes; any other is revalidated.
      const cache = c.req.query('v') === asset.version ? 'public, max-age=31536000, immutable' : 'no-cache';
      return c.body(asset.body, 200, { 'content-type': asset.contentType, 'cache-control': cache });
    });
}
