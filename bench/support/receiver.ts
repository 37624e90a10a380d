import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhookSignature } from '../../src/webhooks/verify-webhook-signature.js';
import type { Cleanup } from './cleanup.js';
import { nowMs } from './measure.js';

export interface Receipt {
  /** Wall-clock ms (see nowMs) when the whole body had arrived. */
  at: number;
  status: number;
  signatureValid: boolean;
}

export interface BenchReceiver {
  url: string;
  /** Every request so far, by `webhook-id`; `take()` hands them over and starts afresh. */
  take(): Map<string, Receipt[]>;
}

/**
 * A plain node:http webhook receiver on 127.0.0.1 that verifies each
 * signature (so a broken signing path shows up as a count, not a fast
 * figure) and answers 500 to a random `failureRate` share of requests.
 */
export async function startBenchReceiver(
  cleanup: Cleanup,
  opts: {
    secret: string;
    failureRate: number;
    /** Called with every request as it is answered, e.g. to wait for one event. */
    onReceipt?: (receipt: Receipt, payload: Buffer) => void;
  },
): Promise<BenchReceiver> {
  let receipts = new Map<string, Receipt[]>();
  const server = createServer({ keepAlive: true, noDelay: true }, (req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (chunk: Buffer) => parts.push(chunk));
    req.on('end', () => {
      const at = nowMs();
      const payload = Buffer.concat(parts);
      let signatureValid = true;
      try {
        verifyWebhookSignature({ payload, headers: req.headers, secret: opts.secret });
      } catch {
        signatureValid = false;
      }
      const status = Math.random() < opts.failureRate ? 500 : 200;
      const id = String(req.headers['webhook-id'] ?? '');
      const list = receipts.get(id) ?? [];
      const receipt = { at, status, signatureValid };
      list.push(receipt);
      receipts.set(id, list);
      opts.onReceipt?.(receipt, payload);
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': '2' });
      res.end('ok');
    });
  });
  // Longer than the clients' keep-alive, so clients close idle sockets (no reset races).
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.add('webhook receiver', () => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    take() {
      const taken = receipts;
      receipts = new Map();
      return taken;
    },
  };
}
