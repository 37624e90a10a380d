import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bundleWorkflows } from './bundle-workflows.js';

/**
 * `npm run build:workflows [out]`: writes the workflow bundle ahead of time
 * (default dist/workflow-bundle.js); point WORKFLOW_BUNDLE_PATH at it. Rebuild
 * it whenever src/workflows changes: a stale bundle runs stale workflow code.
 */
const out = path.resolve(process.argv[2] ?? 'dist/workflow-bundle.js');
const { code } = await bundleWorkflows();
await mkdir(path.dirname(out), { recursive: true });
await writeFile(out, code);
process.stdout.write(`workflow bundle written to ${out} (${(code.length / 1024).toFixed(0)} KiB)\n`);
