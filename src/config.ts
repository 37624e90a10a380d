import { z } from 'zod';
import { BATCH_ENDPOINTS, DEFAULT_UPSTREAM_ENDPOINTS, isBatchEndpoint, type BatchEndpoint } from './batches/batch-endpoints.js';

/** Thrown when the environment does not describe a valid configuration. */
export class ConfigError extends Error {}

const booleanFromString = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** `API_KEYS` is `owner:key,owner:key`; each key authenticates one owner. */
const apiKeys = z.string().transform((raw, ctx) => {
  const entries: { owner: string; key: string }[] = [];
  for (const part of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    const sep = part.indexOf(':');
    const owner = sep > 0 ? part.slice(0, sep) : '';
    const key = sep > 0 ? part.slice(sep + 1) : '';
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(owner) || key.length < 8) {
      ctx.addIssue({ code: 'custom', message: 'expected owner:key pairs (owner [A-Za-z0-9_.-], key at least 8 characters)' });
      return z.NEVER;
    }
    entries.push({ owner, key });
  }
  return entries;
});

/** `5m`, `1h55m`, `2d`, `90s` or plain seconds: a duration in seconds. */
export function parseDurationSeconds(text: string): number | undefined {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t);
  const m = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(t);
  if (!m || t === '') return undefined;
  const [, d = '0', h = '0', min = '0', sec = '0'] = m;
  return Number(d) * 86_400 + Number(h) * 3600 + Number(min) * 60 + Number(sec);
}

/**
 * The default webhook retry schedule: the waits before attempts 2 to 10. With
 * the default 3 attempts a receiver gets them at about 0, 5 min and 2 h; with
 * 10 the last lands about 3 days after the event (Svix, Stripe and OpenAI retry
 * for one to three days).
 */
export const DEFAULT_WEBHOOK_RETRY_SCHEDULE = '5m,1h55m,3h,5h,6h,8h,12h,16h,20h';

/** `WEBHOOK_RETRY_SCHEDULE`: comma-separated waits before each retry, 1 s to 7 days each. */
const retrySchedule = z.string().transform((raw, ctx) => {
  const waits = raw.split(',').map(parseDurationSeconds);
  if (waits.length === 0 || waits.some((w) => w === undefined || w < 1 || w > 7 * 86_400)) {
    ctx.addIssue({ code: 'custom', message: 'expected comma-separated durations such as 5m,1h55m,3h (each 1s to 7d)' });
    return z.NEVER;
  }
  return waits as number[];
});

const DEFAULT_WEBHOOK_RETRY_SCHEDULE_SECONDS = DEFAULT_WEBHOOK_RETRY_SCHEDULE.split(',').map((w) => parseDurationSeconds(w)!);

/**
 * A retention period such as `30d`, `12h` or plain seconds: at least an hour,
 * at most ten years; `0` keeps the data forever.
 */
const retention = (defaultSeconds: number) =>
  z
    .string()
    .transform((raw, ctx) => {
      const seconds = parseDurationSeconds(raw);
      if (seconds === undefined || (seconds !== 0 && (seconds < 3600 || seconds > 3650 * 86_400))) {
        ctx.addIssue({ code: 'custom', message: 'expected a duration such as 30d, 12h or 3600 (1h to 3650d), or 0 to keep forever' });
        return z.NEVER;
      }
      return Math.round(seconds);
    })
    .default(defaultSeconds);

/** `UPSTREAM_ENDPOINTS`: comma-separated batch endpoints the upstream serves, each one of OpenAI's. */
const upstreamEndpoints = z.string().transform((raw, ctx) => {
  const paths = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = paths.find((path) => !isBatchEndpoint(path));
  if (paths.length === 0 || unknown !== undefined) {
    ctx.addIssue({ code: 'custom', message: `expected comma-separated batch endpoints among ${BATCH_ENDPOINTS.join(', ')}${unknown ? ` (not ${unknown})` : ''}` });
    return z.NEVER;
  }
  return [...new Set(paths)] as BatchEndpoint[];
});

const httpUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL')
  .transform((u) => u.replace(/\/+$/, ''));

/** One `UPSTREAM_ROUTES` entry; unset tuning falls back to the `UPSTREAM_*` value of the same name. */
const UpstreamRouteSchema = z
  .object({
    base_url: httpUrl,
    api_key: z.string().min(1).optional(),
    concurrency: z.number().int().min(1).max(1024).optional(),
    timeout_ms: z.number().int().min(100).max(3_600_000).optional(),
    max_retries: z.number().int().min(0).max(20).optional(),
    retry_base_ms: z.number().int().min(1).max(60_000).optional(),
    retry_max_ms: z.number().int().min(1).max(600_000).optional(),
    pause_after_failures: z.number().int().min(0).max(1000).optional(),
  })
  .strict();

/** A model name or a glob (`*` any run of characters, `?` one character). */
const ROUTE_PATTERN = /^[A-Za-z0-9_.:/@*?+-]{1,256}$/;

/**
 * `UPSTREAM_ROUTES`: a JSON object from model name or glob to route. Errors
 * name the route and the field, never a value (a value may be a key).
 */
const upstreamRoutes = z.string().transform((raw, ctx) => {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'expected a JSON object such as {"llama-3*": {"base_url": "http://vllm:8000"}}' });
    return z.NEVER;
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json) || Object.keys(json).length === 0) {
    ctx.addIssue({ code: 'custom', message: 'expected a non-empty JSON object from model name or glob to {"base_url": …}' });
    return z.NEVER;
  }
  const routes: { pattern: string; route: z.output<typeof UpstreamRouteSchema> }[] = [];
  for (const [pattern, value] of Object.entries(json)) {
    if (!ROUTE_PATTERN.test(pattern)) {
      ctx.addIssue({ code: 'custom', message: `route ${JSON.stringify(pattern.slice(0, 80))}: a model name or glob is 1 to 256 of A-Z a-z 0-9 _ . : / @ + - * ?` });
      return z.NEVER;
    }
    const parsed = UpstreamRouteSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
      const message = issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.join(', ')}` : issue.message;
      ctx.addIssue({ code: 'custom', message: `route ${JSON.stringify(pattern)}: ${field}${message}` });
      return z.NEVER;
    }
    routes.push({ pattern, route: parsed.data });
  }
  return routes;
});

const EnvSchema = z.object({
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  // Unset: `npm start` prints readable lines on a terminal and JSON otherwise; the API and the worker always JSON.
  LOG_FORMAT: z.enum(['pretty', 'json']).optional(),
  HOST: z.string().default('0.0.0.0'),
  PORT: int(0, 65535).default(4080),
  // Prometheus: the worker serves GET /metrics on METRICS_PORT (unset: none); when METRICS_TOKEN is set,
  // the API's and the worker's /metrics require it as a bearer token.
  METRICS_PORT: int(0, 65535).optional(),
  METRICS_TOKEN: z.string().min(16).max(256).optional(),
  API_KEYS: apiKeys.optional(),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  DATABASE_POOL_SIZE: int(1, 200).default(10),
  DATA_DIR: z.string().default('./.data'),
  // Ports of the servers `npm start` runs itself; set them (and PORT, DATA_DIR) to run two stacks side by side.
  STACK_POSTGRES_PORT: int(1, 65535).default(5433),
  STACK_TEMPORAL_PORT: int(1, 65535).default(7233),

  TEMPORAL_ADDRESS: z.string().optional(),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_TASK_QUEUE: z.string().default('batch-jobs'),
  // Unset: STACK_TEMPORAL_PORT + 1000 (8233), as the Temporal CLI does.
  TEMPORAL_UI_PORT: int(1, 65535).optional(),
  // Where people open the Temporal Web UI; the console links each batch and delivery there.
  TEMPORAL_UI_URL: httpUrl.optional(),
  TEMPORAL_CLI_PATH: z.string().optional(),
  TEMPORAL_TEST_SERVER_PATH: z.string().optional(),
  WORKFLOW_BUNDLE_PATH: z.string().optional(),
  // Workflows a worker keeps in memory between tasks (the sticky cache); 0 turns it off.
  WORKER_MAX_CACHED_WORKFLOWS: int(0, 100_000).default(500),
  // Temporal Cloud or any TLS-terminated cluster: mTLS client certificate and key, or an API key.
  TEMPORAL_TLS_CERT_PATH: z.string().optional(),
  TEMPORAL_TLS_KEY_PATH: z.string().optional(),
  TEMPORAL_TLS_CA_PATH: z.string().optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().optional(),
  TEMPORAL_TLS: booleanFromString.optional(),
  TEMPORAL_API_KEY: z.string().optional(),

  UPSTREAM_BASE_URL: httpUrl.optional(),
  // Per-model upstreams (JSON); a model no route matches goes to UPSTREAM_BASE_URL, or has no upstream.
  UPSTREAM_ROUTES: upstreamRoutes.optional(),
  UPSTREAM_API_KEY: z.string().optional(),
  UPSTREAM_CONCURRENCY: int(1, 1024).default(32),
  UPSTREAM_TIMEOUT_MS: int(100, 3_600_000).default(600_000),
  UPSTREAM_MAX_RETRIES: int(0, 20).default(5),
  UPSTREAM_RETRY_BASE_MS: int(1, 60_000).default(500),
  UPSTREAM_RETRY_MAX_MS: int(1, 600_000).default(30_000),
  // A batch pauses (instead of failing its requests) after this many connection errors or 502/503/504 in a row; 0: never.
  UPSTREAM_PAUSE_AFTER_FAILURES: int(0, 1000).default(5),
  // Which of OpenAI's batch endpoints the upstream serves; a batch naming another is refused with a 400.
  UPSTREAM_ENDPOINTS: upstreamEndpoints.default(DEFAULT_UPSTREAM_ENDPOINTS),

  ECHO_PORT: int(0, 65535).default(0),
  ECHO_LATENCY_MS: int(0, 600_000).default(0),
  ECHO_FAILURE_RATE: z.coerce.number().min(0).max(1).default(0),

  BATCH_CHUNK_SIZE: int(1, 10_000).default(500),
  BATCH_CHUNK_CONCURRENCY: int(1, 64).default(4),
  BATCH_PROGRESS_INTERVAL_SECONDS: int(1, 86_400).default(60),
  BATCH_CONTINUE_AS_NEW_EVENTS: int(50, 40_000).default(2_000),

  // Retention (docs/RETENTION.md): how long finished data is kept; a Temporal Schedule runs the clean-up.
  RETENTION_BATCH_REQUESTS: retention(30 * 86_400),
  RETENTION_WEBHOOK_EVENTS: retention(30 * 86_400),
  RETENTION_WEBHOOK_ATTEMPTS: retention(30 * 86_400),
  RETENTION_RESOLVED_DEAD_LETTERS: retention(30 * 86_400),
  RETENTION_CLEANUP_INTERVAL: z
    .string()
    .transform((raw, ctx) => {
      const seconds = parseDurationSeconds(raw);
      if (seconds === undefined || seconds < 60 || seconds > 7 * 86_400) {
        ctx.addIssue({ code: 'custom', message: 'expected a duration such as 1h or 15m (1m to 7d)' });
        return z.NEVER;
      }
      return Math.round(seconds);
    })
    .default(3600),
  RETENTION_DELETE_BATCH_SIZE: int(1, 100_000).default(1_000),

  WEBHOOK_SECRET: z.string().min(1).max(256).optional(),
  // After a secret rotation, how long deliveries are also signed with the previous secret (at most 30 days).
  WEBHOOK_SECRET_ROTATION_OVERLAP_SECONDS: int(0, 2_592_000).default(86_400),
  WEBHOOK_DEFAULT_MAX_RETRIES: int(1, 10).default(3),
  WEBHOOK_DEFAULT_TIMEOUT: int(5, 300).default(30),
  WEBHOOK_RETRY_SCHEDULE: retrySchedule.optional(),
  // Exponential backoff instead of the schedule: used when one of these is set and WEBHOOK_RETRY_SCHEDULE is not.
  WEBHOOK_RETRY_INITIAL_SECONDS: z.coerce.number().min(0.01).max(3600).optional(),
  WEBHOOK_RETRY_BACKOFF: z.coerce.number().min(1).max(10).optional(),
  WEBHOOK_RETRY_MAX_INTERVAL_SECONDS: z.coerce.number().min(0.01).max(86_400).optional(),
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: booleanFromString.default(false),
  WEBHOOK_BULK_RETRY_PER_SECOND: z.coerce.number().min(0.1).max(1000).default(10),
  // An endpoint whose every attempt failed for this long is disabled (Svix: 5 days); 0 never disables.
  WEBHOOK_ENDPOINT_DISABLE_AFTER_SECONDS: int(0, 31_536_000).default(432_000),
});

/** The environment's variables, grouped by what they configure; `Config` is its output type. */
const ConfigSchema = EnvSchema.superRefine((e, ctx) => {
  if (!!e.TEMPORAL_TLS_CERT_PATH !== !!e.TEMPORAL_TLS_KEY_PATH) {
    const missing = e.TEMPORAL_TLS_CERT_PATH ? 'TEMPORAL_TLS_KEY_PATH' : 'TEMPORAL_TLS_CERT_PATH';
    ctx.addIssue({ code: 'custom', path: [missing], message: 'mTLS needs both TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH' });
  }
  // `npm start` runs the API and a worker in one process: one port cannot serve both.
  if (e.METRICS_PORT !== undefined && e.METRICS_PORT !== 0 && e.METRICS_PORT === e.PORT) {
    ctx.addIssue({ code: 'custom', path: ['METRICS_PORT'], message: 'must differ from PORT' });
  }
  if (e.TEMPORAL_UI_PORT === undefined && e.STACK_TEMPORAL_PORT + 1000 > 65535) {
    ctx.addIssue({ code: 'custom', path: ['TEMPORAL_UI_PORT'], message: 'STACK_TEMPORAL_PORT + 1000 is above 65535: set TEMPORAL_UI_PORT' });
  }
}).transform((e) => ({
  logLevel: e.LOG_LEVEL,
  /** Undefined: each entry point picks (see chooseLogOutput). */
  logFormat: e.LOG_FORMAT,
  host: e.HOST,
  port: e.PORT,
  apiKeys: e.API_KEYS ?? [],
  databaseUrl: e.DATABASE_URL,
  databasePoolSize: e.DATABASE_POOL_SIZE,
  dataDir: e.DATA_DIR,
  /** Where the servers `npm start` runs itself listen (on 127.0.0.1). */
  stack: {
    postgresPort: e.STACK_POSTGRES_PORT,
    temporalPort: e.STACK_TEMPORAL_PORT,
    temporalUiPort: e.TEMPORAL_UI_PORT ?? e.STACK_TEMPORAL_PORT + 1000,
  },
  metrics: {
    /** Where a worker serves /metrics; undefined: it serves none. 0 picks a free port. */
    port: e.METRICS_PORT,
    /** Bearer token /metrics requires (API and worker); undefined: open, for a private network. */
    token: e.METRICS_TOKEN,
  },
  temporal: {
    address: e.TEMPORAL_ADDRESS,
    namespace: e.TEMPORAL_NAMESPACE,
    taskQueue: e.TEMPORAL_TASK_QUEUE,
    /** Unset: the console shows workflow ids without links (`npm start` sets its dev server's UI). */
    uiUrl: e.TEMPORAL_UI_URL,
    cliPath: e.TEMPORAL_CLI_PATH,
    testServerPath: e.TEMPORAL_TEST_SERVER_PATH,
    // Prebuilt workflow bundle (`npm run build:workflows`); unset means bundle at start-up.
    workflowBundlePath: e.WORKFLOW_BUNDLE_PATH,
    /** Sticky cache size; set here rather than derived by the SDK from the heap limit. */
    maxCachedWorkflows: e.WORKER_MAX_CACHED_WORKFLOWS,
    tls: {
      /** TLS is on when asked for, or implied by a client certificate, a CA or an API key. */
      enabled: e.TEMPORAL_TLS ?? !!(e.TEMPORAL_TLS_CERT_PATH || e.TEMPORAL_TLS_CA_PATH || e.TEMPORAL_API_KEY),
      certPath: e.TEMPORAL_TLS_CERT_PATH,
      keyPath: e.TEMPORAL_TLS_KEY_PATH,
      caPath: e.TEMPORAL_TLS_CA_PATH,
      serverName: e.TEMPORAL_TLS_SERVER_NAME,
    },
    apiKey: e.TEMPORAL_API_KEY,
  },
  upstream: {
    baseUrl: e.UPSTREAM_BASE_URL,
    apiKey: e.UPSTREAM_API_KEY,
    concurrency: e.UPSTREAM_CONCURRENCY,
    timeoutMs: e.UPSTREAM_TIMEOUT_MS,
    maxRetries: e.UPSTREAM_MAX_RETRIES,
    retryBaseMs: e.UPSTREAM_RETRY_BASE_MS,
    retryMaxMs: e.UPSTREAM_RETRY_MAX_MS,
    /** Attempts in a row finding the upstream away (connection error, 502/503/504) after which batches pause; 0: never. */
    pauseAfterFailures: e.UPSTREAM_PAUSE_AFTER_FAILURES,
    /** The batch endpoints it serves: the only ones `POST /v1/batches` accepts. */
    endpoints: e.UPSTREAM_ENDPOINTS,
    /** Per-model routes in the order written, each with its own pool, concurrency and retries. */
    routes: (e.UPSTREAM_ROUTES ?? []).map(({ pattern, route }) => ({
      pattern,
      baseUrl: route.base_url,
      apiKey: route.api_key ?? undefined,
      concurrency: route.concurrency ?? e.UPSTREAM_CONCURRENCY,
      timeoutMs: route.timeout_ms ?? e.UPSTREAM_TIMEOUT_MS,
      maxRetries: route.max_retries ?? e.UPSTREAM_MAX_RETRIES,
      retryBaseMs: route.retry_base_ms ?? e.UPSTREAM_RETRY_BASE_MS,
      retryMaxMs: route.retry_max_ms ?? e.UPSTREAM_RETRY_MAX_MS,
      pauseAfterFailures: route.pause_after_failures ?? e.UPSTREAM_PAUSE_AFTER_FAILURES,
    })),
  },
  echo: { port: e.ECHO_PORT, latencyMs: e.ECHO_LATENCY_MS, failureRate: e.ECHO_FAILURE_RATE },
  batch: {
    chunkSize: e.BATCH_CHUNK_SIZE,
    chunkConcurrency: e.BATCH_CHUNK_CONCURRENCY,
    progressIntervalSeconds: e.BATCH_PROGRESS_INTERVAL_SECONDS,
    continueAsNewEvents: e.BATCH_CONTINUE_AS_NEW_EVENTS,
  },
  /** Seconds each kind of finished data is kept (0: forever), and how the clean-up runs. */
  retention: {
    batchRequestsSeconds: e.RETENTION_BATCH_REQUESTS,
    webhookEventsSeconds: e.RETENTION_WEBHOOK_EVENTS,
    webhookAttemptsSeconds: e.RETENTION_WEBHOOK_ATTEMPTS,
    resolvedDeadLettersSeconds: e.RETENTION_RESOLVED_DEAD_LETTERS,
    cleanupIntervalSeconds: e.RETENTION_CLEANUP_INTERVAL,
    deleteBatchSize: e.RETENTION_DELETE_BATCH_SIZE,
  },
  webhook: {
    secret: e.WEBHOOK_SECRET,
    secretRotationOverlapSeconds: e.WEBHOOK_SECRET_ROTATION_OVERLAP_SECONDS,
    defaultMaxRetries: e.WEBHOOK_DEFAULT_MAX_RETRIES,
    defaultTimeoutSeconds: e.WEBHOOK_DEFAULT_TIMEOUT,
    /** Waits before attempts 2, 3, …; null when exponential backoff was asked for instead. */
    retryScheduleSeconds:
      e.WEBHOOK_RETRY_SCHEDULE ??
      (e.WEBHOOK_RETRY_INITIAL_SECONDS ?? e.WEBHOOK_RETRY_BACKOFF ?? e.WEBHOOK_RETRY_MAX_INTERVAL_SECONDS ? null : DEFAULT_WEBHOOK_RETRY_SCHEDULE_SECONDS),
    retryInitialSeconds: e.WEBHOOK_RETRY_INITIAL_SECONDS ?? 10,
    retryBackoff: e.WEBHOOK_RETRY_BACKOFF ?? 2,
    retryMaxIntervalSeconds: e.WEBHOOK_RETRY_MAX_INTERVAL_SECONDS ?? 3600,
    allowPrivateNetworks: e.WEBHOOK_ALLOW_PRIVATE_NETWORKS,
    bulkRetryPerSecond: e.WEBHOOK_BULK_RETRY_PER_SECOND,
    endpointDisableAfterSeconds: e.WEBHOOK_ENDPOINT_DISABLE_AFTER_SECONDS,
  },
}));

export type Config = z.output<typeof ConfigSchema>;

/**
 * Parses the environment into a Config. Empty strings count as unset so that
 * `.env` files and compose files can list a variable without a value.
 */
export function parseConfig(env: Record<string, string | undefined>): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = ConfigSchema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? 'environment');
    throw new ConfigError(`invalid configuration: ${name}: ${issue.message}`);
  }
  return parsed.data;
}

/** Entry points call this: a bad value prints one line naming the variable and exits non-zero. */
export function loadConfigOrExit(env: Record<string, string | undefined> = process.env): Config {
  try {
    return parseConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

type Required<T, K extends keyof T> = T & { [P in K]-?: NonNullable<T[P]> };

/** What the API process needs beyond the defaults: where Postgres and Temporal are, and keys. */
export type ApiConfig = Required<Config, 'databaseUrl'> & { temporal: Required<Config['temporal'], 'address'> };
/** What a worker process needs beyond the defaults: Postgres, Temporal and an upstream (a default or routes). */
export type WorkerConfig = Required<Config, 'databaseUrl'> & { temporal: Required<Config['temporal'], 'address'> };

function exitMissing(role: string, missing: string[]): never {
  process.stderr.write(`invalid configuration: ${missing[0]}: required by the ${role} (npm start runs an embedded stack instead)\n`);
  process.exit(1);
}

/** Narrows the config for `npm run api`, or prints which variable is missing and exits. */
export function requireApiConfig(config: Config): ApiConfig {
  const missing = [
    ...(config.databaseUrl ? [] : ['DATABASE_URL']),
    ...(config.temporal.address ? [] : ['TEMPORAL_ADDRESS']),
    ...(config.apiKeys.length > 0 ? [] : ['API_KEYS']),
  ];
  if (missing.length > 0) exitMissing('API', missing);
  return config as ApiConfig;
}

/** Narrows the config for `npm run worker`, or prints which variable is missing and exits. */
export function requireWorkerConfig(config: Config): WorkerConfig {
  const missing = [
    ...(config.databaseUrl ? [] : ['DATABASE_URL']),
    ...(config.temporal.address ? [] : ['TEMPORAL_ADDRESS']),
    ...(config.upstream.baseUrl || config.upstream.routes.length > 0 ? [] : ['UPSTREAM_BASE_URL']),
  ];
  if (missing.length > 0) exitMissing('worker', missing);
  return config as WorkerConfig;
}
