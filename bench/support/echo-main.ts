/**
 * The echo upstream in a process of its own (`node --import tsx
 * bench/support/echo-main.ts --latency 20`), so that neither the baseline
 * client nor the worker shares an event loop with it: both then talk to it
 * across the same process boundary. Prints `{"url": …}` once listening.
 */
import { parseArgs } from 'node:util';
import { startEchoServer } from '../../src/upstream/echo-server.js';

const { values } = parseArgs({ options: { latency: { type: 'string', default: '0' } } });
const echo = await startEchoServer({ latencyMs: Number(values.latency) });
process.stdout.write(`${JSON.stringify({ url: echo.url })}\n`);
process.once('SIGTERM', () => {
  process.stdout.write(`${JSON.stringify({ stats: echo.stats() })}\n`);
  void echo.stop().finally(() => process.exit(0));
});
