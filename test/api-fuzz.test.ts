import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/api/app.js';
import { createLogger } from '../src/shared/logger.js';
import { ALICE_KEY, chatLines, startHarness, type Harness } from './support/service-harness.js';

/**
 * Property-based fuzzing of every route: hostile path ids, query strings and
 * bodies must never get a 5xx, and every 4xx is OpenAI's error envelope.
 * The seed is fixed (override with FUZZ_SEED) so a failure can be replayed.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20_260_611);
const RUNS = Number(process.env.FUZZ_RUNS ?? 250);
process.stderr.write(`[api-fuzz] seed ${SEED}, ${RUNS} runs per route (FUZZ_SEED / FUZZ_RUNS to change)\n`);

// ---- hostile values -------------------------------------------------------

/** One UTF-16 unit or code point, biased towards what breaks storage and parsers. */
const hostileUnit = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.constantFrom('\u0000', '\ud800', '\udfff', '\ufeff', '\u202e', '\uffff', '%', '"', '\\', '/', '\r\n') },
  { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)) },
);

const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: hostileUnit, maxLength: 24 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 24 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '', ' ', '\u0000', 'a\u0000b', '\ud800', 'x\udc00y', '__proto__', 'constructor', 'prototype', 'null', 'NaN',
      '-1', '0', '1.5', '1e400', '9'.repeat(40), '%00', '%ff', '%', "'; DROP TABLE files; --", '🚀', 'é\u0301',
      'batch', 'file-x', 'batch_x', 'completed', 'batch.completed', '/v1/chat/completions', '24h',
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom('x'.repeat(70_000), '\u0000'.repeat(300), '🚀'.repeat(20_000)) },
);

/** JSON of any type, including numbers JSON cannot hold exactly and strings Postgres cannot store. */
const hostileJson: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    hostileString,
    fc.integer(),
    fc.constantFrom(0, -0, -1, 1e15, 1e300, -1e300, 2 ** 53 + 1, 8_640_000_000_001, 0.5, Number.MAX_SAFE_INTEGER),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    tie('object'),
  ),
  object: fc.array(fc.tuple(hostileString, tie('value')), { maxLength: 4 }).map((entries) => new JsonObject(entries)),
})).value;

/** An object as key/value pairs, so `__proto__` and repeated keys survive into the JSON text. */
class JsonObject {
  constructor(readonly entries: [string, unknown][]) {}
}

function toJsonText(value: unknown): string {
  if (value instanceof JsonObject) return `{${value.entries.map(([k, v]) => `${JSON.stringify(k)}:${toJsonText(v)}`).join(',')}}`;
  if (Array.isArray(value)) return `[${value.map(toJsonText).join(',')}]`;
  return JSON.stringify(value) ?? 'null';
}

/** Percent-encodes any string, lone surrogates included (as the bytes U+FFFD would have, or raw junk). */
function percentEncode(value: string): string {
  return Array.from(value, (ch) => {
    try {
      return encodeURIComponent(ch);
    } catch {
      return '%ED%A0%80';
    }
  }).join('');
}

const pathSegment = fc.oneof(
  { weight: 4, arbitrary: hostileString.map(percentEncode) },
  { weight: 1, arbitrary: fc.constantFrom('%00', 'a%00', '%ff', '%', '%E0%A4%A', '%ED%A0%80', '%2F', '%252F', '..', '.', '%20') },
);

const queryValue = fc.oneof(hostileString.map(percentEncode), fc.constantFrom('%00', '%ff', '%', '1', '100', '0', '-5', 'desc'));

function queryString(names: string[]) {
  const known = fc.tuple(fc.constantFrom(...names), queryValue);
  const unknown = fc.tuple(hostileString.map(percentEncode), queryValue);
  return fc
    .array(fc.oneof({ weight: 4, arbitrary: known }, { weight: 1, arbitrary: unknown }), { maxLength: 4 })
    .map((pairs) => (pairs.length ? `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}` : ''));
}

const contentType = fc.constantFrom(
  'application/json', 'APPLICATION/JSON; charset=UTF-8', 'text/plain', '', 'application/x-www-form-urlencoded',
  'multipart/form-data', 'multipart/form-data; boundary=', 'Multipart/Form-Data; boundary=B', 'application/json; charset=utf-16',
);

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'] as const;

