import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { createPool, type Pool } from '../../../src/db/pool.js';
import { findFreePort } from '../../../src/stack/ports.js';
import { ApiClient } from './api-client.js';
import { startCountingReceiver, type CountingReceiver } from './counting-receiver.js';
import { startCountingUpstream, type CountingUpstream } from './counting-upstream.js';
import { PostgresServer } from './postgres-server.js';
import { startNodeService, type ExitInfo, type ServiceProcess } from './service-process.js';
import { TemporalServer } from './temporal-server.js';
import { poll } from './waiting.js';

const { TaskQueueType } = proto.temporal.api.enums.v1;

export const say = (msg: string): void => void process.stderr.write(`[faults ${new Date().toISOString().slice(11, 23)}] ${msg}\n`);

const TASK_QUEUE = 'faults';
const WEBHOOK_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const UPSTREAM_LATENCY_MS = 30;
const START_TIMEOUT_MS = 120_000;

export interface Crash {
  process: string;
  pid: number;
  exit: ExitInfo;
}

export const ownerKey = (owner: string): string => `sk-faults-${owner}`;

/**
 * The production entry points as child processes on real servers: Postgres
 * and the Temporal dev server (each killable and restartable on the same data
 * and port), the API and the worker (`node --import tsx src/.../main.ts`),
 * plus an upstream and a webhook receiver that count what they get.
 */
export class FaultStack {
  private api: ServiceProcess | undefined;
  private worker: ServiceProcess | undefined;
  private readonly children: ServiceProcess[] = [];
  private temporalClient: Client | undefined;
  readonly webhookSecret = WEBHOOK_SECRET;
  readonly apiBase: string;

  private constructor(
    readonly dir: string,
    readonly logDir: string,
    readonly postgres: PostgresServer,
    readonly temporal: TemporalServer,
    readonly upstream: CountingUpstream,
    readonly receiver: CountingReceiver,
    /** The suite's own connection, for ground truth the API does not show (phases, frozen events). */
    readonly pool: Pool,
    apiPort: number,
    private readonly bundlePath: string,
    private readonly owners: readonly string[],
  ) {
    this.apiBase = `http://127.0.0.1:${apiPort}`;
  }

