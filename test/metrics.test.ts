import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/api/app.js';
import { parseConfig } from '../src/config.js';
import { createApiMetrics } from '../src/metrics/api-metrics.js';
import { createModelLabeler, MODEL_LABEL_LIMIT } from '../src/metrics/labels.js';
import { createWorkerMetrics } from '../src/metrics/worker-metrics.js';
import { createLogger } from '../src/shared/logger.js';
import { createUpstreamClient, type UpstreamClient } from '../src/upstream/upstream-client.js';
import { createWebhookDispatcher } from '../src/webhooks/url-guard.js';
import { createBatchWorker } from '../src/worker/create-worker.js';
import { startWorkerMetrics } from '../src/worker/worker-metrics-server.js';
import { bodyOf, type DeadLetterEntry } from './support/api-client.js';
import { batchOutcome, createBatch, deadLetterIdOf, deliveryResult } from './support/batches.js';
import { ALICE_KEY, chatLines, startHarness, type Harness } from './support/service-harness.js';
import { startWebhookReceiver } from './support/webhook-receiver.js';

const METRICS_TOKEN = 'scrape-token-0123456789';
const log = createLogger('silent', 'test');

// ---- Prometheus text format ---------------------------------------------------

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the text exposition format: one sample per line, `# …` lines skipped. */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, raw] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key!] = raw!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The sum of the samples of `name` whose labels include `labels`; 0 when there is none. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

const labelValues = (samples: Sample[]) => samples.flatMap((s) => Object.values(s.labels));

/**
 * Scrapes a gauge counted in Postgres and checks it against the same count
 * read just before and just after: other test files share the database, so
 * the figure may move in between, but never outside what was there.
 */
async function expectGaugeMatchesDatabase(scrape: () => Promise<{ samples: Sample[] }>, gauge: string, labels: Record<string, string>, sql: string) {
  const count = async () => (await h.pool.query<{ n: number }>(sql)).rows[0]!.n;
  const before = await count();
  const value = valueOf((await scrape()).samples, gauge, labels);
  const after = await count();
  expect(value).toBeGreaterThanOrEqual(Math.min(before, after));
  expect(value).toBeLessThanOrEqual(Math.max(before, after));
  return value;
}

// ---- the service, with metrics ------------------------------------------------

let h: Harness;
/** The harness, but calling an API built with metrics, as `npm run api` builds it. */
let story: Harness;
let worker: Worker;
let running: Promise<void>;
let upstream: UpstreamClient;
let dispatcher: ReturnType<typeof createWebhookDispatcher>;
let workerMetrics: NonNullable<Awaited<ReturnType<typeof startWorkerMetrics>>>;

