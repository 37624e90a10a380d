import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { bundleWorkflows } from '../src/worker/bundle-workflows.js';
import { historyOf, type HistoryFixture } from './support/history-fixtures.js';

const DIR = fileURLToPath(new URL('./histories/', import.meta.url));

const names = (await readdir(DIR)).filter((f) => f.endsWith('.json')).sort();

/**
 * Workflows already running on a cluster replay their history against new
 * code. Each recorded history must replay without a non-determinism error, or
 * the change would break those executions (see CONTRIBUTING.md).
 */
describe('recorded workflow histories replay against the current workflow code', () => {
  it('has fixtures to replay', () => {
    expect(names.length).toBeGreaterThanOrEqual(23);
  });

  it.each(names)('%s', async (name) => {
    const fixture = JSON.parse(await readFile(`${DIR}${name}`, 'utf8')) as HistoryFixture;
    await Worker.runReplayHistory({ workflowBundle: await bundleWorkflows(), replayName: name }, historyOf(fixture), fixture.workflowId);
  });
});
