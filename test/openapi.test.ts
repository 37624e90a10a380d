import type { Client } from '@temporalio/client';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApp } from '../src/api/app.js';
import { buildOpenApiDocument } from '../src/api/openapi/openapi-document.js';
import { parseConfig } from '../src/config.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { createApiMetrics } from '../src/metrics/api-metrics.js';
import { createLogger } from '../src/shared/logger.js';

type Document = ReturnType<typeof buildOpenApiDocument>;
type Operation = { security?: Record<string, string[]>[]; responses: Record<string, unknown>; parameters?: { in: string; name: string }[] };

const log = createLogger('silent', 'test');
const doc: Document = buildOpenApiDocument();

/** Pages for people, not API routes: the console and this docs page. */
const PAGES = /^\/(console|docs)(\/|$)/;

/** `/v1/batches/:id` as OpenAPI writes it: `/v1/batches/{id}`. */
const toTemplate = (honoPath: string) => honoPath.replace(/:(\w+)/g, '{$1}');

const operations = () =>
  Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
    Object.entries(item as Record<string, Operation>).map(([method, op]) => ({ method: method.toUpperCase(), path, op })),
  );

let pool: Pool;
let app: ReturnType<typeof createApp>;
beforeAll(() => {
  pool = createPool(inject('databaseUrl'), 2);
  const config = parseConfig({ API_KEYS: 'openapi:sk-openapi-test-key', LOG_LEVEL: 'silent' });
  // With metrics, so that /metrics is served too; no route used here reaches Temporal.
  app = createApp({ pool, temporal: {} as Client, config, log, metrics: createApiMetrics({ pool, log }) });
});
afterAll(async () => {
  await pool?.end();
});

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    // As served: JSON, not the objects that built it.
    const result = await new Validator().validate(JSON.parse(JSON.stringify(doc)));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.openapi).toBe('3.1.0');
  });

  it('describes exactly the routes the app serves', () => {
    const served = app.routes
      .filter((route) => route.method !== 'ALL' && !PAGES.test(route.path))
      .map((route) => `${route.method} ${toTemplate(route.path)}`);
    const documented = operations().map(({ method, path }) => `${method} ${path}`);
    expect(served.filter((route) => !documented.includes(route)), 'served but not documented').toEqual([]);
    expect(documented.filter((route) => !served.includes(route)), 'documented but not served').toEqual([]);
    expect(new Set(documented).size).toBe(documented.length);
  });

  it('asks for the bearer key on every /v1 route and on no other', () => {
    expect(doc.components?.securitySchemes?.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    for (const { method, path, op } of operations()) {
      const where = `${method} ${path}`;
      if (path.startsWith('/v1/')) {
        expect(op.security, where).toEqual([{ bearerAuth: [] }]);
        expect(Object.keys(op.responses), where).toEqual(expect.arrayContaining(['400', '401', '500', '503']));
        if (path.includes('{')) expect(Object.keys(op.responses), where).toContain('404');
      } else {
        expect(op.security, where).toEqual([]);
      }
    }
  });

  it('documents every error with the error shape, and each path parameter', () => {
    for (const { method, path, op } of operations()) {
      for (const [status, response] of Object.entries(op.responses)) {
        if (Number(status) >= 400 && path !== '/ready') {
          expect(response, `${method} ${path} ${status}`).toMatchObject({ content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } });
        }
      }
      for (const [, name] of path.matchAll(/\{(\w+)\}/g)) {
        expect(op.parameters, `${method} ${path}`).toContainEqual(expect.objectContaining({ in: 'path', name, required: true }));
      }
    }
  });

  it('takes its request schemas from the routes: what a route refuses, the document refuses too', () => {
    const createBatch = (doc.paths?.['/v1/batches'] as Record<string, { requestBody: { content: Record<string, { schema: Record<string, unknown> }> } }>).post!;
    const schema = createBatch.requestBody.content['application/json']!.schema as { required: string[]; properties: Record<string, unknown> };
    expect(schema.required).toEqual(expect.arrayContaining(['input_file_id', 'endpoint', 'completion_window']));
    expect(schema.properties.completion_window).toMatchObject({ const: '24h' });
    // metadata is checked for a `__proto__` key before its record schema: the document shows the record.
    expect(JSON.stringify(schema.properties.metadata)).toContain('"maxLength":512');
  });
});

describe('serving the document and the docs page', () => {
  it('serves /openapi.json without an API key', async () => {
    const res = await app.request('/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual(JSON.parse(JSON.stringify(doc)));
  });

  it('serves /docs from its own assets under a Content-Security-Policy, with no script from elsewhere', async () => {
    const res = await app.request('/docs');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    const html = await res.text();
    // No inline script: every <script> has a src, and every src is this API's.
    const scripts = [...html.matchAll(/<script([^>]*)>/g)].map((m) => m[1]!);
    expect(scripts.length).toBeGreaterThan(0);
    for (const attrs of scripts) expect(attrs).toMatch(/src="\/docs\/assets\//);
    const urls = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    for (const url of urls) {
      expect(url).toMatch(/^\/docs\/assets\//);
      const asset = await app.request(url);
      expect(asset.status, url).toBe(200);
      expect(asset.headers.get('content-type'), url).toMatch(url.includes('.css') ? /^text\/css/ : url.includes('.png') ? /^image\/png/ : /^text\/javascript/);
      expect(asset.headers.get('cache-control'), url).toContain('immutable');
      expect((await asset.arrayBuffer()).byteLength, url).toBeGreaterThan(10);
    }
  });

  it('answers an unknown asset with a 404, and a wrong method with a 405', async () => {
    const missing = await app.request('/docs/assets/nothing.js');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'not_found' } });
    const wrong = await app.request('/openapi.json', { method: 'POST' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, HEAD');
  });
});