beforeAll(async () => {
  h = await startHarness({ METRICS_TOKEN });
  // This file's worker records metrics; the harness's own one does not.
  await h.stopWorker();
  workerMetrics = (await startWorkerMetrics({ host: '127.0.0.1', port: 0, token: METRICS_TOKEN }))!;
  const metrics = workerMetrics.metrics;
  upstream = createUpstreamClient({ ...h.config.upstream, baseUrl: h.echo.url, observer: metrics.upstream });
  dispatcher = createWebhookDispatcher({ allowPrivateNetworks: true });
  worker = await createBatchWorker({
    connection: h.env.nativeConnection,
    namespace: 'default',
    taskQueue: h.config.temporal.taskQueue,
    deps: { pool: h.pool, upstream, webhookDispatcher: dispatcher, config: h.config, log, metrics },
    shutdownGraceTime: '1s',
    maxCachedWorkflows: 0,
  });
  running = worker.run();

  const app = createApp({ pool: h.pool, temporal: h.env.client, config: h.config, log, metrics: createApiMetrics({ pool: h.pool, log }) });
  const api: Harness['api'] = async (path, init = {}) => {
    const { json, key, ...rest } = init;
    const headers = new Headers(rest.headers);
    headers.set('authorization', `Bearer ${key ?? ALICE_KEY}`);
    if (json !== undefined) headers.set('content-type', 'application/json');
    return app.request(path, { ...rest, headers, body: json !== undefined ? JSON.stringify(json) : rest.body });
  };
  const upload: Harness['upload'] = async (jsonl, key) => {
    const form = new FormData();
    form.set('purpose', 'batch');
    form.set('file', new Blob([jsonl]), 'input.jsonl');
    return bodyOf<{ id: string }>(await api('/v1/files', { method: 'POST', body: form, key })).then((file) => file.id);
  };
  story = { ...h, app, api, upload };
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  await upstream?.close();
  await dispatcher?.close();
  await workerMetrics?.stop();
  await h?.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Scrapes the API's /metrics as Prometheus would; returns the text too, to search it for ids. */
async function scrapeApi() {
  const res = await story.app.request('/metrics', { headers: bearer(METRICS_TOKEN) });
  expect(res.status).toBe(200);
  const text = await res.text();
  return { text, samples: parseExposition(text) };
}

/** Scrapes the worker's /metrics over HTTP on its own port. */
async function scrapeWorker() {
  const res = await fetch(`http://127.0.0.1:${workerMetrics.port}/metrics`, { headers: bearer(METRICS_TOKEN) });
  expect(res.status).toBe(200);
  const text = await res.text();
  return { text, samples: parseExposition(text) };
}

// ---- the stories --------------------------------------------------------------

describe('Prometheus metrics', () => {
  it('a batch with a webhook shows up in the API’s and the worker’s metrics, with route patterns and no ids', async () => {
    const receiver = await startWebhookReceiver(() => ({ status: 204 }));
    const before = await scrapeApi();
    const beforeWorker = await scrapeWorker();

    const batch = await createBatch(story, chatLines(3), { webhook: { url: receiver.url } });
    expect(await batchOutcome(story, batch.id)).toBe('completed');
    expect(await deliveryResult(story, batch.id, 'completed')).toMatchObject({ status: 'delivered' });
    expect((await story.api(`/v1/batches/${batch.id}`)).status).toBe(200);
    expect((await story.api('/v1/batches/batch_doesnotexist0000000000000')).status).toBe(404);
    expect((await story.api(`/v1/no_such_route/${batch.input_file_id}`)).status).toBe(404);

    const w = await scrapeWorker();
    const grew = (name: string, labels: Record<string, string>) => valueOf(w.samples, name, labels) - valueOf(beforeWorker.samples, name, labels);
    const chat = { endpoint: '/v1/chat/completions' };
    expect(grew('batch_service_requests_total', { ...chat, model: 'echo', outcome: 'completed' })).toBe(3);
    expect(grew('batch_service_requests_total', { outcome: 'failed' })).toBe(0);
    expect(grew('batch_service_upstream_attempt_duration_seconds_count', { ...chat, outcome: 'success' })).toBe(3);
    expect(grew('batch_service_upstream_retries_total', {})).toBe(0);
    expect(grew('batch_service_webhook_attempts_total', { outcome: 'delivered', target: 'batch_webhook' })).toBe(1);
    expect(grew('batch_service_webhook_attempt_duration_seconds_count', { outcome: 'delivered' })).toBe(1);
    expect(grew('batch_service_webhook_event_to_delivery_seconds_count', { target: 'batch_webhook' })).toBe(1);
    const latency = grew('batch_service_webhook_event_to_delivery_seconds_sum', { target: 'batch_webhook' });
    expect(latency).toBeGreaterThan(0);
    expect(latency).toBeLessThan(60);
    expect(valueOf(w.samples, 'process_resident_memory_bytes')).toBeGreaterThan(0);

    // The gauges count every owner's batches in the shared database: this one is among the completed.
    const completed = await expectGaugeMatchesDatabase(scrapeApi, 'batch_service_batches', { status: 'completed' }, `SELECT count(*)::int AS n FROM batches WHERE status = 'completed'`);
    expect(completed).toBeGreaterThanOrEqual(valueOf(before.samples, 'batch_service_batches', { status: 'completed' }) + 1);
    const a = await scrapeApi();
    for (const status of ['validating', 'in_progress', 'finalizing', 'failed', 'expired', 'cancelling', 'cancelled']) {
      expect(a.samples.some((s) => s.name === 'batch_service_batches' && s.labels.status === status)).toBe(true);
    }
    const http = (method: string, route: string, status: string) =>
      valueOf(a.samples, 'batch_service_http_requests_total', { method, route, status }) -
      valueOf(before.samples, 'batch_service_http_requests_total', { method, route, status });
    expect(http('POST', '/v1/files', '200')).toBe(1);
    expect(http('POST', '/v1/batches', '200')).toBe(1);
    expect(http('GET', '/v1/batches/:id', '200')).toBe(1);
    expect(http('GET', '/v1/batches/:id', '404')).toBe(1);
    expect(http('GET', 'unmatched', '404')).toBe(1);
    expect(valueOf(a.samples, 'batch_service_http_request_duration_seconds_count', { method: 'POST', route: '/v1/batches' })).toBeGreaterThanOrEqual(1);

    // No label carries an id, a URL or an owner: not this batch's, not anyone's.
    for (const { text, samples } of [a, w]) {
      for (const value of labelValues(samples)) {
        expect(value).not.toMatch(/(batch|batch_req|bulk|evt|file|we)[_-][A-Za-z0-9]{16,}/);
        expect(value).not.toContain('http://');
        expect(value).not.toMatch(/^(alice|bob)-/);
      }
      for (const secret of [batch.id, batch.input_file_id, receiver.url, h.config.apiKeys[0]!.owner]) expect(text).not.toContain(secret);
    }
    await receiver.close();
  });

  it('a dead-lettered delivery counts as created and pending, and its retry as delivered', async () => {
    const state = { down: true };
    const receiver = await startWebhookReceiver(() => ({ status: state.down ? 500 : 204 }));
    const beforeWorker = await scrapeWorker();

    const batch = await createBatch(story, chatLines(1), { webhook: { url: receiver.url, max_retries: 2 } });
    await batchOutcome(story, batch.id);
    const id = deadLetterIdOf(await deliveryResult(story, batch.id, 'completed'));

    let w = await scrapeWorker();
    const grew = (name: string, labels: Record<string, string>) => valueOf(w.samples, name, labels) - valueOf(beforeWorker.samples, name, labels);
    expect(grew('batch_service_webhook_attempts_total', { outcome: 'failed', target: 'batch_webhook' })).toBe(2);
    expect(grew('batch_service_dead_letter_created_total', { target: 'batch_webhook' })).toBe(1);
    // This entry stays pending until retried: nobody else can retry this owner's entries.
    const pending = await expectGaugeMatchesDatabase(scrapeApi, 'batch_service_dead_letter_entries', { state: 'pending' }, `SELECT count(*)::int AS n FROM webhook_dead_letter WHERE state = 'pending'`);
    expect(pending).toBeGreaterThanOrEqual(1);

    state.down = false;
    const res = await story.api(`/v1/webhooks/dead-letter/${id}/retry`, { method: 'POST' });
    expect(res.status).toBe(202);
    const entry = await bodyOf<DeadLetterEntry>(res);
    await h.env.client.workflow.getHandle(entry.delivery_workflow_id!).result();

    w = await scrapeWorker();
    expect(grew('batch_service_dead_letter_retries_total', { outcome: 'delivered' })).toBe(1);
    expect(grew('batch_service_dead_letter_retries_total', { outcome: 'failed' })).toBe(0);
    expect(grew('batch_service_webhook_attempts_total', { outcome: 'delivered', target: 'batch_webhook' })).toBe(1);
    const a = await scrapeApi();
    expect(valueOf(a.samples, 'batch_service_http_requests_total', { method: 'POST', route: '/v1/webhooks/dead-letter/:id/retry', status: '202' })).toBe(1);
    await receiver.close();
  });

  it('asks for METRICS_TOKEN when it is set, on the API and on the worker, and never for an API key', async () => {
    const noToken = await story.app.request('/metrics');
    expect(noToken.status).toBe(401);
    expect(noToken.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
    expect((await story.app.request('/metrics', { headers: bearer('scrape-token-wrong-0000') })).status).toBe(401);
    // An API key opens /v1, not /metrics; and the metrics token opens /metrics, not /v1.
    expect((await story.app.request('/metrics', { headers: bearer(ALICE_KEY) })).status).toBe(401);
    expect((await story.app.request('/v1/batches', { headers: bearer(METRICS_TOKEN) })).status).toBe(401);
    const ok = await story.app.request('/metrics', { headers: bearer(METRICS_TOKEN) });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);

    const workerUrl = `http://127.0.0.1:${workerMetrics.port}`;
    expect((await fetch(`${workerUrl}/metrics`)).status).toBe(401);
    expect((await fetch(`${workerUrl}/metrics`, { headers: bearer(METRICS_TOKEN) })).status).toBe(200);
    expect((await fetch(`${workerUrl}/v1/batches`, { headers: bearer(METRICS_TOKEN) })).status).toBe(404);

    // Without a token /metrics is open (for a private network); a 401 is counted like any answer.
    const open = createApp({ pool: h.pool, temporal: h.env.client, config: { ...h.config, metrics: { port: undefined, token: undefined } }, log, metrics: createApiMetrics({ pool: h.pool, log }) });
    expect((await open.request('/metrics')).status).toBe(200);
    const a = await scrapeApi();
    expect(valueOf(a.samples, 'batch_service_http_requests_total', { method: 'GET', route: '/metrics', status: '401' })).toBeGreaterThanOrEqual(3);
  });

  it('the upstream client counts 429s, retries and the attempt that finally worked', async () => {
    let hits = 0;
    const server = createServer((_req, res) => {
      hits += 1;
      res.writeHead(hits <= 2 ? 429 : 200, { 'content-type': 'application/json', 'retry-after': '0' });
      res.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const metrics = createWorkerMetrics();
    const client = createUpstreamClient({
      baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      concurrency: 2,
      timeoutMs: 5_000,
      maxRetries: 3,
      retryBaseMs: 1,
      retryMaxMs: 10,
      observer: metrics.upstream,
    });
    const result = await client.send({ path: '/v1/embeddings', body: '{"model":"e","input":"x"}' });
    expect(result).toMatchObject({ ok: true, attempts: 3 });
    const samples = parseExposition(await metrics.registry.metrics());
    const endpoint = '/v1/embeddings';
    expect(valueOf(samples, 'batch_service_upstream_rate_limited_total', { endpoint })).toBe(2);
    expect(valueOf(samples, 'batch_service_upstream_retries_total', { endpoint, reason: 'rate_limited' })).toBe(2);
    expect(valueOf(samples, 'batch_service_upstream_attempt_duration_seconds_count', { endpoint, outcome: 'rate_limited' })).toBe(2);
    expect(valueOf(samples, 'batch_service_upstream_attempt_duration_seconds_count', { endpoint, outcome: 'success' })).toBe(1);
    await client.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});

describe('metric labels and settings', () => {
  it('labels a bounded number of models, fine-tuned ones by their base, and nothing URL-like', () => {
    const label = createModelLabeler(3);
    expect(label('{"model":"gpt-4o-mini","messages":[]}')).toBe('gpt-4o-mini');
    expect(label('{"messages":[],"model":"meta-llama/Llama-3.1-8B"}')).toBe('meta-llama/Llama-3.1-8B');
    expect(label('{"model":"ft:gpt-4o:acme-corp:tuned:9xYz"}')).toBe('ft:gpt-4o');
    expect(label('{"model":"http://evil.example/x"}')).toBe('other');
    expect(label('{"model":"one-too-many"}')).toBe('other');
    expect(label('{"model":"gpt-4o-mini"}')).toBe('gpt-4o-mini');
    expect(label('{"input":"no model"}')).toBe('unknown');
    expect(label('not json')).toBe('unknown');
    expect(MODEL_LABEL_LIMIT).toBeGreaterThan(3);
  });

  it('METRICS_PORT must differ from PORT, and METRICS_TOKEN must be long enough', () => {
    expect(parseConfig({ METRICS_PORT: '9464' }).metrics).toEqual({ port: 9464, token: undefined });
    expect(parseConfig({}).metrics.port).toBeUndefined();
    expect(() => parseConfig({ PORT: '4080', METRICS_PORT: '4080' })).toThrow('invalid configuration: METRICS_PORT: must differ from PORT');
    expect(() => parseConfig({ METRICS_PORT: '70000' })).toThrow(/METRICS_PORT/);
    expect(() => parseConfig({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN/);
  });
});
