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
 * - The old generation grows by at most half between full collections
 *   (`--heap-growing-percent=50`) instead of V8's up-to-fourfold: the live
 *   heap stays at 40-60 MiB through a 50k batch, and garbage no longer piles
 *   up to ~150 MiB before a collection (50k batch: peak RSS 336 -> 234 MiB).
 *   No hard limit (`--max-old-space-size`): a batch of very large lines must
 *   not crash the worker. The workflow cache is sized by WORKER_MAX_CACHED_WORKFLOWS.
 */
export const WORKER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--heap-growing-percent=50'];

/** `node <flags> <entry>` as arguments to the Node executable. */
export const workerNodeArgs = (): string[] => [...WORKER_NODE_FLAGS, WORKER_ENTRY];
