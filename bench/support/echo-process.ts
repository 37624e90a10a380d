import type { Cleanup } from './cleanup.js';
import { startNodeProcess } from './node-process.js';

/** Starts bench/support/echo-main.ts and returns its URL and pid. */
export async function startEchoProcess(cleanup: Cleanup, latencyMs: number): Promise<{ url: string; pid: number }> {
  const echo = startNodeProcess('bench/support/echo-main.ts', ['--latency', String(latencyMs)], {});
  cleanup.add('echo process', () => echo.stop(5_000));
  const line = await echo.waitForLine((l) => l.startsWith('{"url"'), 60_000, 'the echo server listening');
  return { url: (JSON.parse(line) as { url: string }).url, pid: echo.pid };
}
