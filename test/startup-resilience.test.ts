import { mkdtemp, chmod, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { startNodeProcess, type NodeProcess } from '../bench/support/node-process.js';
import { createApp } from '../src/api/app.js';
import { parseConfig } from '../src/config.js';
import { createPool } from '../src/db/pool.js';
import { createLogger } from '../src/shared/logger.js';
import { startEchoServer } from '../src/upstream/echo-server.js';
import { startEmbeddedPostgres } from '../src/stack/embedded-postgres.js';
import { findFreePort } from '../src/stack/ports.js';
import { ALICE_KEY, chatLines } from './support/service-harness.js';
import { SEARCH_ATTRIBUTES } from './support/temporal.js';

// Servers started by each test, stopped after it whatever happened.
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

const KEY_ENV = { API_KEYS: `startup:${ALICE_KEY}`, LOG_LEVEL: 'info' };

function devServer(port: number, opts: { searchAttributes?: boolean } = {}) {
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: inject('temporalCliPath') },
      ip: '127.0.0.1',
      port,
      searchAttributes: opts.searchAttributes === false ? [] : SEARCH_ATTRIBUTES,
      log: { format: 'pretty', level: 'error' },
    },
  });
}

function spawn(script: string, env: Record<string, string>): NodeProcess {
  const child = startNodeProcess(script, [], env);
  cleanups.push(() => child.stop(5_000));
  return child;
}

async function apiPort(api: NodeProcess): Promise<number> {
  const line = await api.waitForLine((l) => l.includes('API listening'), 60_000, 'the API to listen');
  return (JSON.parse(line) as { port: number }).port;
}

async function poll<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const readiness = async (port: number) => {
  const res = await fetch(`http://127.0.0.1:${port}/ready`);
  return { status: res.status, body: (await res.json()) as { status: string; checks: Record<string, string>; problems?: string[] } };
};

describe('start-up with a dependency that is not up yet', () => {
  it('the API serves with Temporal unreachable, says so on /ready, and is ready once Temporal comes up', async () => {
    const temporalPort = await findFreePort();
    const api = spawn('src/api/main.ts', { ...KEY_ENV, PORT: '0', DATABASE_URL: inject('databaseUrl'), TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}` });
    const port = await apiPort(api);

    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    const down = await readiness(port);
    expect(down.status).toBe(503);
    expect(down.body.checks).toMatchObject({ postgres: 'ok', temporal: 'unreachable' });
    expect(down.body.problems?.join(' ')).toMatch(/Temporal is unreachable/);

    const env = await devServer(temporalPort);
    cleanups.push(() => env.teardown());
    await poll('the API to become ready', async () => ((await readiness(port)).status === 200 ? true : undefined));
    expect(api.hasExited()).toBe(false);
  });

  it('the API serves with Postgres down, answers 503 until its migrations are applied, then works', async () => {
    const pgPort = await findFreePort();
    const env = await devServer(await findFreePort());
    cleanups.push(() => env.teardown());
    const databaseUrl = `postgres://postgres:postgres@127.0.0.1:${pgPort}/late_db`;
    const api = spawn('src/api/main.ts', { ...KEY_ENV, PORT: '0', DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: env.address });
    const port = await apiPort(api);

    const down = await readiness(port);
    expect(down.status).toBe(503);
    expect(down.body.checks).toMatchObject({ postgres: 'unreachable', temporal: 'ok', migrations: 'pending' });
    const refused = await fetch(`http://127.0.0.1:${port}/v1/files`, { headers: { authorization: `Bearer ${ALICE_KEY}` } });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBeTruthy();
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('starting_up');

    const dir = await mkdtemp(path.join(os.tmpdir(), 'late-pg-'));
    await chmod(dir, 0o755);
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const postgres = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), port: pgPort, database: 'late_db', log: () => undefined });
    cleanups.push(() => postgres.stop());

    await poll('the API to become ready', async () => ((await readiness(port)).status === 200 ? true : undefined), 90_000);
    const list = await fetch(`http://127.0.0.1:${port}/v1/files`, { headers: { authorization: `Bearer ${ALICE_KEY}` } });
    expect(list.status).toBe(200);
    expect(api.hasExited()).toBe(false);
  });

  it('a worker waits for Postgres, applies the migrations when it answers, and starts', async () => {
    const pgPort = await findFreePort();
    const env = await devServer(await findFreePort());
    cleanups.push(() => env.teardown());
    const echo = await startEchoServer({});
    cleanups.push(() => echo.stop());
    const worker = spawn('src/worker/main.ts', {
      LOG_LEVEL: 'info',
      DATABASE_URL: `postgres://postgres:postgres@127.0.0.1:${pgPort}/late_worker_db`,
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_TASK_QUEUE: `startup-pg-${pgPort}`,
      UPSTREAM_BASE_URL: echo.url,
    });
    await worker.waitForLine((l) => l.includes('apply database migrations') && l.includes('not yet'), 60_000, 'a retry line for Postgres');

    const dir = await mkdtemp(path.join(os.tmpdir(), 'late-pg-'));
    await chmod(dir, 0o755);
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const postgres = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), port: pgPort, database: 'late_worker_db', log: () => undefined });
    cleanups.push(() => postgres.stop());

    await worker.waitForLine((l) => l.includes('"msg":"worker started"'), 120_000, 'the worker to start');
    expect(worker.hasExited()).toBe(false);
  });

  it('a worker waits for Temporal, then for its namespace, registers the search attributes and runs batches', async () => {
    const temporalPort = await findFreePort();
    const echo = await startEchoServer({});
    cleanups.push(() => echo.stop());
    const namespace = `late-${Math.random().toString(36).slice(2, 8)}`;
    const taskQueue = `startup-${namespace}`;
    const worker = spawn('src/worker/main.ts', {
      LOG_LEVEL: 'info',
      DATABASE_URL: inject('databaseUrl'),
      TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
      TEMPORAL_NAMESPACE: namespace,
      TEMPORAL_TASK_QUEUE: taskQueue,
      UPSTREAM_BASE_URL: echo.url,
    });
    await worker.waitForLine((l) => l.includes('connect to Temporal') && l.includes('not yet'), 60_000, 'a retry line for Temporal');

    // Temporal comes up without the namespace and without the search attributes.
    const env = await devServer(temporalPort, { searchAttributes: false });
    cleanups.push(() => env.teardown());
    const waiting = await worker.waitForLine((l) => l.includes(`namespace '${namespace}'`) && l.includes('not yet'), 60_000, 'a wait line for the namespace');
    expect(waiting).toMatch(/does not exist; create it with: temporal operator namespace create/);

    await env.client.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
    await worker.waitForLine((l) => l.includes('"msg":"worker started"'), 90_000, 'the worker to be ready');
    expect(worker.hasExited()).toBe(false);

    // The attributes it registered are usable: a batch created now runs to completion on this worker.
    const connection = await Connection.connect({ address: env.address });
    cleanups.push(() => connection.close());
    const temporal = new Client({ connection, namespace });
    const config = parseConfig({ ...KEY_ENV, TEMPORAL_NAMESPACE: namespace, TEMPORAL_TASK_QUEUE: taskQueue, LOG_LEVEL: 'silent' });
    const pool = createPool(inject('databaseUrl'), 2);
    cleanups.push(() => pool.end());
    const app = createApp({ pool, temporal, config, log: createLogger('silent', 'test') });
    const form = new FormData();
    form.set('purpose', 'batch');
    form.set('file', new Blob([chatLines(3)]), 'in.jsonl');
    const auth = { authorization: `Bearer ${ALICE_KEY}` };
    const file = (await (await app.request('/v1/files', { method: 'POST', body: form, headers: auth })).json()) as { id: string };
    const created = await app.request('/v1/batches', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' }),
    });
    expect(created.status).toBe(200);
    const batch = (await created.json()) as { id: string };
    expect(await temporal.workflow.getHandle(`batch-${batch.id}`).result()).toBe('completed');
  });
});

