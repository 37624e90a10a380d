import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { withTimeout } from './cleanup.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TAIL_LINES = 40;

export interface NodeProcess {
  pid: number;
  /** The last lines the process printed (stdout and stderr), for error messages. */
  tail(): string;
  /** Resolves with the first stdout line that `match` accepts. */
  waitForLine(match: (line: string) => boolean, timeoutMs: number, what: string): Promise<string>;
  /** Peak resident set size (VmHWM) so far, in MiB; undefined once the process is gone. */
  peakRssMiB(): number | undefined;
  hasExited(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Runs a TypeScript entry point as `node --import tsx <script>`, so the pid is
 * the Node process itself (`tsx <script>` would put a second node in between
 * and /proc/<pid>/status would describe the wrong process).
 */
export function startNodeProcess(script: string, args: string[], env: Record<string, string>): NodeProcess {
  return startNodeCommand(['--import', 'tsx', script, ...args], env, script);
}

/** `node <nodeArgs>` (flags, then a script and its arguments) as its own process, the pid being that Node. */
export function startNodeCommand(nodeArgs: string[], env: Record<string, string>, script: string): NodeProcess {
  const child = spawn(process.execPath, nodeArgs, {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not start ${script}`);
  const pid = child.pid;
  let exited = false;
  const exit = once(child, 'exit').then(() => void (exited = true));
  // Never leave an orphaned worker or echo server behind when the bench dies.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  let lines: string[] = [];
  const lineListeners = new Set<(line: string) => void>();
  const collect = (isStdout: boolean) => {
    let partial = '';
    return (data: Buffer) => {
      const parts = (partial + data.toString('utf8')).split('\n');
      partial = parts.pop() ?? '';
      lines = lines.concat(parts).slice(-TAIL_LINES);
      if (isStdout) for (const line of parts) for (const listener of lineListeners) listener(line);
    };
  };
  child.stdout.on('data', collect(true));
  child.stderr.on('data', collect(false));

  return {
    pid,
    tail: () => lines.join('\n'),
    hasExited: () => exited,
    waitForLine(match, timeoutMs, what) {
      const found = new Promise<string>((resolve, reject) => {
        const listener = (line: string) => {
          if (!match(line)) return;
          lineListeners.delete(listener);
          resolve(line);
        };
        lineListeners.add(listener);
        void exit.then(() => reject(new Error(`${script} exited before ${what}:\n${lines.join('\n')}`)));
      });
      return withTimeout(found, timeoutMs, what);
    },
    peakRssMiB() {
      try {
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        const kb = /^VmHWM:\s+(\d+)\s+kB/m.exec(status)?.[1];
        return kb === undefined ? undefined : Number(kb) / 1024;
      } catch {
        return undefined;
      }
    },
    async stop(graceMs = 15_000) {
      process.removeListener('exit', killOnExit);
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exit;
      clearTimeout(timer);
    },
  };
}