// ---- the checks -------------------------------------------------------------

let h: Harness;
let inputFileId: string;
let someFileId: string;
let someBatchId: string;
let someEndpointId: string;

beforeAll(async () => {
  // Private webhook URLs are refused, so no generated batch delivers webhooks anywhere.
  h = await startHarness({ WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'false' });
  inputFileId = await h.upload(chatLines(1));
  someFileId = await h.upload(chatLines(1));
  const res = await h.api('/v1/batches', { method: 'POST', json: { input_file_id: inputFileId, endpoint: '/v1/chat/completions', completion_window: '24h' } });
  someBatchId = ((await res.json()) as { id: string }).id;
  // The endpoint's URL is private, which this harness refuses: register it through an app that allows it.
  const lenient = createApp({ pool: h.pool, temporal: h.env.client, config: { ...h.config, webhook: { ...h.config.webhook, allowPrivateNetworks: true } }, log: createLogger('silent', 'fuzz') });
  const created = await lenient.request('/v1/webhook_endpoints', {
    method: 'POST',
    headers: { authorization: `Bearer ${ALICE_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url: 'http://127.0.0.1:9/hook', enabled: false }),
  });
  someEndpointId = ((await created.json()) as { id: string }).id;
});
const statuses = new Map<number, number>();
afterAll(async () => {
  // The spread of answers shows the generators reach past validation, not just the first check.
  process.stderr.write(`[api-fuzz] statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}\n`);
  await h?.close();
});

interface Call {
  method: string;
  path: string;
  body?: RequestInit['body'];
  headers?: Record<string, string>;
}

/** Calls the API and fails (with the call in the message) on a 5xx or a malformed 4xx. */
async function check(call: Call): Promise<void> {
  const where = `${call.method} ${call.path.slice(0, 300)}`;
  let res: Response;
  try {
    res = await h.api(call.path, { method: call.method, body: call.body, headers: call.headers });
  } catch (err) {
    // A request this client cannot even send (say a header with a line break) says nothing about the server.
    if (err instanceof TypeError && /header|ByteString|Request|URL/i.test(err.message)) return;
    throw err;
  }
  const text = await res.text();
  statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
  expect(res.status, `${where} → ${res.status} ${text.slice(0, 300)}`).toBeLessThan(500);
  if (res.status >= 400 && call.method !== 'HEAD') {
    expect(res.headers.get('content-type'), where).toMatch(/^application\/json/);
    const body = JSON.parse(text);
    expect(Object.keys(body), where).toEqual(['error']);
    expect(Object.keys(body.error).sort(), where).toEqual(['code', 'message', 'param', 'type']);
    expect(typeof body.error.message === 'string' && body.error.message.length > 0, where).toBe(true);
    expect(body.error.type, where).toBe('invalid_request_error');
  }
}

const run = (prop: fc.IAsyncPropertyWithHooks<any>) => fc.assert(prop, { seed: SEED, numRuns: RUNS });

// ---- routes -----------------------------------------------------------------

const idOr = (real: () => string) => fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 4, arbitrary: pathSegment }).map((seg) => seg ?? real());

const idRoutes: [string, string, () => string, string[]][] = [
  ['GET', '/v1/files/{id}', () => someFileId, []],
  ['GET', '/v1/files/{id}/content', () => someFileId, []],
  ['DELETE', '/v1/files/{id}', () => 'file-never', []],
  ['GET', '/v1/batches/{id}', () => someBatchId, []],
  ['POST', '/v1/batches/{id}/cancel', () => someBatchId, []],
  ['PATCH', '/v1/batches/{id}/webhook', () => someBatchId, []],
  ['POST', '/v1/batches/{id}/webhook/rotate_secret', () => someBatchId, []],
  ['GET', '/v1/batches/{id}/webhook_deliveries', () => someBatchId, ['limit', 'after']],
  ['GET', '/v1/webhooks/dead-letter/{id}', () => '1', []],
  ['POST', '/v1/webhooks/dead-letter/{id}/retry', () => '1', []],
  ['DELETE', '/v1/webhooks/dead-letter/{id}', () => '1', []],
  ['GET', '/v1/webhook_endpoints/{id}', () => someEndpointId, []],
  ['PATCH', '/v1/webhook_endpoints/{id}', () => someEndpointId, []],
  ['DELETE', '/v1/webhook_endpoints/{id}', () => 'we_never', []],
  ['POST', '/v1/webhook_endpoints/{id}/rotate_secret', () => someEndpointId, []],
  ['POST', '/v1/webhook_endpoints/{id}/test', () => someEndpointId, []],
];

const listRoutes: [string, string[]][] = [
  ['/v1/files', ['limit', 'after', 'purpose', 'order']],
  ['/v1/batches', ['limit', 'after']],
  ['/v1/webhooks/dead-letter', ['limit', 'after', 'batch_id', 'event_type', 'state', 'endpoint_id']],
  ['/v1/webhook_endpoints', ['limit', 'after']],
];

describe('fuzzing every route', () => {
  for (const [method, template, real, queryNames] of idRoutes) {
    it(`${method} ${template} with hostile ids${queryNames.length ? ' and query' : ''}`, async () => {
      await run(
        fc.asyncProperty(idOr(real), queryString(queryNames.length ? queryNames : ['x']), async (id, query) => {
          await check({ method, path: template.replace('{id}', id) + query });
        }),
      );
    });
  }

  for (const [path, names] of listRoutes) {
    it(`GET ${path} with hostile query strings`, async () => {
      await run(fc.asyncProperty(queryString(names), async (query) => check({ method: 'GET', path: path + query })));
    });
  }

  it('POST /v1/batches with a valid body broken in one place', async () => {
    const field = fc.constantFrom(
      'input_file_id', 'endpoint', 'completion_window', 'metadata', 'metadata.key', 'metadata.value', 'webhook',
      'webhook.url', 'webhook.secret', 'webhook.max_retries', 'webhook.timeout', 'webhook.events', 'webhook.events.0', 'extra',
    );
    await run(
      fc.asyncProperty(field, hostileJson, hostileString, fc.boolean(), async (where, value, text, idempotent) => {
        const metadata: [string, unknown][] = [['note', 'ok']];
        const webhook: [string, unknown][] = [['url', 'http://127.0.0.1:9/hook'], ['events', ['completed']]];
        const body: [string, unknown][] = [
          ['input_file_id', inputFileId],
          ['endpoint', '/v1/chat/completions'],
          ['completion_window', '24h'],
        ];
        const [top, sub] = where.split('.');
        if (top === 'metadata') {
          if (sub === 'key') metadata.push([text, 'v']);
          else if (sub === 'value') metadata.push(['k', value]);
          body.push(['metadata', sub ? new JsonObject(metadata) : value]);
        } else if (top === 'webhook') {
          if (sub === 'events') webhook[1] = ['events', where.endsWith('.0') ? [value] : value];
          else if (sub) webhook.push([sub, value]);
          body.push(['webhook', sub ? new JsonObject(webhook) : value]);
        } else if (top === 'extra') {
          body.push([text, value]);
        } else {
          body[body.findIndex(([k]) => k === top)] = [top!, value];
        }
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (idempotent) headers['idempotency-key'] = text;
        await check({ method: 'POST', path: '/v1/batches', body: toJsonText(new JsonObject(body)), headers });
      }),
    );
  });

  it('POST /v1/batches and the bulk retry with any body and content type', async () => {
    const path = fc.constantFrom('/v1/batches', '/v1/webhooks/dead-letter/retry', '/v1/batches/batch_x/webhook/rotate_secret', '/v1/webhook_endpoints', '/v1/webhook_endpoints/we_x/rotate_secret');
    const body = fc.oneof(hostileJson.map(toJsonText), hostileString, fc.constant(''));
    await run(
      fc.asyncProperty(path, body, contentType, async (p, b, type) => {
        await check({ method: 'POST', path: p, body: b, headers: type ? { 'content-type': type } : {} });
      }),
    );
  });

  it('PATCH /v1/batches/{id}/webhook with hostile fields, bodies and content types', async () => {
    const field = fc.constantFrom('url', 'secret', 'max_retries', 'timeout', 'events', 'other');
    const body = fc.oneof(
      fc.array(fc.tuple(field, hostileJson), { maxLength: 3 }).map((entries) => toJsonText(new JsonObject(entries))),
      hostileJson.map(toJsonText),
      hostileString,
      fc.constant(''),
    );
    await run(
      fc.asyncProperty(body, contentType, async (b, type) => {
        await check({ method: 'PATCH', path: `/v1/batches/${someBatchId}/webhook`, body: b, headers: type ? { 'content-type': type } : {} });
      }),
    );
  });

  it('POST and PATCH /v1/webhook_endpoints with hostile fields', async () => {
    const field = fc.constantFrom('url', 'secret', 'events', 'description', 'enabled', 'max_retries', 'timeout', 'other');
    const body = fc.array(fc.tuple(field, hostileJson), { maxLength: 3 }).map((entries) => toJsonText(new JsonObject(entries)));
    const target = fc.constantFrom('/v1/webhook_endpoints', 'PATCH');
    await run(
      fc.asyncProperty(target, body, async (where, b) => {
        const [method, path] = where === 'PATCH' ? ['PATCH', `/v1/webhook_endpoints/${someEndpointId}`] : ['POST', where];
        await check({ method, path, body: b, headers: { 'content-type': 'application/json' } });
      }),
    );
  });

  it('POST /v1/webhooks/dead-letter/retry with hostile filters', async () => {
    const key = fc.constantFrom('batch_id', 'event_type', 'created_since', 'endpoint_id', 'other');
    await run(
      fc.asyncProperty(fc.array(fc.tuple(key, hostileJson), { maxLength: 3 }), async (entries) => {
        const body = toJsonText(new JsonObject(entries));
        await check({ method: 'POST', path: '/v1/webhooks/dead-letter/retry', body, headers: { 'content-type': 'application/json' } });
      }),
    );
  });

  it('POST /v1/files with hostile multipart bodies', async () => {
    const part = fc.record({
      name: fc.constantFrom('purpose', 'file', 'other', '', 'FILE'),
      filename: fc.option(fc.oneof(hostileString, fc.constant("utf-8''a%00b")), { nil: undefined }),
      value: fc.oneof(hostileString, fc.constant(chatLines(1))),
    });
    const upload = fc.record({
      parts: fc.array(part, { maxLength: 4 }),
      boundary: fc.constantFrom('B', 'b', 'x'.repeat(80)),
      closing: fc.constantFrom('--B--\r\n', '', '--B', '--b--\r\n', '--B--garbage'),
      type: fc.constantFrom('multipart/form-data; boundary=B', 'MULTIPART/form-data; boundary=B', 'multipart/form-data; boundary="B"', 'multipart/form-data', 'multipart/mixed; boundary=B'),
    });
    await run(
      fc.asyncProperty(upload, async ({ parts, closing, type }) => {
        const text =
          parts
            .map(({ name, filename, value }) => {
              const file = filename === undefined ? '' : filename.startsWith("utf-8''") ? `; filename*=${filename}` : `; filename="${filename}"`;
              return `--B\r\nContent-Disposition: form-data; name="${name}"${file}\r\n\r\n${value}\r\n`;
            })
            .join('') + closing;
        await check({ method: 'POST', path: '/v1/files', body: new TextEncoder().encode(text), headers: { 'content-type': type } });
      }),
    );
  });

  it('any method on any known path', async () => {
    const path = fc.constantFrom('/v1/files', '/v1/files/file-x', '/v1/files/file-x/content', '/v1/batches', '/v1/batches/batch_x', '/v1/batches/batch_x/cancel', '/v1/batches/batch_x/webhook', '/v1/batches/batch_x/webhook/rotate_secret', '/v1/webhooks/dead-letter', '/v1/webhooks/dead-letter/retry', '/v1/webhooks/dead-letter/1', '/v1/webhook_endpoints', '/v1/webhook_endpoints/we_x', '/v1/webhook_endpoints/we_x/rotate_secret', '/v1/webhook_endpoints/we_x/test', '/v1/nowhere');
    await run(fc.asyncProperty(fc.constantFrom(...METHODS), path, async (method, p) => check({ method, path: p })));
  });

  it('stays healthy afterwards', async () => {
    expect((await h.app.request('/health')).status).toBe(200);
    expect((await h.app.request('/ready')).status).toBe(200);
    expect((await h.api('/v1/files?limit=1')).status).toBe(200);
  });
});
