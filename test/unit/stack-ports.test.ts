import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { lockDataDir } from '../../src/stack/data-dir-lock.js';
import { checkStackPorts, StackStartError, stackPorts } from '../../src/stack/stack-ports.js';

describe('the ports npm start listens on', () => {
  it('are the documented defaults, each with the variable that moves it', () => {
    expect(stackPorts(parseConfig({})).map(({ variable, port }) => [variable, port])).toEqual([
      ['STACK_POSTGRES_PORT', 5433],
      ['STACK_TEMPORAL_PORT', 7233],
      ['TEMPORAL_UI_PORT', 8233],
      ['PORT', 4080],
    ]);
  });

  it('follow the environment, and leave out what runs elsewhere', () => {
    const moved = parseConfig({ STACK_POSTGRES_PORT: '15433', STACK_TEMPORAL_PORT: '17233', PORT: '14080', ECHO_PORT: '14081', METRICS_PORT: '14082' });
    expect(stackPorts(moved).map(({ variable, port }) => [variable, port])).toEqual([
      ['STACK_POSTGRES_PORT', 15433],
      ['STACK_TEMPORAL_PORT', 17233],
      ['TEMPORAL_UI_PORT', 18233],
      ['PORT', 14080],
      ['METRICS_PORT', 14082],
      ['ECHO_PORT', 14081],
    ]);
    const external = parseConfig({ DATABASE_URL: 'postgres://db/x', TEMPORAL_ADDRESS: 'temporal:7233', UPSTREAM_BASE_URL: 'http://vllm:8000', PORT: '0' });
    expect(stackPorts(external)).toEqual([]);
  });

  it('refuses one port given to two services, naming both variables', async () => {
    const ports = stackPorts(parseConfig({ STACK_TEMPORAL_PORT: '9000', TEMPORAL_UI_PORT: '5433' }));
    await expect(checkStackPorts(ports)).rejects.toThrow(
      new StackStartError("port 5433 is set for both the embedded Postgres (STACK_POSTGRES_PORT) and the Temporal dev server's Web UI (TEMPORAL_UI_PORT): give each its own port"),
    );
  });
});

describe('the DATA_DIR lock', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'data-dir-lock-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a directory a running process holds', async () => {
    const held = path.join(dir, 'held');
    await mkdir(held);
    // As another `npm start` leaves it: the pid file names a live process that is not this one.
    await writeFile(path.join(held, 'stack.pid'), `${process.ppid}\n`);
    expect(() => lockDataDir(held)).toThrow(new RegExp(`^DATA_DIR ${held} is in use by another npm start \\(pid ${process.ppid}\\)`));
  });

  it('takes over a pid file its process left behind, and removes it on release', async () => {
    const stale = path.join(dir, 'stale');
    const first = lockDataDir(stale);
    first();
    // A pid far above any pid_max: no such process.
    await writeFile(path.join(stale, 'stack.pid'), '2147483646\n');
    const release = lockDataDir(stale);
    expect(await readFile(path.join(stale, 'stack.pid'), 'utf8')).toBe(`${process.pid}\n`);
    release();
    await expect(readFile(path.join(stale, 'stack.pid'))).rejects.toThrow(/ENOENT/);
  });
});
