import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Each prompt carries `cid:<custom_id>`; that is what the upstream counts by. */
export const promptFor = (customId: string, padding: string): string => `cid:${customId} ${padding}`;
const CUSTOM_ID = /cid:(\S+)/;

export interface CountingUpstream {
  url: string;
  /** Requests received per custom_id (every arrival, answered or not). */
  counts(prefix: string): Map<string, number>;
  close(): Promise<void>;
}

/**
 * A minimal OpenAI-compatible chat upstream: echoes the prompt after
 * `latencyMs` and counts every arrival per custom_id, so requests a fault made
 * the service send twice show up as counts above one.
 */
export async function startCountingUpstream(latencyMs: number): Promise<CountingUpstream> {
  const counts = new Map<string, number>();
  let seq = 0;
  const server = createServer({ keepAlive: true, noDelay: true }, (req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      let content = '';
      try {
        const body = JSON.parse(Buffer.concat(parts).toString('utf8')) as { messages?: { content?: unknown }[] };
        const last = body.messages?.[body.messages.length - 1]?.content;
        content = typeof last === 'string' ? last : '';
      } catch {
        // Answered 400 below.
      }
      const customId = CUSTOM_ID.exec(content)?.[1];
      if (!customId) {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'no cid: in prompt', type: 'invalid_request_error', param: null, code: null } }));
        return;
      }
      counts.set(customId, (counts.get(customId) ?? 0) + 1);
      const id = ++seq;
      setTimeout(() => {
        if (res.destroyed) return;
        const tokens = content.split(/\s+/).length;
        res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': `req_up_${id}` });
        res.end(
          JSON.stringify({
            id: `chatcmpl-up-${id}`,
            object: 'chat.completion',
            created: Math.floor(Date.now() / 1000),
            model: 'echo',
            choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
            usage: { prompt_tokens: tokens, completion_tokens: tokens, total_tokens: 2 * tokens },
          }),
        );
      }, latencyMs);
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    counts(prefix) {
      return new Map([...counts].filter(([id]) => id.startsWith(prefix)));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
