import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { type RunningCluster, startCluster } from '../../../scripts/cluster/cluster.js';
import { createPool, type Pool } from '../../../src/db/pool.js';
import { findFreePort } from '../../../src/stack/ports.js';
import { ApiClient } from '../../faults/support/api-client.js';
import { type CountingReceiver, startCountingReceiver } from '../../faults/support/counting-receiver.js';
import { type CountingUpstream, startCountingUpstream } from '../../faults/support/counting-upstream.js';
import type { FaultStack } from '../../faults/support/fault-stack.js';
import type { PostgresServer } from '../../faults/support/postgres-server.js';
import { type ServiceProcess, startNodeService } from '../../faults/support/service-process.js';

export const say = (msg: string): void => void process.stderr.write(`[cluster ${new Date().toISOString().slice(11, 23)}] ${msg}\n`);

export const API_PROCESSES = 2;
export const WORKER_PROCESSES = 3;
const TASK_QUEUE = 'cluster';
const WEBHOOK_SECRET = 'whsec_c2x1c3Rlci1zdWl0ZS1zZWNyZXQtMDEyMzQ1';
const UPSTREAM_LATENCY_MS = 20;
const START_TIMEOUT_MS = 120_000;

export const ownerKey = (owner: string): string => `sk-cluster-${owner}`;

interface Member {
  name: string;
  process: ServiceProcess;
}

/**
 * The service on a real Temporal server on Postgres (scripts/cluster): two
 * API processes and three worker processes from their production entry
 * points, plus test/faults' counting upstream and signature-checking receiver.
 * It has the members of test/faults' FaultStack that ScenarioRun and the
 * checks use, so those run unchanged against it (see `asFaultStack`).
 */
export class ClusterStack {
  private readonly apis: Member[] = [];
  private workers: Member[] = [];
  private readonly children: ServiceProcess[] = [];
  private temporalClient: Client | undefined;
  private nextApi = 0;
  private workerSeq = 0;
  readonly webhookSecret = WEBHOOK_SECRET;

  private constructor(
    readonly dir: string,
    readonly logDir: string,
    readonly cluster: RunningCluster,
    readonly postgres: PostgresServer,
    readonly upstream: CountingUpstream,
    readonly receiver: CountingReceiver,
    readonly pool: Pool,
    readonly apiPorts: number[],
    private readonly bundlePath: string,
    private readonly owners: readonly string[],
  ) {}

  static async start(owners: readonly string[], logDir: string): Promise<ClusterStack> {
    await mkdir(logDir, { recursive: true });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cluster-'));
    say(`state in ${dir}, logs in ${logDir}`);
    const cluster = await startCluster({ stateDir: dir, logDir, log: say });
    if (!cluster.postgres) throw new Error('the cluster suite needs its own Postgres (to kill it)');
    const upstream = await startCountingUpstream(UPSTREAM_LATENCY_MS);
    const receiver = await startCountingReceiver(WEBHOOK_SECRET);
    const pool = createPool(cluster.databaseUrl, 4);
    const apiPorts: number[] = [];
    for (let i = 0; i < API_PROCESSES; i++) apiPorts.push(await findFreePort());
    const stack = new ClusterStack(dir, logDir, cluster, cluster.postgres, upstream, receiver, pool, apiPorts, path.join(dir, 'workflow-bundle.js'), owners);
    try {
      await stack.buildBundle();
      // Each API and worker migrates at start-up; the migrations take an advisory lock, so starting them together is safe.
      await Promise.all(apiPorts.map((_, i) => stack.startApi(i)));
      await Promise.all(Array.from({ length: WORKER_PROCESSES }, () => stack.startWorker()));
    } catch (err) {
      await stack.close();
      throw err;
    }
    return stack;
  }

  private async buildBundle(): Promise<void> {
    const bundler = startNodeService('bundle', 'src/worker/build-workflow-bundle.ts', {}, path.join(this.logDir, 'bundle.log'), [this.bundlePath]);
    await bundler.waitForLine((l) => l.startsWith('workflow bundle written'), START_TIMEOUT_MS, 'the workflow bundle');
  }

  private commonEnv(): Record<string, string> {
    return {
      DATABASE_URL: this.cluster.databaseUrl,
      TEMPORAL_ADDRESS: this.cluster.temporalAddress,
      TEMPORAL_NAMESPACE: this.cluster.namespace,
      TEMPORAL_TASK_QUEUE: TASK_QUEUE,
      WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
      LOG_LEVEL: 'info',
    };
  }

  /** The API base URL of process `index`. */
  apiBase(index: number): string {
    return `http://127.0.0.1:${this.apiPorts[index]}/v1`;
  }

  /** An owner's client on API process `index`. */
  clientVia(owner: string, index: number): ApiClient {
    return new ApiClient(this.apiBase(index % API_PROCESSES), ownerKey(owner));
  }

