import { randomUUID } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startEmbeddedPostgres } from '../src/stack/embedded-postgres.js';
import { findFreePort } from '../src/stack/ports.js';
import {
  resolveTemporalCli,
  resolveTemporalTestServer,
  sdkServerExecutable,
} from '../src/stack/temporal-binaries.js';
import { startTemporalDevServer } from '../src/stack/temporal-dev-server.js';
import { createLocalEnv, createTestEnv } from './support/temporal.js';

const quiet = () => undefined;
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'stack-test-'));
  // When run as root, Postgres runs as the postgres user and must pass through this directory.
  await chmod(tmp, 0o755);
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function fakeBinary(dir: string, name: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, name);
  await writeFile(file, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  return file;
}

describe('Temporal binary resolution', () => {
  it('prefers the explicit path, then PATH, then the project cache', async () => {
    const dir = path.join(tmp, 'resolve');
    const onPath = await fakeBinary(path.join(dir, 'path-bin'), 'temporal');
    const cacheDir = path.join(dir, 'cache');
    const cached = await fakeBinary(path.join(cacheDir, 'bin'), 'temporal');
    const explicit = await fakeBinary(path.join(dir, 'explicit'), 'my-temporal');
    const base = { cacheDir, log: quiet, pipInstall: false };

    const withPath = { ...base, env: { PATH: path.join(dir, 'path-bin') } };
    expect(await resolveTemporalCli({ ...withPath, explicitPath: explicit })).toEqual({ path: explicit, source: 'env' });
    expect(await resolveTemporalCli(withPath)).toEqual({ path: onPath, source: 'path' });

    const emptyPath = { ...base, env: { PATH: path.join(dir, 'empty') } };
    expect(await resolveTemporalCli(emptyPath)).toEqual({ path: cached, source: 'cache' });
    // Nothing anywhere (and pip disabled): leave it to the SDK's download.
    expect(await resolveTemporalTestServer(emptyPath)).toBeUndefined();
  });

  it('rejects an explicit path that is not an executable', async () => {
    await expect(
      resolveTemporalCli({ explicitPath: path.join(tmp, 'missing'), cacheDir: tmp, log: quiet, pipInstall: false }),
    ).rejects.toThrow(/TEMPORAL_CLI_PATH=.*not an executable/);
  });

  it('maps a resolution to the SDK executable option', () => {
    expect(sdkServerExecutable({ path: '/x/temporal', source: 'cache' })).toEqual({ type: 'existing-path', path: '/x/temporal' });
    expect(sdkServerExecutable(undefined)).toEqual({ type: 'cached-download' });
  });
});

describe('embedded Postgres', () => {
  it('keeps its data across a restart on the same directory', async () => {
    const dataDir = path.join(tmp, 'pg', 'data');
    const first = await startEmbeddedPostgres({ dataDir, log: quiet });
    try {
      const client = new pg.Client(first.url);
      await client.connect();
      await client.query('CREATE TABLE kept (value text NOT NULL)');
      await client.query('INSERT INTO kept (value) VALUES ($1::text)', ['still here']);
      await client.end();
    } finally {
      await first.stop();
    }

    const second = await startEmbeddedPostgres({ dataDir, log: quiet });
    try {
      const client = new pg.Client(second.url);
      await client.connect();
      const { rows } = await client.query<{ value: string }>('SELECT value FROM kept');
      await client.end();
      expect(rows).toEqual([{ value: 'still here' }]);
    } finally {
      await second.stop();
    }
  });
});

describe.skipIf(!inject('temporalCliPath'))('Temporal dev server', () => {
  it('refuses to start on a port something else already holds', async () => {
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const { port } = squatter.address() as { port: number };
    try {
      const dbFile = path.join(tmp, 'busy.db');
      await expect(
        startTemporalDevServer({ cliPath: inject('temporalCliPath'), dbFile, port, headless: true, log: quiet }),
      ).rejects.toThrow(/already in use/);
    } finally {
      squatter.close();
    }
  });

  it('registers search attributes and keeps workflows across a restart', async () => {
    const cliPath = inject('temporalCliPath');
    const dbFile = path.join(tmp, 'temporal', 'state.db');
    const port = await findFreePort();
    let uiPort = await findFreePort();
    while (uiPort === port) uiPort = await findFreePort();
    const batchId = defineSearchAttributeKey('BatchId', SearchAttributeType.KEYWORD);
    const options = {
      cliPath,
      dbFile,
      port,
      uiPort,
      searchAttributes: { BatchId: 'Keyword', WebhookEventType: 'Keyword' } as const,
      log: quiet,
    };
    const workflowId = `stack-test-${randomUUID()}`;

    const first = await startTemporalDevServer(options);
    try {
      expect(first.address).toBe(`127.0.0.1:${port}`);
      expect((await fetch(first.uiUrl!)).ok).toBe(true);
      const connection = await Connection.connect({ address: first.address });
      try {
        const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
        expect(Object.keys(customAttributes ?? {})).toEqual(expect.arrayContaining(['BatchId', 'WebhookEventType']));
        // No worker polls this queue: the workflow just stays running.
        await new Client({ connection }).workflow.start('nobodyRunsThis', {
          workflowId,
          taskQueue: `stack-test-${randomUUID()}`,
          typedSearchAttributes: [{ key: batchId, value: 'batch_123' }],
        });
      } finally {
        await connection.close();
      }
    } finally {
      await first.stop();
    }

    // Same db file and search attributes again: registering existing ones must not fail.
    const second = await startTemporalDevServer({ ...options, headless: true });
    try {
      const connection = await Connection.connect({ address: second.address });
      try {
        const description = await new Client({ connection }).workflow.getHandle(workflowId).describe();
        expect(description.status.name).toBe('RUNNING');
        expect(description.typedSearchAttributes.get(batchId)).toBe('batch_123');
      } finally {
        await connection.close();
      }
    } finally {
      await second.stop();
    }
  });
});

describe('test support environments', () => {
  it('start the time-skipping server and a dev server with our search attributes', async () => {
    const [skipping, local] = await Promise.all([createTestEnv(), createLocalEnv()]);
    try {
      expect(skipping.supportsTimeSkipping).toBe(true);
      const { customAttributes } = await local.connection.operatorService.listSearchAttributes({ namespace: 'default' });
      expect(Object.keys(customAttributes ?? {})).toEqual(expect.arrayContaining(['BatchId', 'WebhookEventType']));
    } finally {
      await Promise.all([skipping.teardown(), local.teardown()]);
    }
  });
});
