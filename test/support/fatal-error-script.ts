// Run as a child process by fatal-error-exit.test.ts: a process whose error escapes every handler.
import { exitOnFatalError } from '../../src/shared/exit-on-fatal-error.js';
import { createLogger } from '../../src/shared/logger.js';

exitOnFatalError(createLogger('info', 'fatal-test'), async () => {
  process.stdout.write('cleanup ran\n');
});
const kind = process.argv[2];
setTimeout(() => {
  if (kind === 'rejection') void Promise.reject(new Error('nobody awaited this'));
  else throw new Error('nobody caught this');
}, 10);
// Keeps the process alive: without the handler Node would exit by itself anyway, but with code 1.
setInterval(() => undefined, 1_000);
