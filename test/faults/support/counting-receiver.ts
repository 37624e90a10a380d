import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhookSignature } from '../../../src/webhooks/verify-webhook-signature.js';

export interface Receipt {
  eventId: string;
  type: string;
  batchId: string;
  at: number;
  signatureValid: boolean;
  /** The status we answered, or null while held / when the sender went away first. */
  answered: number | null;
}

interface Hold {
  match: (r: Receipt) => boolean;
  arrived: (r: Receipt) => void;
  release: Promise<number>;
}

export interface CountingReceiver {
  url: string;
  receipts(batchIds: readonly string[]): Receipt[];
  /**
   * The next request matching `match` is held open: `arrived` resolves when it
   * comes in, and it is answered with `answer(status)` (if its sender is still there).
   */
  hold(match: (r: Receipt) => boolean): { arrived: Promise<Receipt>; answer(status: number): void };
  close(): Promise<void>;
}

/** A webhook receiver that verifies signatures and counts every delivery by `webhook-id`. */
export async function startCountingReceiver(secret: string): Promise<CountingReceiver> {
  const all: Receipt[] = [];
  const holds: Hold[] = [];
  const reply = (res: ServerResponse, receipt: Receipt, status: number) => {
    if (res.destroyed) return;
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end('ok', () => void (receipt.answered = status));
  };
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const payload = Buffer.concat(parts);
      let signatureValid = true;
      try {
        verifyWebhookSignature({ payload, headers: req.headers, secret });
      } catch {
        signatureValid = false;
      }
      let body: { type?: string; data?: { id?: string } } = {};
      try {
        body = JSON.parse(payload.toString('utf8')) as typeof body;
      } catch {
        // Counted with empty type and batch id: a broken body is itself evidence.
      }
      const receipt: Receipt = {
        eventId: String(req.headers['webhook-id'] ?? ''),
        type: body.type ?? '',
        batchId: body.data?.id ?? '',
        at: Date.now(),
        signatureValid,
        answered: null,
      };
      all.push(receipt);
      const index = holds.findIndex((h) => h.match(receipt));
      if (index === -1) return reply(res, receipt, 200);
      const [hold] = holds.splice(index, 1);
      hold!.arrived(receipt);
      void hold!.release.then((status) => reply(res, receipt, status));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    receipts: (batchIds) => all.filter((r) => batchIds.includes(r.batchId)),
    hold(match) {
      let arrived!: (r: Receipt) => void;
      let answer!: (status: number) => void;
      const arrivedP = new Promise<Receipt>((resolve) => (arrived = resolve));
      const release = new Promise<number>((resolve) => (answer = resolve));
      holds.push({ match, arrived, release });
      return { arrived: arrivedP, answer };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
