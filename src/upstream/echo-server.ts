import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The "echo model": a DEMO upstream, not a model. It speaks enough of the
 * OpenAI HTTP API for the stack to run end to end without a GPU: chat and text
 * completions echo the last user input, embeddings are a deterministic 8-float
 * vector from a hash of the input, `usage` counts whitespace-separated tokens.
 *
 * Fault injection, for demos and tests:
 * - `failureRate`: that share of requests gets 503 with `Retry-After: 0`;
 * - body field `"echo_status": 400`: always answer that status (a permanent error);
 * - body field `"echo_fail_first": N` (optional `"echo_fail_status"`, default 503):
 *   the first N times this exact body arrives it fails, then it succeeds;
 * - body field `"echo_delay_ms": N`: this request answers N ms late (on top of `latencyMs`).
 *
 * It is a plain node:http server kept lean, because benchmarks push thousands
 * of requests per second through it.
 */

export interface EchoServerOptions {
  port?: number;
  host?: string;
  latencyMs?: number;
  failureRate?: number;
}

export interface EchoServer {
  /** `http://host:port`, without a trailing slash. */
  url: string;
  stop(): Promise<void>;
  setLatency(ms: number): void;
  setFailureRate(rate: number): void;
  /** `failures` counts every answer with an error status, injected or not. */
  stats(): { requests: number; failures: number };
}

const DIMENSIONS = 8;

/** Starts the echo server; resolves once it listens. */
export async function startEchoServer(options: EchoServerOptions = {}): Promise<EchoServer> {
  const host = options.host ?? '127.0.0.1';
  let latencyMs = options.latencyMs ?? 0;
  let failureRate = options.failureRate ?? 0;
  let requests = 0;
  let failures = 0;
  let sequence = 0;
  /** Times each `echo_fail_first` body has been seen, keyed by a hash of the body. */
  const seen = new Map<string, number>();
  const timers = new Set<NodeJS.Timeout>();

  const send = (res: ServerResponse, seq: number, status: number, payload: unknown, extraHeaders?: Record<string, string>): void => {
    if (status >= 400) failures++;
    const text = JSON.stringify(payload);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'x-request-id': requestIdOf(res.req, seq),
      ...extraHeaders,
    });
    res.end(text);
  };

  const later = (ms: number, fn: () => void): void => {
    if (ms <= 0) return fn();
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };

  const answer = (req: IncomingMessage, res: ServerResponse, raw: string): void => {
    const seq = ++sequence;
    const path = req.url?.split('?', 1)[0] ?? '';
    if (req.method === 'GET' && path === '/v1/models') {
      return send(res, seq, 200, { object: 'list', data: [{ id: 'echo', object: 'model', created: 0, owned_by: 'echo' }] });
    }
    const build = req.method === 'POST' ? ENDPOINTS[path] : undefined;
    if (!build) return send(res, seq, 404, openAiError(`unknown endpoint ${req.method} ${path}`, 'invalid_request_error', 'not_found'));

    let body: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(raw);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      body = parsed as Record<string, unknown>;
    } catch {
      return send(res, seq, 400, openAiError('request body is not a JSON object', 'invalid_request_error', 'invalid_json'));
    }

    const delay = latencyMs + (typeof body.echo_delay_ms === 'number' ? body.echo_delay_ms : 0);
    later(delay, () => {
      if (res.destroyed) return;
      if (typeof body.echo_status === 'number' && body.echo_status >= 400 && body.echo_status <= 599) {
        return send(res, seq, body.echo_status, openAiError(`echo_status ${body.echo_status} requested`, 'invalid_request_error', 'echo_status'));
      }
      if (typeof body.echo_fail_first === 'number' && body.echo_fail_first > 0) {
        const key = createHash('sha1').update(raw).digest('base64');
        const count = (seen.get(key) ?? 0) + 1;
        seen.set(key, count);
        if (count <= body.echo_fail_first) {
          const status = typeof body.echo_fail_status === 'number' ? body.echo_fail_status : 503;
          return send(res, seq, status, openAiError(`injected failure ${count} of ${body.echo_fail_first}`, 'server_error', 'echo_fail_first'), {
            'retry-after': '0',
          });
        }
      }
      if (failureRate > 0 && Math.random() < failureRate) {
        return send(res, seq, 503, openAiError('the echo model is overloaded (injected failure)', 'server_error', 'overloaded'), { 'retry-after': '0' });
      }
      const result = build(body, seq);
      send(res, seq, 'error' in result ? 400 : 200, result);
    });
  };

  const server = createServer({ keepAlive: true, noDelay: true }, (req, res) => {
    requests++;
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (raw += chunk));
    req.on('end', () => answer(req, res, raw));
  });
  // Longer than client keep-alive so the client, not the server, closes idle sockets (no reset races).
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    setLatency: (ms) => void (latencyMs = ms),
    setFailureRate: (rate) => void (failureRate = rate),
    stats: () => ({ requests, failures }),
    stop: () =>
      new Promise<void>((resolve, reject) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

type Body = Record<string, unknown>;
type Builder = (body: Body, seq: number) => object;

const ENDPOINTS: Record<string, Builder | undefined> = {
  '/v1/chat/completions': chatCompletion,
  '/v1/completions': textCompletion,
  '/v1/embeddings': embeddings,
  '/v1/responses': response,
};

function chatCompletion(body: Body, seq: number): object {
  if (!Array.isArray(body.messages)) return openAiError('messages must be an array', 'invalid_request_error', 'invalid_messages');
  const messages = body.messages as { role?: unknown; content?: unknown }[];
  const lastUser = findLast(messages, (m) => m?.role === 'user');
  const { text, tokens, truncated } = limit(textOf(lastUser?.content), body.max_completion_tokens ?? body.max_tokens);
  const promptTokens = messages.reduce((sum, m) => sum + countTokens(textOf(m?.content)), 0);
  return {
    id: `chatcmpl-echo-${seq}`,
    object: 'chat.completion',
    created: nowSeconds(),
    model: modelOf(body),
    choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: truncated ? 'length' : 'stop' }],
    usage: { prompt_tokens: promptTokens, completion_tokens: tokens, total_tokens: promptTokens + tokens },
  };
}

