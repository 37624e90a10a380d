import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { REPO_ROOT } from '../../bench/support/node-process.js';
import { isPortFree } from '../../src/stack/ports.js';
import { ServiceProcess } from '../../test/faults/support/service-process.js';

/** The committed config template the server renders itself (see its header); relative to `--root`. */
export const TEMPORAL_CONFIG_DIR = 'deploy/temporal/config';
export const TEMPORAL_DYNAMIC_CONFIG_FILE = path.join(REPO_ROOT, 'deploy', 'temporal', 'dynamicconfig.yaml');
const READY_TIMEOUT_MS = 120_000;

export interface TemporalPorts {
  frontend: number;
  frontendHttp: number;
  history: number;
  matching: number;
  worker: number;
  frontendMembership: number;
  historyMembership: number;
  matchingMembership: number;
  workerMembership: number;
}

/**
 * Every port given, or a free one below 32768: Temporal stores membership
 * ports in a Postgres smallint (cluster_membership.rpc_port), and the OS hands
 * out ephemeral ports above that ("value out of range for type smallint").
 */
export async function resolvePorts(given: Partial<TemporalPorts> = {}): Promise<TemporalPorts> {
  const keys: (keyof TemporalPorts)[] = ['frontend', 'frontendHttp', 'history', 'matching', 'worker', 'frontendMembership', 'historyMembership', 'matchingMembership', 'workerMembership'];
  const ports = {} as TemporalPorts;
  const taken = new Set(Object.values(given));
  for (const key of keys) {
    const port = given[key] ?? (await freePortBelowEphemeral(taken));
    taken.add(port);
    ports[key] = port;
  }
  return ports;
}

async function freePortBelowEphemeral(taken: Set<number | undefined>): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (!taken.has(port) && (await isPortFree(port))) return port;
  }
  throw new Error('no free port between 20000 and 32000');
}

export interface TemporalDatabase {
  host: string;
  port: number;
  user: string;
  password: string;
}

/** The environment that deploy/temporal/config/production.yaml and setup.sh read. */
export function temporalDatabaseEnv(db: TemporalDatabase): Record<string, string> {
  return {
    TEMPORAL_DB_HOST: db.host,
    TEMPORAL_DB_PORT: String(db.port),
    TEMPORAL_DB_USER: db.user,
    TEMPORAL_DB_PASSWORD: db.password,
  };
}

/**
 * One `temporal-server` process running all four services on Postgres, which
 * can be killed with SIGKILL and started again on the same ports and databases.
 */
export class TemporalServerProcess {
  private process: ServiceProcess | undefined;

  constructor(
    private readonly serverBinary: string,
    private readonly db: TemporalDatabase,
    readonly ports: TemporalPorts,
    private readonly logFile: string,
    private readonly log: (msg: string) => void,
  ) {}

  get address(): string {
    return `127.0.0.1:${this.ports.frontend}`;
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  /** Starts the server and resolves once its frontend answers. */
  async start(): Promise<void> {
    if (this.running()) throw new Error('temporal-server is already running');
    const p = this.ports;
    this.process = new ServiceProcess(
      'temporal-server',
      this.serverBinary,
      ['--root', REPO_ROOT, '--config', TEMPORAL_CONFIG_DIR, '--env', 'production', '--allow-no-auth', 'start'],
      this.logFile,
      {
        env: {
          PATH: process.env.PATH ?? '',
          ...temporalDatabaseEnv(this.db),
          TEMPORAL_FRONTEND_PORT: String(p.frontend),
          TEMPORAL_FRONTEND_HTTP_PORT: String(p.frontendHttp),
          TEMPORAL_HISTORY_PORT: String(p.history),
          TEMPORAL_MATCHING_PORT: String(p.matching),
          TEMPORAL_WORKER_PORT: String(p.worker),
          TEMPORAL_FRONTEND_MEMBERSHIP_PORT: String(p.frontendMembership),
          TEMPORAL_HISTORY_MEMBERSHIP_PORT: String(p.historyMembership),
          TEMPORAL_MATCHING_MEMBERSHIP_PORT: String(p.matchingMembership),
          TEMPORAL_WORKER_MEMBERSHIP_PORT: String(p.workerMembership),
          TEMPORAL_DYNAMIC_CONFIG_FILE: TEMPORAL_DYNAMIC_CONFIG_FILE,
        },
      },
    );
    const started = Date.now();
    await this.waitUntilServing();
    this.log(`temporal-server (pid ${this.process.pid}) serving on ${this.address} after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }

  running(): boolean {
    return !!this.process && !this.process.exited();
  }

  /** Whether it died without us stopping it (then the last lines it printed). */
  crashed(): string | undefined {
    const exit = this.process?.exited();
    return exit && !exit.expected ? `exit code ${exit.code} signal ${exit.signal}: ${exit.tail.split('\n').slice(-3).join(' | ')}` : undefined;
  }

  async kill9(): Promise<void> {
    await this.process?.kill9();
  }

  async stop(): Promise<void> {
    await this.process?.stop(15_000, 'SIGTERM');
  }

  private async waitUntilServing(): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let lastError = '';
    while (Date.now() < deadline) {
      if (this.process?.exited()) throw new Error(`temporal-server exited during start-up:\n${this.process.tail()}`);
      try {
        const connection = await Connection.connect({ address: this.address, connectTimeout: 2_000 });
        try {
          await connection.workflowService.getSystemInfo({});
          return;
        } finally {
          await connection.close();
        }
      } catch (err) {
        lastError = (err as Error).message;
      }
      // Nothing to await: the server cannot tell us when it serves.
      await delay(500);
    }
    throw new Error(`temporal-server not serving within ${READY_TIMEOUT_MS / 1000} s: ${lastError}\n${this.process?.tail()}`);
  }
}
