/**
 * How production starts the worker (`npm run worker`, the Docker image):
 * compiled JavaScript (`npm run build:worker`) on plain Node, without tsx's
 * loader, and with these V8 flags. Benches start it with the same command;
 * a unit test keeps package.json's `worker` script in step with it.
 */

/** The compiled entry point, relative to the repository root. */
export const WORKER_ENTRY = 'dist/app/worker/main.js';

/**
 * Young generation of 4 MiB semi-spaces instead of V8's 16 MiB: each isolate
 * (the main thread and the workflow thread) then holds 8 MiB of new space, not
 * 32. The worker's short-lived garbage is small (protobufs, rows of one
 * chunk), so the extra scavenges cost little CPU.
 */
export const WORKER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];

/** `node <flags> <entry>` as arguments to the Node executable. */
export const workerNodeArgs = (): string[] => [...WORKER_NODE_FLAGS, WORKER_ENTRY];
