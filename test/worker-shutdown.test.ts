import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { getBatch } from './support/api-client.js';
import { batchOutcome, createBatch } from './support/batches.js';
import { chatLines, startHarness, type Harness } from './support/service-harness.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));

let h: Harness;
beforeAll(async () => {
  h = await startHarness({}, { server: 'dev-server' });
  await h.stopWorker(); // the production worker process below does the work
});
afterAll(async () => {
  await h?.close();
});

/** `npm run worker` as its own process, configured only through the environment. */
function startWorkerProcess(extraEnv: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker/main.ts'], {
    cwd: REPO,
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: inject('databaseUrl'),
      TEMPORAL_ADDRESS: h.env.address,
      TEMPORAL_TASK_QUEUE: h.config.temporal.taskQueue,
      UPSTREAM_BASE_URL: h.echo.url,
      WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
      LOG_LEVEL: 'info',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const started = new Promise<void>((resolve) => {
    child.stdout.on('data', () => {
      if (output.includes('"msg":"worker started"')) resolve();
    });
  });
  return { child, started, output: () => output };
}

describe('the worker process', () => {
  it('shuts down cleanly on SIGTERM mid-batch, and the batch completes on the next worker', async () => {
    const first = startWorkerProcess();
    await first.started;
    // No global secret configured: the worker says so at start-up.
    expect(first.output()).toContain('WEBHOOK_SECRET is not set');
    const batch = await createBatch(h, chatLines(20, () => ({ echo_delay_ms: 1500 })));
    // Wait until requests are in flight on the first worker.
    while ((await getBatch(h, batch.id)).status !== 'in_progress') {
      await new Promise((r) => setTimeout(r, 100));
    }
    first.child.kill('SIGTERM');
    const [code] = await once(first.child, 'exit');
    expect(code).toBe(0);
    expect(first.output()).toContain('worker stopped');

    // The next worker runs a prebuilt workflow bundle, as the production image does.
    const bundlePath = path.join(await mkdtemp(path.join(os.tmpdir(), 'bundle-')), 'workflow-bundle.js');
    const build = spawnSync(process.execPath, ['--import', 'tsx', 'src/worker/build-workflow-bundle.ts', bundlePath], { cwd: REPO, encoding: 'utf8' });
    expect(build.status, build.stderr).toBe(0);
    const second = startWorkerProcess({ WORKFLOW_BUNDLE_PATH: bundlePath });
    await second.started;
    expect(await batchOutcome(h, batch.id)).toBe('completed');
    const done = await getBatch(h, batch.id);
    expect(done.request_counts).toEqual({ total: 20, completed: 20, failed: 0 });
    const lines = (await (await h.api(`/v1/files/${done.output_file_id}/content`)).text()).trim().split('\n');
    expect(new Set(lines.map((l) => JSON.parse(l).custom_id)).size).toBe(20);
    expect(lines).toHaveLength(20);
    second.child.kill('SIGTERM');
    await once(second.child, 'exit');
  });
});
