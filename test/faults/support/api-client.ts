import { setTimeout as delay } from 'node:timers/promises';

export interface BatchView {
  id: string;
  status: string;
  output_file_id: string | null;
  error_file_id: string | null;
  request_counts: { total: number; completed: number; failed: number };
  errors?: unknown;
}

/** One HTTP exchange, never thrown: a timeout or a refused connection is an outcome too. */
export interface Outcome {
  status: number | null;
  ms: number;
  contentType: string | null;
  text: string;
  error: string | null;
}

export const isTerminal = (status: string): boolean => ['completed', 'failed', 'cancelled', 'expired'].includes(status);

const DEFAULT_TIMEOUT_MS = 15_000;

/** The API over real HTTP as one owner (each scenario has its own, so lists show only its objects). */
export class ApiClient {
  constructor(
    private readonly base: string,
    private readonly key: string,
  ) {}

  async request(path: string, init: RequestInit & { timeoutMs?: number } = {}): Promise<Outcome> {
    const { timeoutMs = DEFAULT_TIMEOUT_MS, ...rest } = init;
    const started = performance.now();
    try {
      const res = await fetch(`${this.base}${path}`, {
        ...rest,
        headers: { authorization: `Bearer ${this.key}`, ...rest.headers },
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      return { status: res.status, ms: performance.now() - started, contentType: res.headers.get('content-type'), text, error: null };
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      return { status: null, ms: performance.now() - started, contentType: null, text: '', error: `${e.name}: ${e.cause?.code ?? e.message}` };
    }
  }

  /** Parsed JSON of a 200, or an error naming the outcome. */
  async json<T>(path: string, init: RequestInit & { timeoutMs?: number } = {}): Promise<T> {
    const out = await this.request(path, init);
    if (out.status !== 200) throw new Error(`${init.method ?? 'GET'} ${path}: ${out.status ?? out.error} ${out.text.slice(0, 300)}`);
    return JSON.parse(out.text) as T;
  }

  async upload(jsonl: string): Promise<string> {
    const form = new FormData();
    form.set('purpose', 'batch');
    form.set('file', new Blob([jsonl]), 'input.jsonl');
    return (await this.json<{ id: string }>('/files', { method: 'POST', body: form, timeoutMs: 60_000 })).id;
  }

  createBatchOutcome(inputFileId: string, webhookUrl: string): Promise<Outcome> {
    return this.request('/batches', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        input_file_id: inputFileId,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
        webhook: { url: webhookUrl, max_retries: 3, timeout: 5 },
      }),
    });
  }

  async createBatch(inputFileId: string, webhookUrl: string): Promise<BatchView> {
    const out = await this.createBatchOutcome(inputFileId, webhookUrl);
    if (out.status !== 200) throw new Error(`POST /batches: ${out.status ?? out.error} ${out.text.slice(0, 300)}`);
    return JSON.parse(out.text) as BatchView;
  }

  getBatch(id: string): Promise<BatchView> {
    return this.json<BatchView>(`/batches/${id}`);
  }

  /** Every item of a paginated list. */
  async listAll<T extends { id: string | number }>(path: string, limit: number): Promise<T[]> {
    const items: T[] = [];
    for (let after: string | number | undefined; ; ) {
      const sep = path.includes('?') ? '&' : '?';
      const page = await this.json<{ data: T[]; has_more: boolean; last_id: string | number | null }>(
        `${path}${sep}limit=${limit}${after === undefined ? '' : `&after=${after}`}`,
      );
      items.push(...page.data);
      if (!page.has_more || page.last_id === null) return items;
      after = page.last_id;
    }
  }

  async fileContent(id: string): Promise<string> {
    const out = await this.request(`/files/${id}/content`, { timeoutMs: 60_000 });
    if (out.status !== 200) throw new Error(`GET /files/${id}/content: ${out.status ?? out.error}`);
    return out.text;
  }

  /**
   * Starts a multipart upload whose file part trickles in `pieces` pieces of
   * `pieceBytes`, one every `everyMs`: long enough to kill something under it.
   * `sent()` says how many pieces went out; the promise settles with the outcome.
   */
  slowUpload(pieceBytes: number, pieces: number, everyMs: number): { sent(): number; done: Promise<Outcome> } {
    const boundary = `----faults${Math.random().toString(16).slice(2)}`;
    const enc = new TextEncoder();
    const head = enc.encode(
      `--${boundary}\r\ncontent-disposition: form-data; name="purpose"\r\n\r\nbatch\r\n` +
        `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="cut-off.jsonl"\r\ncontent-type: application/octet-stream\r\n\r\n`,
    );
    const line = enc.encode(`${JSON.stringify({ custom_id: 'never', method: 'POST', url: '/v1/chat/completions', body: { model: 'echo', messages: [{ role: 'user', content: 'x'.repeat(Math.max(1, pieceBytes - 120)) }] } })}\n`);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => controller.enqueue(head),
      pull: async (controller) => {
        if (sent >= pieces) {
          controller.enqueue(enc.encode(`\r\n--${boundary}--\r\n`));
          controller.close();
          return;
        }
        await delay(everyMs);
        controller.enqueue(line);
        sent += 1;
      },
    });
    const done = this.request('/files', {
      method: 'POST',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      body,
      duplex: 'half',
      timeoutMs: pieces * everyMs + 120_000,
    } as RequestInit & { timeoutMs: number });
    return { sent: () => sent, done };
  }
}
