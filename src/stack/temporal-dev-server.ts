import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { isPortFree } from './ports.js';

/** The types `temporal server start-dev --search-attribute Name=Type` accepts. */
export type DevServerSearchAttributeType = 'Text' | 'Keyword' | 'Int' | 'Double' | 'Bool' | 'Datetime' | 'KeywordList';

export interface TemporalDevServerOptions {
  /** The `temporal` CLI binary (see resolveTemporalCli). */
  cliPath: string;
  /** SQLite file; reused on restart, so workflows survive it. */
  dbFile: string;
  ip?: string;
  port?: number;
  uiPort?: number;
  /** No Web UI. */
  headless?: boolean;
  namespace?: string;
  /** Registered at every start; the server accepts ones that already exist. */
  searchAttributes?: Record<string, DevServerSearchAttributeType>;
  /** Server output; defaults to `<dbFile>.log`. */
  logFile?: string;
  readyTimeoutMs?: number;
  log: (msg: string) => void;
}

export interface RunningTemporalDevServer {
  /** `ip:port` of the gRPC frontend. */
  address: string;
  namespace: string;
  uiUrl: string | undefined;
  logFile: string;
  /** SIGTERM, then SIGKILL if the server has not exited within a few seconds. */
  stop(): Promise<void>;
}

const KILL_AFTER_MS = 5_000;

/**
 * A dev server serves one machine. SQLite in WAL mode with NORMAL syncing: a
 * crashed server loses nothing, a power cut may lose its last transactions.
 * One task-queue partition: a task never waits to be forwarded between
 * partitions to reach the one a worker polls. History's transfer queue reads
 * its next tasks up to 1,000 times a second instead of 20: at 20 every workflow
 * task after an activity or a child start waited up to 50 ms to be handed to
 * matching, two thirds of a small batch's turnaround. The timer and visibility
 * queues keep 20: reading them more often cost CPU and gained no latency.
 */
const DEV_SERVER_TUNING = [
  '--sqlite-pragma', 'journal_mode=wal',
  '--sqlite-pragma', 'synchronous=normal',
  '--dynamic-config-value', 'matching.numTaskqueueReadPartitions=1',
  '--dynamic-config-value', 'matching.numTaskqueueWritePartitions=1',
  '--dynamic-config-value', 'history.transferProcessorMaxPollRPS=1000',
];

/** Spawns `temporal server start-dev` and resolves once its frontend serves the namespace. */
export async function startTemporalDevServer(opts: TemporalDevServerOptions): Promise<RunningTemporalDevServer> {
  const ip = opts.ip ?? '127.0.0.1';
  const port = opts.port ?? 7233;
  const uiPort = opts.uiPort ?? 8233;
  const namespace = opts.namespace ?? 'default';
  const dbFile = path.resolve(opts.dbFile);
  const logFile = path.resolve(opts.logFile ?? `${dbFile}.log`);
  await mkdir(path.dirname(dbFile), { recursive: true });
  await mkdir(path.dirname(logFile), { recursive: true });

  // A server left over on these ports would answer our readiness check in place of the one we start.
  for (const p of opts.headless ? [port] : [port, uiPort]) {
    if (!(await isPortFree(p, ip))) throw new Error(`${ip}:${p} is already in use (another Temporal server running?)`);
  }

  const args = [
    'server', 'start-dev',
    '--ip', ip,
    '--port', String(port),
    '--db-filename', dbFile,
    '--namespace', namespace,
    ...(opts.headless ? ['--headless'] : ['--ui-port', String(uiPort)]),
    ...Object.entries(opts.searchAttributes ?? {}).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]),
    ...DEV_SERVER_TUNING,
  ];
  const out = openSync(logFile, 'a');
  const child = (() => {
    try {
      return spawn(opts.cliPath, args, { stdio: ['ignore', out, out] });
    } finally {
      closeSync(out); // the child holds its own copy
    }
  })();

  let exitReason: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitReason = signal ? `signal ${signal}` : `code ${code}`;
      resolve();
    });
    child.once('error', (err) => {
      exitReason = err.message;
      resolve();
    });
  });
  // Never leave an orphan holding the port and the SQLite file when this process exits.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (exitReason === undefined) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
      await exited;
      clearTimeout(timer);
    }
  };

  const address = `${ip}:${port}`;
  try {
    await waitUntilServing(address, namespace, opts.readyTimeoutMs ?? 30_000, () => exitReason);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n(log: ${logFile})\n${await tail(logFile)}`);
  }

  const uiUrl = opts.headless ? undefined : `http://${ip}:${uiPort}`;
  opts.log(`Temporal dev server ready on ${address}${uiUrl ? `, Web UI ${uiUrl}` : ''} (state in ${dbFile})`);
  return { address, namespace, uiUrl, logFile, stop };
}

async function waitUntilServing(
  address: string,
  namespace: string,
  timeoutMs: number,
  exitReason: () => string | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    const exited = exitReason();
    if (exited !== undefined) throw new Error(`temporal server exited before it was ready (${exited})`);
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({ address, connectTimeout: 1_000 });
      const conn = connection;
      // The namespace answering means the server finished its own start-up (namespaces, search attributes).
      await conn.withDeadline(Date.now() + 2_000, () => conn.workflowService.describeNamespace({ namespace }));
      return;
    } catch (err) {
      lastError = err;
    } finally {
      await connection?.close().catch(() => undefined);
    }
    // Polling a port that is not open yet: there is nothing to await instead.
    await delay(200);
  }
  throw new Error(`temporal server not ready after ${timeoutMs} ms: ${(lastError as Error | undefined)?.message}`);
}

async function tail(file: string, lines = 15): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
