/**
 * How production starts the worker (`npm run worker`, the Docker image):
 * compiled JavaScript (`npm run build:worker`) on plain Node, without tsx's
 * loader, and with these V8 flags. Benches start it with the same command;
 * a unit test keeps package.json's `worker` script in step with it.
 */

/** The compiled entry point, relative to the repository root. */
export const WORKER_ENTRY = 'dist/app/worker/main.js';

/**
 * - 4 MiB semi-spaces instead of V8's 16: each isolate (the main thread and
 *   the workflow thread) holds 8 MiB of young generation, not 32.
 * - A 512 MiB old generation: far above the worker's live heap (40-60 MiB
 *   through a 50k batch), but below 1 GiB it makes V8 let the heap grow less
 *   between full collections, so garbage no longer piles up to ~150 MiB
 *   before one (50k batch: peak RSS 336 -> 221 MiB, worker CPU about +10%).
 *   The SDK would size its workflow cache from this limit; the worker sets
 *   that from WORKER_MAX_CACHED_WORKFLOWS instead.
 */
export const WORKER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--max-old-space-size=512'];

/** `node <flags> <entry>` as arguments to the Node executable. */
export const workerNodeArgs = (): string[] => [...WORKER_NODE_FLAGS, WORKER_ENTRY];
