import { pino } from 'pino';
import { startApiServer } from '../../src/api/api-server.js';
import { parseConfig, requireApiConfig } from '../../src/config.js';
import type { Pool } from '../../src/db/pool.js';
import type { Cleanup } from './cleanup.js';

const OWNER = 'bench';
const API_KEY = 'sk-bench-key-0001';

export interface BatchView {
  id: string;
  status: string;
  request_counts: { total: number; completed: number; failed: number };
}

export interface BenchApi {
  uploadJsonl(jsonl: string): Promise<string>;
  /** `POST /v1/batches`; `extra` adds fields such as `webhook` to the body. */
  createBatch(inputFileId: string, extra?: Record<string, unknown>): Promise<BatchView>;
  getBatch(id: string): Promise<BatchView>;
}

/**
 * The real API server in this process, on a free loopback port, used over
 * real HTTP. Its logs go to stderr so stdout stays the report.
 */
export async function startBenchApi(
  cleanup: Cleanup,
  pool: Pool,
  opts: { databaseUrl: string; temporalAddress: string; taskQueue: string; env?: Record<string, string> },
): Promise<BenchApi> {
  const config = parseConfig({
    ...opts.env,
    API_KEYS: `${OWNER}:${API_KEY}`,
    DATABASE_URL: opts.databaseUrl,
    TEMPORAL_ADDRESS: opts.temporalAddress,
    TEMPORAL_TASK_QUEUE: opts.taskQueue,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'warn',
  });
  const log = pino({ name: 'api', level: config.logLevel }, pino.destination(2));
  const server = await startApiServer(requireApiConfig(config), pool, log);
  cleanup.add('api server', () => server.stop());
  const base = `http://127.0.0.1:${server.port}/v1`;
  const auth = { authorization: `Bearer ${API_KEY}` };

  const call = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    const res = await fetch(`${base}${path}`, { ...init, headers: { ...auth, ...init.headers } });
    const text = await res.text();
    if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${text.slice(0, 500)}`);
    return JSON.parse(text) as T;
  };

  return {
    async uploadJsonl(jsonl) {
      const form = new FormData();
      form.set('purpose', 'batch');
      form.set('file', new Blob([jsonl]), 'input.jsonl');
      return (await call<{ id: string }>('/files', { method: 'POST', body: form })).id;
    },
    createBatch: (inputFileId, extra = {}) =>
      call<BatchView>('/batches', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ input_file_id: inputFileId, endpoint: '/v1/chat/completions', completion_window: '24h', ...extra }),
      }),
    getBatch: (id) => call<BatchView>(`/batches/${id}`),
  };
}
