import { spawn, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { withTimeout } from '../../../bench/support/cleanup.js';
import { REPO_ROOT } from '../../../bench/support/node-process.js';

const TAIL_LINES = 60;

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when we sent the signal (kill9/stop); false means the process died on its own. */
  expected: boolean;
  at: number;
  tail: string;
}

/**
 * A child process whose whole output goes to a log file (the evidence when a
 * scenario fails) and whose death we can tell apart from one we caused.
 */
export class ServiceProcess {
  readonly pid: number;
  private lines: string[] = [];
  private readonly listeners = new Set<(line: string) => void>();
  private exitInfo: ExitInfo | undefined;
  private killing = false;
  private readonly exit: Promise<void>;

  constructor(
    readonly name: string,
    command: string,
    args: string[],
    readonly logFile: string,
    options: SpawnOptions = {},
  ) {
    const child = spawn(command, args, { cwd: REPO_ROOT, ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid === undefined) throw new Error(`could not start ${name}`);
    this.pid = child.pid;
    const log = createWriteStream(logFile, { flags: 'a' });
    log.on('error', () => undefined);
    log.write(`--- ${new Date().toISOString()} ${name} started, pid ${this.pid}\n`);
    const collect = () => {
      let partial = '';
      return (data: Buffer) => {
        log.write(data);
        const parts = (partial + data.toString('utf8')).split('\n');
        partial = parts.pop() ?? '';
        this.lines = this.lines.concat(parts).slice(-TAIL_LINES);
        for (const line of parts) for (const listener of this.listeners) listener(line);
      };
    };
    child.stdout!.on('data', collect());
    child.stderr!.on('data', collect());
    // Never leave a child behind when the suite itself dies.
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    this.exit = once(child, 'exit').then(([code, signal]) => {
      process.removeListener('exit', killOnExit);
      this.exitInfo = { code, signal, expected: this.killing, at: Date.now(), tail: this.tail() };
      log.end(`--- ${new Date().toISOString()} ${name} exited (code ${code}, signal ${signal})\n`);
    });
  }

  tail(lines = 25): string {
    return this.lines.slice(-lines).join('\n');
  }

  exited(): ExitInfo | undefined {
    return this.exitInfo;
  }

  /** Resolves with the first output line `match` accepts; rejects if the process exits first. */
  waitForLine(match: (line: string) => boolean, timeoutMs: number, what: string): Promise<string> {
    const found = new Promise<string>((resolve, reject) => {
      const listener = (line: string) => {
        if (!match(line)) return;
        this.listeners.delete(listener);
        resolve(line);
      };
      this.listeners.add(listener);
      void this.exit.then(() => reject(new Error(`${this.name} exited before ${what}:\n${this.tail()}`)));
    });
    return withTimeout(found, timeoutMs, `${this.name}: ${what}`);
  }

  /** SIGKILL, as a crash or an OOM kill would; resolves once the process is gone. */
  async kill9(): Promise<void> {
    if (this.exitInfo) return;
    this.killing = true;
    process.kill(this.pid, 'SIGKILL');
    await this.exit;
  }

  /** `signal` (SIGTERM by default), then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.exitInfo) return;
    this.killing = true;
    process.kill(this.pid, signal);
    const timer = setTimeout(() => {
      if (!this.exitInfo) process.kill(this.pid, 'SIGKILL');
    }, graceMs);
    await this.exit;
    clearTimeout(timer);
  }
}

/** `node --import tsx <script>`: the pid is the Node process running the entry point itself. */
export function startNodeService(
  name: string,
  script: string,
  env: Record<string, string>,
  logFile: string,
  args: string[] = [],
): ServiceProcess {
  return new ServiceProcess(name, process.execPath, ['--import', 'tsx', script, ...args], logFile, {
    env: { PATH: process.env.PATH ?? '', ...env },
  });
}
