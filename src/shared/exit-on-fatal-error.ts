import type { Logger } from './logger.js';

const CLEANUP_LIMIT_MS = 10_000;

/**
 * Errors are handled where they occur (streams, parsers, sockets, pg clients),
 * so one reaching the top means the process is in a state nobody planned for.
 * Rather than keep serving from it, log the error and exit non-zero: the
 * supervisor (Docker, systemd, Kubernetes) starts a clean process, and
 * Temporal hands the dead worker's activities to another worker. `cleanup`
 * (bounded in time) stops child servers that would otherwise outlive us.
 */
export function exitOnFatalError(log: Logger, cleanup?: () => Promise<void>): void {
  let exiting = false;
  const die = (kind: string) => (err: unknown) => {
    const e = err instanceof Error ? err : new Error(String(err));
    log.fatal({ err: { message: e.message, stack: e.stack }, kind }, 'fatal error: exiting for the supervisor to restart the process');
    if (exiting) return;
    exiting = true;
    const limit = new Promise((resolve) => setTimeout(resolve, CLEANUP_LIMIT_MS).unref());
    void Promise.race([cleanup?.().catch(() => undefined), limit]).finally(() => process.exit(70));
  };
  process.on('uncaughtException', die('uncaughtException'));
  process.on('unhandledRejection', die('unhandledRejection'));
}
