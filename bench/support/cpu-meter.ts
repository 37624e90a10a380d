import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { round } from './measure.js';

/**
 * Where the CPU went during a measured phase, per process group and for the
 * whole machine (Linux /proc). The machine is shared: "other" is CPU time
 * that none of our processes used, i.e. how noisy the neighbours were.
 */

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** utime + stime of one process in ticks; 0 once it is gone. */
function processTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may itself contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/** Busy ticks of all CPUs together (everything but idle and iowait). */
function machineBusyTicks(): number {
  const [, ...values] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/);
  const ticks = values.map(Number);
  const total = ticks.slice(0, 8).reduce((a, b) => a + b, 0);
  return total - ticks[3]! - ticks[4]!;
}

/** Pids whose command line contains `needle` (e.g. a unique temp-dir path). */
export function pidsWithCommandLine(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) pids.push(Number(entry));
    } catch {
      // The process exited while we looked.
    }
  }
  return pids;
}

/** The postmaster of a data directory and its backends (which come and go). */
export function postgresPids(dataDir: string): number[] {
  const postmaster = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n', 1)[0]);
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === postmaster) children.push(Number(entry));
    } catch {
      // The process exited while we looked.
    }
  }
  return [postmaster, ...children];
}

/** `roots` and every process below them, e.g. a worker and any helper process it spawned. */
export function processTreePids(roots: readonly number[]): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // The process exited while we looked.
    }
  }
  const found: number[] = [];
  const queue = [...roots];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    found.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return found;
}

export type PidGroups = Record<string, () => number[]>;

export interface CpuUsage {
  wall_seconds: number | null;
  cpu_seconds: Record<string, number | null>;
  ours_cpu_seconds: number | null;
  other_processes_cpu_seconds: number | null;
  machine_busy_cores: number | null;
}

/** Starts measuring; `stop()` returns CPU seconds per group, ours in total, the rest of the machine, and wall time. */
export function startCpuMeter(groups: PidGroups): { stop(): CpuUsage } {
  const startWall = performance.now();
  const startBusy = machineBusyTicks();
  const startTicks = new Map<number, number>();
  for (const resolve of Object.values(groups)) for (const pid of resolve()) startTicks.set(pid, processTicks(pid));

  return {
    stop() {
      const wallSeconds = (performance.now() - startWall) / 1000;
      const busySeconds = (machineBusyTicks() - startBusy) / TICKS_PER_SECOND;
      const perGroup: Record<string, number | null> = {};
      let ours = 0;
      for (const [name, resolve] of Object.entries(groups)) {
        // Pids that appeared meanwhile (new Postgres backends) count from zero.
        const seconds = resolve().reduce((sum, pid) => sum + processTicks(pid) - (startTicks.get(pid) ?? 0), 0) / TICKS_PER_SECOND;
        ours += seconds;
        perGroup[name] = round(seconds);
      }
      return {
        wall_seconds: round(wallSeconds, 3),
        cpu_seconds: perGroup,
        ours_cpu_seconds: round(ours),
        other_processes_cpu_seconds: round(Math.max(0, busySeconds - ours)),
        machine_busy_cores: round(busySeconds / wallSeconds),
      };
    },
  };
}

/** CPU milliseconds per item (a delivery, a request, a batch) for each group and for all of ours together. */
export function cpuMsPer(cpu: CpuUsage, items: number): Record<string, number | null> {
  const per = (seconds: number | null) => (seconds === null || items === 0 ? null : round((seconds * 1000) / items, 3));
  const result: Record<string, number | null> = {};
  for (const [group, seconds] of Object.entries(cpu.cpu_seconds)) result[group] = per(seconds);
  result.total = per(cpu.ours_cpu_seconds);
  return result;
}

/** "total 21.4 ms (temporal 12.1, worker 7.3, postgres 1.4, bench 0.6)", biggest first. */
export function describeCpuMs(perItem: Record<string, number | null>): string {
  const { total, ...groups } = perItem;
  const parts = Object.entries(groups)
    .sort(([, a], [, b]) => (b ?? 0) - (a ?? 0))
    .map(([group, ms]) => `${group} ${ms === null ? '?' : ms.toFixed(ms < 10 ? 2 : 1)}`);
  return `${total === null || total === undefined ? '?' : total.toFixed(total < 10 ? 2 : 1)} ms (${parts.join(', ')})`;
}