describe('a Temporal namespace that is not set up for the service', () => {
  async function appOn(env: TestWorkflowEnvironment, namespace: string) {
    const connection = await Connection.connect({ address: env.address });
    cleanups.push(() => connection.close());
    const config = parseConfig({ ...KEY_ENV, TEMPORAL_NAMESPACE: namespace, LOG_LEVEL: 'silent' });
    const pool = createPool(inject('databaseUrl'), 2);
    cleanups.push(() => pool.end());
    const app = createApp({ pool, temporal: new Client({ connection, namespace }), config, log: createLogger('silent', 'test') });
    const form = new FormData();
    form.set('purpose', 'batch');
    form.set('file', new Blob([chatLines(1)]), 'in.jsonl');
    const auth = { authorization: `Bearer ${ALICE_KEY}` };
    const file = (await (await app.request('/v1/files', { method: 'POST', body: form, headers: auth })).json()) as { id: string };
    const create = () =>
      app.request('/v1/batches', {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' }),
      });
    return { app, create, pool };
  }

  it('a missing namespace: /ready names it, and creating a batch says how to create it, leaving nothing behind', async () => {
    const env = await devServer(await findFreePort());
    cleanups.push(() => env.teardown());
    const { app, create, pool } = await appOn(env, 'no-such-namespace');

    const ready = await app.request('/ready');
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { checks: Record<string, string>; problems: string[] };
    expect(body.checks.temporal).toBe('namespace_not_found');
    expect(body.problems.join(' ')).toMatch(/namespace 'no-such-namespace' does not exist/);

    const res = await create();
    expect(res.status).toBe(503);
    const error = ((await res.json()) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('temporal_namespace_not_found');
    expect(error.message).toMatch(/temporal operator namespace create --namespace no-such-namespace/);
    const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM batches WHERE owner = 'startup' AND status = 'validating'`);
    expect(rows[0]!.n).toBe(0);
  });

  it('missing search attributes: /ready and batch creation name the attribute and the command that registers it', async () => {
    const env = await devServer(await findFreePort(), { searchAttributes: false });
    cleanups.push(() => env.teardown());
    const { app, create } = await appOn(env, 'default');

    const ready = await app.request('/ready');
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { checks: Record<string, string>; problems: string[] };
    expect(body.checks.temporal).toBe('search_attributes_missing');
    expect(body.problems.join(' ')).toMatch(/BatchId, WebhookEventType/);

    const res = await create();
    expect(res.status).toBe(503);
    const error = ((await res.json()) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('temporal_search_attribute_missing');
    expect(error.message).toMatch(/search attribute 'BatchId'.*temporal operator search-attribute create --namespace default --name BatchId --type Keyword/);
  });
});
