import { setTimeout as delay } from 'node:timers/promises';

/**
 * Calls `probe` every `everyMs` until it returns a value or `timeoutMs` passes
 * (then undefined: the caller reports that as a failed check, never a hang).
 * Used where the thing awaited lives in another process and cannot notify us.
 */
export async function poll<T>(timeoutMs: number, everyMs: number, probe: () => Promise<T | undefined>): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() >= deadline) return undefined;
    await delay(everyMs);
  }
}

/** The promise's value if it settles within `ms`, else undefined (the promise is left running). */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
