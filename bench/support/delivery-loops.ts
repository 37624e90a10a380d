import { setTimeout as delay } from 'node:timers/promises';
import { withTimeout } from './cleanup.js';
import { startCpuMeter, type PidGroups } from './cpu-meter.js';
import type { DeliverySide } from './delivery-sides.js';
import type { LoopRun, Settled } from './delivery-outcomes.js';
import { nowMs, runInLanes } from './measure.js';
import type { SeededEvent } from './seed-events.js';

// Lanes that collect the outcomes of an open loop once every event has been handed over.
const SETTLE_LANES = 32;
// The first arrival is due this long after the schedule is laid down, so it is not late from the start.
const SCHEDULE_LEAD_MS = 50;

export type Arrivals = 'poisson' | 'even';

/**
 * When each of `count` events arrives, in ms from the start: evenly spaced at
 * `ratePerSecond`, or a Poisson process of that rate (exponential gaps drawn
 * from a seeded generator, so every side and every run gets the same schedule).
 */
export function arrivalOffsetsMs(count: number, ratePerSecond: number, arrivals: Arrivals, seed: number): number[] {
  const gapMs = 1000 / ratePerSecond;
  if (arrivals === 'even') return Array.from({ length: count }, (_, i) => i * gapMs);
  const random = mulberry32(seed);
  const offsets: number[] = [];
  let t = 0;
  for (let i = 0; i < count; i++) {
    offsets.push(t);
    t += -Math.log(1 - random()) * gapMs;
  }
  return offsets;
}

/** A small seeded generator of uniform numbers in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * C lanes: a lane takes the next event, and takes another only when that one
 * is settled. An event's clock starts when its lane takes it.
 */
export async function closedLoop(
  side: DeliverySide,
  events: SeededEvent[],
  concurrency: number,
  cpuGroups: PidGroups,
  opts: { what: string; timeoutMs: number },
): Promise<LoopRun> {
  const settled: Settled[] = new Array(events.length);
  const meter = startCpuMeter(cpuGroups);
  const started = performance.now();
  try {
    const loop = runInLanes(events, concurrency, async (event, i) => {
      const startedAt = nowMs();
      await side.start(event, i, () => undefined);
      settled[i] = { startedAt, outcome: await side.settle(i) };
    });
    await withTimeout(loop, opts.timeoutMs, opts.what);
  } finally {
    await side.close();
  }
  return { seconds: (performance.now() - started) / 1000, settled, cpu: meter.stop() };
}

export interface OpenLoopRun extends LoopRun {
  /** Wall-clock ms at which each event was due (its `settled[i].startedAt` too). */
  dueAt: number[];
  /** Wall-clock ms at which the side accepted each event. */
  acceptedAt: number[];
}

/**
 * Hands event i over when it is due (`offsetsMs[i]` after the start), whether
 * or not earlier ones have finished: a late hand-over is made at once, never
 * skipped, and its clock still starts when it was due, so a backlog shows as
 * latency instead of as fewer arrivals. Outcomes are collected afterwards.
 */
export async function openLoop(
  side: DeliverySide,
  events: SeededEvent[],
  offsetsMs: readonly number[],
  cpuGroups: PidGroups,
  opts: { what: string; timeoutMs: number },
): Promise<OpenLoopRun> {
  const acceptedAt: number[] = new Array(events.length);
  const settled: Settled[] = new Array(events.length);
  const meter = startCpuMeter(cpuGroups);
  const started = performance.now();
  const t0 = nowMs() + SCHEDULE_LEAD_MS;
  const dueAt = offsetsMs.map((offset) => t0 + offset);
  try {
    const handOvers: Promise<void>[] = [];
    for (let i = 0; i < events.length; i++) {
      // A timer may fire a fraction of a millisecond early: never hand over before the due time.
      for (let wait = dueAt[i]! - nowMs(); wait > 0; wait = dueAt[i]! - nowMs()) await delay(wait);
      const handOver = side.start(events[i]!, i, () => void (acceptedAt[i] = nowMs()));
      // Awaited below, after the last arrival; until then a failure must not count as unhandled.
      handOver.catch(() => undefined);
      handOvers.push(handOver);
    }
    const collect = (async () => {
      await Promise.all(handOvers);
      await runInLanes(events, SETTLE_LANES, async (_, i) => {
        settled[i] = { startedAt: dueAt[i]!, outcome: await side.settle(i) };
      });
    })();
    await withTimeout(collect, opts.timeoutMs, opts.what);
  } finally {
    await side.close();
  }
  return { seconds: (performance.now() - started) / 1000, settled, cpu: meter.stop(), dueAt, acceptedAt };
}