  /** An owner's client; successive calls take the API processes in turn. */
  client(owner: string): ApiClient {
    return this.clientVia(owner, this.nextApi++);
  }

  async startApi(index: number): Promise<void> {
    const name = `api-${index}`;
    const api = startNodeService(name, 'src/api/main.ts', {
      ...this.commonEnv(),
      HOST: '127.0.0.1',
      PORT: String(this.apiPorts[index]),
      API_KEYS: this.owners.map((o) => `${o}:${ownerKey(o)}`).join(','),
    }, path.join(this.logDir, `${name}.log`));
    this.apis[index] = { name, process: api };
    this.children.push(api);
    await api.waitForLine((l) => l.includes('"API listening"'), START_TIMEOUT_MS, 'listening');
  }

  apiAlive(): boolean {
    return this.apis.every((a) => !a.process.exited());
  }

  async startWorker(): Promise<void> {
    const name = `worker-${++this.workerSeq}`;
    const worker = startNodeService(name, 'src/worker/main.ts', {
      ...this.commonEnv(),
      UPSTREAM_BASE_URL: this.upstream.url,
      UPSTREAM_CONCURRENCY: '32',
      WORKFLOW_BUNDLE_PATH: this.bundlePath,
      WEBHOOK_SECRET: WEBHOOK_SECRET,
      WEBHOOK_RETRY_INITIAL_SECONDS: '2',
      BATCH_CHUNK_SIZE: '250',
      BATCH_PROGRESS_INTERVAL_SECONDS: '15',
    }, path.join(this.logDir, `${name}.log`));
    this.workers.push({ name, process: worker });
    this.children.push(worker);
    // The message has changed wording while src/worker is being reworked; both mean "polling".
    await worker.waitForLine((l) => /"msg":"worker (started|ready)/.test(l), START_TIMEOUT_MS, 'polling');
  }

  liveWorkers(): Member[] {
    return this.workers.filter((w) => !w.process.exited());
  }

  /** The worker whose Temporal identity is `identity` (the SDK's default, `<pid>@<host>`). */
  workerByIdentity(identity: string): Member | undefined {
    const pid = Number(identity.split('@')[0]);
    return this.liveWorkers().find((w) => w.process.pid === pid);
  }

  async killWorker(worker: Member): Promise<void> {
    await worker.process.kill9();
  }

  async killTemporal(): Promise<void> {
    await this.cluster.temporal.kill9();
    await this.dropTemporalClient();
  }

  async temporalClientFor(): Promise<Client> {
    if (!this.temporalClient) {
      const connection = await Connection.connect({ address: this.cluster.temporalAddress });
      this.temporalClient = new Client({ connection, namespace: this.cluster.namespace });
    }
    return this.temporalClient;
  }

  async dropTemporalClient(): Promise<void> {
    const client = this.temporalClient;
    this.temporalClient = undefined;
    await client?.connection.close().catch(() => undefined);
  }

  crashesSince(sinceMs: number): ReturnType<FaultStack['crashesSince']> {
    const crashes = this.children
      .map((p) => ({ process: p.name, pid: p.pid, exit: p.exited() }))
      .filter((c): c is ReturnType<FaultStack['crashesSince']>[number] => !!c.exit && !c.exit.expected && c.exit.at >= sinceMs);
    return crashes;
  }

  /** Restarts whatever is down, as a supervisor would: Postgres, the Temporal server, APIs, workers up to three. */
  async ensureRunning(): Promise<string[]> {
    const restarted: string[] = [];
    if (!this.postgres.running()) {
      await this.postgres.start();
      restarted.push('postgres');
    }
    if (!this.cluster.temporal.running()) {
      const why = this.cluster.temporal.crashed();
      await this.cluster.temporal.start();
      restarted.push(`temporal-server${why ? ` (it had died: ${why.slice(0, 300)})` : ''}`);
    }
    for (const [index, api] of this.apis.entries()) {
      if (!api.process.exited()) continue;
      await this.startApi(index);
      restarted.push(api.name);
    }
    while (this.liveWorkers().length < WORKER_PROCESSES) {
      await this.startWorker();
      restarted.push(this.workers[this.workers.length - 1]!.name);
    }
    return restarted;
  }

  async close(): Promise<void> {
    await this.dropTemporalClient();
    for (const child of this.children.reverse()) await child.stop(10_000).catch(() => undefined);
    await this.pool.end().catch(() => undefined);
    await this.upstream.close();
    await this.receiver.close();
    await this.cluster.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * ScenarioRun and checkWebhooks (test/faults) are typed against FaultStack but
 * use only members ClusterStack has with the same meaning (client, receiver,
 * upstream, pool, postgres, temporalClientFor, crashesSince, ensureRunning,
 * apiAlive). FaultStack has private members, so TypeScript cannot see the fit.
 */
export function asFaultStack(stack: ClusterStack): FaultStack {
  return stack as unknown as FaultStack;
}
