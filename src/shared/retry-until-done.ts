import type { Logger } from './logger.js';

export interface RetryUntilDoneOptions {
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Says what is wrong in words an operator can act on; defaults to the error's message. */
  explain?: (err: Error) => string;
  signal?: AbortSignal;
}

/**
 * Runs `step` until it succeeds, waiting longer after each failure (with
 * jitter). Used at start-up, where a dependency that is not up yet (Postgres,
 * Temporal, a namespace) is a reason to wait, not to crash: orchestrators
 * start everything at once. Each failure is logged as one line.
 */
export async function retryUntilDone<T>(what: string, step: () => Promise<T>, log: Logger, opts: RetryUntilDoneOptions = {}): Promise<T> {
  const { initialDelayMs = 500, maxDelayMs = 15_000 } = opts;
  for (let attempt = 1, delayMs = initialDelayMs; ; attempt++, delayMs = Math.min(delayMs * 2, maxDelayMs)) {
    try {
      const result = await step();
      if (attempt > 1) log.info({ attempt }, `${what}: done`);
      return result;
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      const reason = opts.explain?.(err as Error) ?? (err as Error).message;
      const waitMs = Math.round(delayMs * (0.8 + Math.random() * 0.4));
      log.warn({ attempt, retryInMs: waitMs, reason }, `${what}: not yet, retrying`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        opts.signal?.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        }, { once: true });
      });
      if (opts.signal?.aborted) throw new Error(`${what}: stopped while waiting`);
    }
  }
}
