import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../bench/support/node-process.js';
import { type TemporalDatabase, temporalDatabaseEnv } from './temporal-server-process.js';

const execFileAsync = promisify(execFile);

/** The one set-up script docker-compose.yml runs too. */
export const SETUP_SCRIPT = path.join(REPO_ROOT, 'deploy', 'temporal', 'setup.sh');
const SETUP_TIMEOUT_MS = 5 * 60_000;

export interface SetupTools {
  sqlTool: string;
  schemaDir: string;
  /** The `temporal` CLI. */
  cli: string;
}

/** Runs `deploy/temporal/setup.sh <step>` and relays its output lines. */
export async function runTemporalSetup(
  step: 'schema' | 'namespace',
  tools: SetupTools,
  env: { db: TemporalDatabase; address?: string; namespace?: string },
  log: (msg: string) => void,
): Promise<void> {
  try {
    const { stdout } = await execFileAsync('/bin/sh', [SETUP_SCRIPT, step], {
      timeout: SETUP_TIMEOUT_MS,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        ...temporalDatabaseEnv(env.db),
        TEMPORAL_SQL_TOOL: tools.sqlTool,
        TEMPORAL_SCHEMA_DIR: tools.schemaDir,
        TEMPORAL_CLI: tools.cli,
        ...(env.address ? { TEMPORAL_ADDRESS: env.address } : {}),
        ...(env.namespace ? { TEMPORAL_NAMESPACE: env.namespace } : {}),
      },
    });
    for (const line of stdout.split('\n').filter(Boolean)) log(line);
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(`setup.sh ${step} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`.trim());
  }
}
