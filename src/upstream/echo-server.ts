import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ECHO_ENDPOINTS, openAiError } from './echo-responses.js';

/**
 * The "echo model": a DEMO upstream, not a model. It speaks enough of the
 * OpenAI HTTP API for the stack to run end to end without a GPU: chat and text
 * completions and responses echo the last user input, embeddings are a
 * deterministic 8-float vector from a hash of the input, moderations flag
 * trigger words, and `usage` counts whitespace-separated tokens (see
 * echo-responses.ts for exactly how, so tests can predict every number).
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
  /**
   * `failures` counts every answer with an error status, injected or not;
   * `maxInFlight` is the most requests it held unanswered at once.
   */
  stats(): { requests: number; failures: number; maxInFlight: number };
}

/** Starts the echo server; resolves once it listens. */
export async function startEchoServer(options: EchoServerOptions = {}): Promise<EchoServer> {
  const host = options.host ?? '127.0.0.1';
  let latencyMs = options.latencyMs ?? 0;
  let failureRate = options.failureRate ?? 0;
  let requests = 0;
  let failures = 0;
  let inFlight = 0;
  let maxInFlight = 0;
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
    const build = req.method === 'POST' ? ECHO_ENDPOINTS[path] : undefined;
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
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.once('close', () => inFlight--);
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
    stats: () => ({ requests, failures, maxInFlight }),
    stop: () =>
      new Promise<void>((resolve, reject) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function requestIdOf(req: IncomingMessage, seq: number): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && given !== '' ? given : `req_echo_${seq}`;
}
