import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: string;
  receivedAt: number;
}

export type ReceiverBehaviour = (
  attemptNumber: number,
  req: ReceivedWebhook,
) => { status: number; delayMs?: number; headers?: Record<string, string>; /** Answer only once this settles. */ until?: Promise<unknown> };

/** A real local HTTP receiver that records every request and answers as told. */
export async function startWebhookReceiver(behaviour: ReceiverBehaviour = () => ({ status: 200 })) {
  const received: ReceivedWebhook[] = [];
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const hit = { headers: req.headers, body: Buffer.concat(parts).toString('utf8'), receivedAt: Date.now() };
      received.push(hit);
      const answer = behaviour(received.length, hit);
      const reply = () => {
        if (res.destroyed) return;
        res.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers });
        res.end(`receiver says ${answer.status}`);
      };
      if (answer.until) void answer.until.then(reply);
      else if (answer.delayMs) setTimeout(reply, answer.delayMs).unref();
      else reply();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
