/**
 * Benchmarks start servers and child processes; this makes sure they are all
 * stopped again, in reverse order, whether the run succeeds, throws or is
 * interrupted (SIGINT / SIGTERM).
 */

const STEP_TIMEOUT_MS = 30_000;

/** Progress and diagnostics go to stderr: stdout carries only the report. */
export const say = (msg: string): void => void process.stderr.write(`[bench] ${msg}\n`);

/** Rejects with a clear message when `promise` has not settled within `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${Math.round(ms / 1000)} s`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export class Cleanup {
  private readonly steps: { name: string; run: () => Promise<unknown> }[] = [];
  private running: Promise<void> | undefined;

  /** Registers a stop step; steps run last-added first. */
  add(name: string, run: () => Promise<unknown>): void {
    this.steps.push({ name, run });
  }

  /** Runs every step once, each bounded, continuing past failures. */
  run(): Promise<void> {
    this.running ??= (async () => {
      for (const step of this.steps.reverse()) {
        try {
          await withTimeout(step.run(), STEP_TIMEOUT_MS, `stopping ${step.name}`);
        } catch (err) {
          say(`cleanup: ${step.name}: ${(err as Error).message}`);
        }
      }
    })();
    return this.running;
  }
}

/**
 * Runs a benchmark's main function with a cleanup stack and exits explicitly
 * afterwards (gRPC channels and Postgres clients would otherwise keep the
 * process alive past a failure).
 */
export async function runBench(main: (cleanup: Cleanup) => Promise<void>): Promise<never> {
  const cleanup = new Cleanup();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      say(`${signal}: cleaning up`);
      void cleanup.run().finally(() => process.exit(130));
    });
  }
  let exitCode = 0;
  try {
    await main(cleanup);
  } catch (err) {
    say(`failed: ${(err as Error).stack ?? String(err)}`);
    exitCode = 1;
  }
  await cleanup.run();
  process.exit(exitCode);
}
