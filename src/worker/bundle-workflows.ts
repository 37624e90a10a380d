import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

// Compiled (`npm run build:worker`), this module is .js and so are the workflows beside it; under tsx both are .ts.
const WORKFLOWS_ENTRY = new URL(`../workflows/index${import.meta.url.endsWith('.js') ? '.js' : '.ts'}`, import.meta.url);

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

const silent = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** Bundles the workflow code (webpack) once per process; every worker reuses it. */
export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({
    workflowsPath: fileURLToPath(WORKFLOWS_ENTRY),
    logger: silent,
  });
  return bundle;
}