  static async start(owners: readonly string[], logDir: string): Promise<FaultStack> {
    await mkdir(logDir, { recursive: true });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'faults-'));
    // As root, Postgres runs as the postgres user and must pass through.
    await chmod(dir, 0o755);
    say(`state in ${dir}, logs in ${logDir}`);
    const postgres = await PostgresServer.create(dir, await findFreePort(), path.join(logDir, 'postgres.log'), say);
    const temporal = await TemporalServer.create(path.join(dir, 'temporal.db'), await findFreePort(), say);
    const upstream = await startCountingUpstream(UPSTREAM_LATENCY_MS);
    const receiver = await startCountingReceiver(WEBHOOK_SECRET);
    const pool = createPool(postgres.url, 4);
    const stack = new FaultStack(dir, logDir, postgres, temporal, upstream, receiver, pool, await findFreePort(), path.join(dir, 'workflow-bundle.js'), owners);
    await stack.buildBundle();
    await stack.startApi();
    await stack.startWorker();
    return stack;
  }

  /** Workers start from a prebuilt bundle (as in production images): restarts take seconds, not a bundling run. */
  private async buildBundle(): Promise<void> {
    const bundler = startNodeService('bundle', 'src/worker/build-workflow-bundle.ts', {}, path.join(this.logDir, 'bundle.log'), [this.bundlePath]);
    await bundler.waitForLine((l) => l.startsWith('workflow bundle written'), START_TIMEOUT_MS, 'the workflow bundle');
  }

  private commonEnv(): Record<string, string> {
    return {
      DATABASE_URL: this.postgres.url,
      TEMPORAL_ADDRESS: this.temporal.address,
      TEMPORAL_TASK_QUEUE: TASK_QUEUE,
      WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
      LOG_LEVEL: 'info',
    };
  }

  client(owner: string): ApiClient {
    return new ApiClient(`${this.apiBase}/v1`, ownerKey(owner));
  }

  async startApi(): Promise<void> {
    const port = new URL(this.apiBase).port;
    const api = startNodeService('api', 'src/api/main.ts', {
      ...this.commonEnv(),
      HOST: '127.0.0.1',
      PORT: port,
      API_KEYS: this.owners.map((o) => `${o}:${ownerKey(o)}`).join(','),
    }, path.join(this.logDir, 'api.log'));
    this.api = api;
    this.children.push(api);
    // Liveness over HTTP rather than a log line; the killed API no longer holds the port.
    const up = await poll(START_TIMEOUT_MS, 100, async () => {
      if (api.exited()) return false;
      const res = await fetch(`${this.apiBase}/health`, { signal: AbortSignal.timeout(2_000) });
      return res.ok ? true : undefined;
    });
    if (!up) throw new Error(`API pid ${api.pid} did not answer /health within ${START_TIMEOUT_MS / 1000} s:\n${api.tail()}`);
  }

  async killApi(): Promise<void> {
    await this.api?.kill9();
  }

  apiAlive(): boolean {
    return !!this.api && !this.api.exited();
  }

  async startWorker(): Promise<void> {
    const worker = startNodeService('worker', 'src/worker/main.ts', {
      ...this.commonEnv(),
      UPSTREAM_BASE_URL: this.upstream.url,
      UPSTREAM_CONCURRENCY: '32',
      WORKFLOW_BUNDLE_PATH: this.bundlePath,
      WEBHOOK_SECRET: WEBHOOK_SECRET,
      WEBHOOK_RETRY_INITIAL_SECONDS: '2',
      BATCH_CHUNK_SIZE: '250',
    }, path.join(this.logDir, 'worker.log'));
    this.worker = worker;
    this.children.push(worker);
    await this.waitForPollers(worker);
  }

  /**
   * Ready means this very process polls both task queues: the SDK's default
   * identity is `<pid>@<host>`, which tells it apart from a killed worker the
   * server still lists as a poller for a while. (Log lines would be a weaker signal.)
   */
  private async waitForPollers(worker: ServiceProcess): Promise<void> {
    const ready = await poll(START_TIMEOUT_MS, 200, async () => {
      if (worker.exited()) return false;
      const { workflowService } = (await this.temporalClientFor()).connection;
      const polled = await Promise.all(
        [TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY].map(async (taskQueueType) => {
          const res = await workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name: TASK_QUEUE }, taskQueueType });
          return (res.pollers ?? []).some((p) => p.identity?.startsWith(`${worker.pid}@`));
        }),
      );
      return polled.every(Boolean) ? true : undefined;
    });
    if (!ready) throw new Error(`worker pid ${worker.pid} did not poll ${TASK_QUEUE} within ${START_TIMEOUT_MS / 1000} s:\n${worker.tail()}`);
  }

  async killWorker(): Promise<void> {
    await this.worker?.kill9();
  }

  workerAlive(): boolean {
    return !!this.worker && !this.worker.exited();
  }

  async killTemporal(): Promise<void> {
    await this.temporal.kill9();
    await this.dropTemporalClient();
  }

  /** A client for the suite's own look-ups (pending activities, workflow existence). */
  async temporalClientFor(): Promise<Client> {
    if (!this.temporalClient) {
      const connection = await Connection.connect({ address: this.temporal.address });
      this.temporalClient = new Client({ connection });
    }
    return this.temporalClient;
  }

  async dropTemporalClient(): Promise<void> {
    const client = this.temporalClient;
    this.temporalClient = undefined;
    await client?.connection.close().catch(() => undefined);
  }

  /** Processes that died without us killing them since `sinceMs`. */
  crashesSince(sinceMs: number): Crash[] {
    return this.children
      .map((p) => ({ process: p.name, pid: p.pid, exit: p.exited() }))
      .filter((c): c is Crash => !!c.exit && !c.exit.expected && c.exit.at >= sinceMs);
  }

  /** Restarts whatever is down, as a supervisor would, so the next scenario starts whole. */
  async ensureRunning(): Promise<string[]> {
    const restarted: string[] = [];
    if (!this.postgres.running()) {
      await this.postgres.start();
      restarted.push('postgres');
    }
    if (!this.apiAlive()) {
      await this.startApi();
      restarted.push('api');
    }
    if (!this.workerAlive()) {
      await this.startWorker();
      restarted.push('worker');
    }
    return restarted;
  }

  async close(): Promise<void> {
    await this.dropTemporalClient();
    for (const child of this.children.reverse()) await child.stop(5_000).catch(() => undefined);
    await this.pool.end().catch(() => undefined);
    await this.upstream.close();
    await this.receiver.close();
    await this.temporal.stop().catch(() => undefined);
    await this.postgres.stop().catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }
}
