import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/** One file the docs page loads, served by the API itself: the page works offline and loads nothing from elsewhere. */
export interface DocsAsset {
  body: string | Uint8Array<ArrayBuffer>;
  contentType: string;
}

const require = createRequire(import.meta.url);
const SWAGGER_UI_DIR = path.dirname(require.resolve('swagger-ui-dist/package.json'));

const SWAGGER_UI_VERSION = (JSON.parse(readFileSync(path.join(SWAGGER_UI_DIR, 'package.json'), 'utf8')) as { version: string }).version;

// No online validator badge (it would call out to another site), and no requests sent until asked.
const INIT_SCRIPT = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
  tryItOutEnabled: false,
  persistAuthorization: false,
});
`;

/** Part of every asset URL and changes with any of them, so browsers may keep them for good. */
export const DOCS_ASSETS_VERSION = createHash('sha256').update(`${SWAGGER_UI_VERSION}\n${INIT_SCRIPT}`).digest('hex').slice(0, 12);

const SWAGGER_FILES: Record<string, string> = {
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui.css': 'text/css; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

const cache = new Map<string, DocsAsset>();

/** The named asset, read from node_modules once (the bundle is large: only when the page is first asked for). */
export function docsAsset(name: string): DocsAsset | undefined {
  const cached = cache.get(name);
  if (cached) return cached;
  let asset: DocsAsset | undefined;
  if (name === 'docs.js') asset = { body: INIT_SCRIPT, contentType: 'text/javascript; charset=utf-8' };
  else if (Object.hasOwn(SWAGGER_FILES, name)) asset = { body: new Uint8Array(readFileSync(path.join(SWAGGER_UI_DIR, name))), contentType: SWAGGER_FILES[name]! };
  if (asset) cache.set(name, asset);
  return asset;
}

/** The docs page: Swagger UI on /openapi.json, with every script and style from /docs/assets. */
export function renderDocsPage(): string {
  const asset = (name: string) => `/docs/assets/${name}?v=${DOCS_ASSETS_VERSION}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>API reference · Durable batch jobs with reliable webhooks</title>
<link rel="icon" type="image/png" href="${asset('favicon-32x32.png')}">
<link rel="stylesheet" href="${asset('swagger-ui.css')}">
</head>
<body>
<div id="swagger-ui"></div>
<script src="${asset('swagger-ui-bundle.js')}"></script>
<script src="${asset('docs.js')}"></script>
</body>
</html>
`;
}
