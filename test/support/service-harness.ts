import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, makeTelemetryFilterString, Runtime, type Worker } from '@temporalio/worker';
import { inject } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { parseConfig, type Config } from '../../src/config.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { createLogger } from '../../src/shared/logger.js';
import { startEchoServer, type EchoServer } from '../../src/upstream/echo-server.js';
import { createUpstreamRouter } from '../../src/upstream/upstream-router.js';
import { createWebhookDispatcher } from '../../src/webhooks/url-guard.js';
import type { createActivities } from '../../src/activities/index.js';
import { createBatchWorker } from '../../src/worker/create-worker.js';
import { ensureSearchAttributes } from '../../src/worker/ensure-search-attributes.js';
import { recordResponse } from './response-recorder.js';
import { createLocalEnv, createTestEnv } from './temporal.js';

// Keep test output to what matters: SDK errors only (expected activity retries are not noise-worthy).
Runtime.install({
  logger: new DefaultLogger('ERROR'),
  telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }) } },
});

type Activities = ReturnType<typeof createActivities>;

export const ALICE_KEY = 'sk-alice-test-key';
export const BOB_KEY = 'sk-bob-test-key';

export interface Harness {
  env: TestWorkflowEnvironment;
  pool: Pool;
  echo: EchoServer;
  config: Config;
  app: ReturnType<typeof createApp>;
  /** Calls the API as `key` (alice by default) without a network hop. */
  api(path: string, init?: RequestInit & { json?: unknown; key?: string }): Promise<Response>;
  /** Uploads JSONL text as a batch input file and returns its id. */
  upload(jsonl: string, key?: string): Promise<string>;
  startWorker(): Promise<void>;
  stopWorker(): Promise<void>;
  /**
   * Runs `fn` with the harness worker replaced by one whose activities
   * `replace` gives (some of them, from the real ones), then puts the
   * harness worker back. Without a sticky cache on the time-skipping server,
   * a batch moves to the next worker at once.
   */
  withWorker(replace: (real: Activities) => Partial<Activities>, fn: (worker: Worker) => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

/**
 * The whole service on real servers: Postgres from the global setup, a
 * time-skipping Temporal server, the echo upstream, a worker and the API.
 */
export async function startHarness(
  env: Record<string, string> = {},
  opts: {
    server?: 'time-skipping' | 'dev-server';
    /** The worker's own Postgres URL (e.g. through a proxy a test can cut); the API and `pool` keep the shared one. */
    workerDatabaseUrl?: string;
    /** No default upstream: only `UPSTREAM_ROUTES` serve models. */
    noDefaultUpstream?: boolean;
  } = {},
): Promise<Harness> {
  // Owners are unique per harness so test files sharing one database never see each other's data.
  const run = Math.random().toString(36).slice(2, 10);
  const config = parseConfig({
    API_KEYS: `alice-${run}:${ALICE_KEY},bob-${run}:${BOB_KEY}`,
    TEMPORAL_TASK_QUEUE: `test-${run}`,
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
    WEBHOOK_RETRY_INITIAL_SECONDS: '1',
    BATCH_CHUNK_SIZE: '5',
    UPSTREAM_RETRY_BASE_MS: '10',
    UPSTREAM_RETRY_MAX_MS: '100',
    LOG_LEVEL: 'silent',
    ...env,
  });
  const log = createLogger(config.logLevel, 'test');
  const pool = createPool(inject('databaseUrl'), 5);
  const workerPool = opts.workerDatabaseUrl ? createPool(opts.workerDatabaseUrl, 5) : pool;
  const echo = await startEchoServer({});
  // The dev server has visibility (list by search attribute) but real time; the test server skips time.
  const testEnv = opts.server === 'dev-server' ? await createLocalEnv() : await createTestEnv();
  await ensureSearchAttributes(testEnv.nativeConnection, 'default');
  // The echo is the default upstream; `UPSTREAM_ROUTES` in `env` add routes beside it.
  const upstream = createUpstreamRouter(config.upstream, opts.noDefaultUpstream ? undefined : echo.url);
  const webhookDispatcher = createWebhookDispatcher({ allowPrivateNetworks: config.webhook.allowPrivateNetworks });
  const app = createApp({ pool, temporal: testEnv.client, config, log });

  const createWorker = (replaceActivities?: (real: Activities) => Partial<Activities>) =>
    createBatchWorker({
      connection: testEnv.nativeConnection,
      namespace: 'default',
      taskQueue: config.temporal.taskQueue,
      deps: { pool: workerPool, upstream, webhookDispatcher, config, log },
      shutdownGraceTime: '1s',
      // The time-skipping server never expires a stopped worker's sticky queue; without a cache
      // a restarted worker picks the batch up at once.
      maxCachedWorkflows: opts.server === 'dev-server' ? undefined : 0,
      replaceActivities,
    });
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  const harness: Harness = {
    env: testEnv,
    pool,
    echo,
    config,
    app,
    async api(path, init = {}) {
      const { json, key, ...rest } = init;
      const headers = new Headers(rest.headers);
      headers.set('authorization', `Bearer ${key ?? ALICE_KEY}`);
      if (json !== undefined) headers.set('content-type', 'application/json');
      const res = await app.request(path, { ...rest, headers, body: json !== undefined ? JSON.stringify(json) : rest.body });
      // With OPENAPI_CONTRACT_LOG set, every answer is kept for the OpenAPI contract check.
      await recordResponse(rest.method ?? 'GET', path, res);
      return res;
    },
    async upload(jsonl, key) {
      const form = new FormData();
      form.set('purpose', 'batch');
      form.set('file', new Blob([jsonl]), 'input.jsonl');
      const res = await harness.api('/v1/files', { method: 'POST', body: form, key });
      if (res.status !== 200) throw new Error(`upload failed: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { id: string }).id;
    },
    async startWorker() {
      worker = await createWorker();
      running = worker.run();
    },
    async withWorker(replace, fn) {
      await harness.stopWorker();
      const replaced = await createWorker(replace);
      const replacedRunning = replaced.run();
      try {
        await fn(replaced);
      } finally {
        replaced.shutdown();
        await replacedRunning;
        await harness.startWorker();
      }
    },
    async stopWorker() {
      worker?.shutdown();
      await running;
      worker = undefined;
    },
    async close() {
      await harness.stopWorker();
      await upstream.close();
      await webhookDispatcher.close();
      await testEnv.teardown();
      await echo.stop();
      if (workerPool !== pool) await workerPool.end();
      await pool.end();
    },
  };
  await harness.startWorker();
  return harness;
}

/** JSONL input with `n` chat requests. */
export function chatLines(n: number, extra: (i: number) => Record<string, unknown> = () => ({})): string {
  return Array.from({ length: n }, (_, i) =>
    JSON.stringify({
      custom_id: `req-${i}`,
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'echo', messages: [{ role: 'user', content: `hello ${i}` }], ...extra(i) },
    }),
  ).join('\n');
}
