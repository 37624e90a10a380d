import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { parseConfig } from '../../src/config.js';
import { migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { startEmbeddedPostgres } from '../../src/stack/embedded-postgres.js';
import {
  DEFAULT_TEMPORAL_BIN_CACHE_DIR,
  resolveTemporalCli,
  resolveTemporalTestServer,
} from '../../src/stack/temporal-binaries.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Migrated database shared by every test file; tests isolate themselves by their own ids. */
    databaseUrl: string;
    /** Empty when no binary was found: the SDK then downloads the server itself. */
    temporalTestServerPath: string;
    temporalCliPath: string;
  }
}

const log = (msg: string) => process.stderr.write(`[global-setup] ${msg}\n`);

/**
 * One Postgres for the whole run (DATABASE_URL wins if set), migrated once,
 * plus the paths of the Temporal servers each test file starts for itself.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const config = parseConfig(process.env);
  const cleanups: (() => Promise<void>)[] = [];
  const teardown = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  };

  try {
    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'batches-test-'));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      // mkdtemp makes it 0700; when we run as root, Postgres runs as the postgres user and must pass through.
      await chmod(dir, 0o755);
      const postgres = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), database: 'batches_test', log });
      cleanups.push(() => postgres.stop());
      databaseUrl = postgres.url;
    }

    const pool = createPool(databaseUrl, 2);
    try {
      await migrate(pool);
    } finally {
      await pool.end();
    }

    const resolveOpts = { cacheDir: DEFAULT_TEMPORAL_BIN_CACHE_DIR, log };
    const cli = await resolveTemporalCli({ ...resolveOpts, explicitPath: config.temporal.cliPath });
    const testServer = await resolveTemporalTestServer({ ...resolveOpts, explicitPath: config.temporal.testServerPath });

    project.provide('databaseUrl', databaseUrl);
    project.provide('temporalCliPath', cli?.path ?? '');
    project.provide('temporalTestServerPath', testServer?.path ?? '');
  } catch (err) {
    await teardown();
    throw err;
  }
  return teardown;
}
