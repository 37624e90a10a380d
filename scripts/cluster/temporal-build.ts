import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../bench/support/node-process.js';

const execFileAsync = promisify(execFile);

export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
export const DEFAULT_BUILD_DIR = path.join(REPO_ROOT, '.cache', 'temporal-server');
const BUILD_TIMEOUT_MS = 30 * 60_000;

export interface TemporalServerBinaries {
  /** `temporal-server` (installed by `go install` as `server`). */
  server: string;
  /** `temporal-sql-tool` (installed as `sql`). */
  sqlTool: string;
  /** `…/schema/postgresql/v12`, holding `temporal/versioned` and `visibility/versioned`. */
  schemaDir: string;
}

export interface BuildOptions {
  /** GOBIN for the build; binaries found here are not built again. */
  buildDir?: string;
  /** The Go toolchain; default /usr/local/go/bin/go when it exists, else `go` on PATH. */
  go?: string;
  log: (msg: string) => void;
}

/**
 * The Temporal server and SQL tool built from the Go module proxy (about 4 min
 * on 2 cores, once). The schemas come with the module source in GOMODCACHE.
 */
export async function ensureTemporalServerBinaries(opts: BuildOptions): Promise<TemporalServerBinaries> {
  const buildDir = opts.buildDir ?? DEFAULT_BUILD_DIR;
  const go = opts.go ?? ((await isExecutable('/usr/local/go/bin/go')) ? '/usr/local/go/bin/go' : 'go');
  const env = { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-mod=mod', GOBIN: buildDir };
  const binaries = { server: path.join(buildDir, 'server'), sqlTool: path.join(buildDir, 'sql') };
  for (const [name, pkg] of [
    [binaries.server, 'go.temporal.io/server/cmd/server'],
    [binaries.sqlTool, 'go.temporal.io/server/cmd/tools/sql'],
  ] as const) {
    if (await isExecutable(name)) continue;
    opts.log(`building ${pkg}@${TEMPORAL_SERVER_VERSION} into ${buildDir} (a few minutes, once)`);
    const started = Date.now();
    await execFileAsync(go, ['install', `${pkg}@${TEMPORAL_SERVER_VERSION}`], { env, timeout: BUILD_TIMEOUT_MS, maxBuffer: 64 << 20 }).catch((err: Error & { stderr?: string }) => {
      throw new Error(`go install ${pkg} failed: ${(err.stderr ?? err.message).trim().split('\n').slice(-5).join('\n')}`);
    });
    opts.log(`built ${path.basename(name)} in ${Math.round((Date.now() - started) / 1000)} s`);
  }
  // The download above (or an earlier one) put the module's source, schemas included, here.
  const { stdout } = await execFileAsync(go, ['env', 'GOMODCACHE'], { env });
  const schemaDir = path.join(stdout.trim(), `go.temporal.io/server@${TEMPORAL_SERVER_VERSION}`, 'schema', 'postgresql', 'v12');
  if (!(await exists(path.join(schemaDir, 'temporal', 'versioned')))) {
    await execFileAsync(go, ['mod', 'download', `go.temporal.io/server@${TEMPORAL_SERVER_VERSION}`], { env, timeout: BUILD_TIMEOUT_MS });
  }
  return { ...binaries, schemaDir };
}

async function isExecutable(p: string): Promise<boolean> {
  return access(p, constants.X_OK).then(
    () => true,
    () => false,
  );
}

async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}
