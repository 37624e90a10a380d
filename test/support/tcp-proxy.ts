import { type AddressInfo, createConnection, createServer, type Socket } from 'node:net';

export interface TcpProxy {
  /** `postgres://…` (or any URL) rewritten to go through the proxy. */
  url: string;
  /** Drops every open connection and refuses new ones until `restore()`: the target "goes down". */
  cut(): void;
  restore(): void;
  /** Resolves once `n` connections were refused since the last `cut()`. */
  refusals(n: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A TCP proxy on 127.0.0.1 in front of `targetUrl`'s host and port, so a test
 * can take a server away from one client (a worker's Postgres pool) without
 * stopping it for everyone else.
 */
export async function startTcpProxy(targetUrl: string): Promise<TcpProxy> {
  const target = new URL(targetUrl);
  const open = new Set<Socket>();
  let down = false;
  let refused = 0;
  let waiters: { n: number; resolve: () => void }[] = [];

  const server = createServer((client) => {
    if (down) {
      refused += 1;
      client.destroy();
      for (const w of waiters.filter((w) => refused >= w.n)) w.resolve();
      waiters = waiters.filter((w) => refused < w.n);
      return;
    }
    const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      open.add(a);
      a.pipe(b);
      a.on('error', () => b.destroy());
      a.on('close', () => {
        open.delete(a);
        b.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxied = new URL(targetUrl);
  proxied.hostname = '127.0.0.1';
  proxied.port = String((server.address() as AddressInfo).port);

  return {
    url: proxied.toString(),
    cut() {
      down = true;
      refused = 0;
      for (const socket of open) socket.destroy();
    },
    restore() {
      down = false;
    },
    refusals(n) {
      if (refused >= n) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
    close() {
      for (const socket of open) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