function textCompletion(body: Body, seq: number): object {
  const prompts = Array.isArray(body.prompt) ? body.prompt.map(textOf) : [textOf(body.prompt)];
  let promptTokens = 0;
  let completionTokens = 0;
  const choices = prompts.map((prompt, index) => {
    const { text, tokens, truncated } = limit(prompt, body.max_tokens);
    promptTokens += countTokens(prompt);
    completionTokens += tokens;
    return { text, index, logprobs: null, finish_reason: truncated ? 'length' : 'stop' };
  });
  return {
    id: `cmpl-echo-${seq}`,
    object: 'text_completion',
    created: nowSeconds(),
    model: modelOf(body),
    choices,
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
  };
}

function embeddings(body: Body): object {
  const inputs = Array.isArray(body.input) && typeof body.input[0] !== 'number' ? body.input : [body.input];
  let promptTokens = 0;
  const data = inputs.map((input, index) => {
    const text = Array.isArray(input) ? input.join(' ') : textOf(input);
    promptTokens += Array.isArray(input) ? input.length : countTokens(text);
    const vector = embed(text);
    // The official SDKs ask for base64 by default: little-endian float32 bytes.
    const embedding = body.encoding_format === 'base64' ? Buffer.from(Float32Array.from(vector).buffer).toString('base64') : vector;
    return { object: 'embedding', index, embedding };
  });
  return { object: 'list', data, model: modelOf(body), usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } };
}

function response(body: Body, seq: number): object {
  const input = body.input;
  const items = Array.isArray(input) ? (input as { role?: unknown; content?: unknown }[]) : [{ role: 'user', content: input }];
  const lastUser = findLast(items, (m) => m?.role === 'user' || m?.role === undefined);
  const { text, tokens, truncated } = limit(textOf(lastUser?.content), body.max_output_tokens);
  const inputTokens = items.reduce((sum, m) => sum + countTokens(textOf(m?.content)), 0);
  return {
    id: `resp_echo_${seq}`,
    object: 'response',
    created_at: nowSeconds(),
    status: truncated ? 'incomplete' : 'completed',
    incomplete_details: truncated ? { reason: 'max_output_tokens' } : null,
    model: modelOf(body),
    output: [
      {
        type: 'message',
        id: `msg_echo_${seq}`,
        status: 'completed',
        role: 'assistant',
        content: [{ type: 'output_text', text, annotations: [] }],
      },
    ],
    output_text: text,
    usage: { input_tokens: inputTokens, output_tokens: tokens, total_tokens: inputTokens + tokens },
  };
}

/** Text of a message content: a string, or the text parts of a content array. */
function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let out = '';
  for (const part of content as { text?: unknown }[]) {
    if (typeof part?.text === 'string') out += out ? ` ${part.text}` : part.text;
  }
  return out;
}

function countTokens(text: string): number {
  let count = 0;
  let inToken = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const space = c === 32 || c === 9 || c === 10 || c === 13;
    if (!space && !inToken) count++;
    inToken = !space;
  }
  return count;
}

/** Cuts the echo to `max` whitespace tokens when the request sets a token limit. */
function limit(text: string, max: unknown): { text: string; tokens: number; truncated: boolean } {
  const tokens = countTokens(text);
  if (typeof max !== 'number' || tokens <= max) return { text, tokens, truncated: false };
  const kept = text.split(/\s+/).filter(Boolean).slice(0, Math.max(0, max));
  return { text: kept.join(' '), tokens: kept.length, truncated: true };
}

/** A unit vector derived from FNV-1a of the text and a xorshift stream: same text, same vector. */
function embed(text: string): number[] {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  let state = h >>> 0 || 1;
  const vector: number[] = [];
  let norm = 0;
  for (let i = 0; i < DIMENSIONS; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const value = (state >>> 0) / 0xffffffff - 0.5;
    vector.push(value);
    norm += value * value;
  }
  norm = Math.sqrt(norm) || 1;
  return vector.map((v) => Math.round((v / norm) * 1e6) / 1e6);
}

function findLast<T>(items: T[], match: (item: T) => boolean): T | undefined {
  for (let i = items.length - 1; i >= 0; i--) if (match(items[i]!)) return items[i];
  return undefined;
}

function modelOf(body: Body): string {
  return typeof body.model === 'string' ? body.model : 'echo';
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function requestIdOf(req: IncomingMessage, seq: number): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && given !== '' ? given : `req_echo_${seq}`;
}

function openAiError(message: string, type: string, code: string): { error: { message: string; type: string; param: null; code: string } } {
  return { error: { message, type, param: null, code } };
}
