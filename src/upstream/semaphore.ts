/** FIFO counting semaphore; a waiter whose signal aborts leaves the queue. */
export class Semaphore {
  active = 0;
  private readonly waiters: { grant: () => void; onAbort: () => void }[] = [];

  constructor(
    private readonly limit: number,
    /** The error a waiter rejects with when its signal aborts. */
    private readonly abortError: (signal: AbortSignal) => Error,
  ) {}

  acquire(signal: AbortSignal | undefined): Promise<void> {
    if (this.active < this.limit && this.waiters.length === 0) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        grant: () => {
          signal?.removeEventListener('abort', waiter.onAbort);
          resolve();
        },
        onAbort: () => {
          const index = this.waiters.indexOf(waiter);
          if (index >= 0) this.waiters.splice(index, 1);
          reject(this.abortError(signal!));
        },
      };
      this.waiters.push(waiter);
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
    });
  }

  release(): void {
    const next = this.waiters.shift();
    // The slot passes straight to the next waiter, so `active` stays the same.
    if (next) next.grant();
    else this.active--;
  }
}
