import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { findFreePort } from '../src/stack/ports.js';

/** `npm start` as a user runs it, on ports and a DATA_DIR of the test's own. */
const REPO = fileURLToPath(new URL('..', import.meta.url));
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'start-ports-'));
  // When run as root, Postgres runs as the postgres user and must pass through this directory.
  await chmod(tmp, 0o755);
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function startStack(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/stack/start.ts'], {
    cwd: REPO,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as string | null }));
  return { child, exited, output: () => ({ stdout, stderr }) };
}

async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await findFreePort());
  return [...ports];
}

async function holdPort(port: number): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

describe('npm start with a port already taken', () => {
  it.each([
    ['STACK_POSTGRES_PORT', 'the embedded Postgres'],
    ['STACK_TEMPORAL_PORT', 'the Temporal dev server'],
    ['TEMPORAL_UI_PORT', "the Temporal dev server's Web UI"],
    ['PORT', 'the API'],
  ])('%s: one line names the port, %s and the variable, and it exits 1 having started nothing', async (variable, service) => {
    const [postgres, temporal, ui, api] = await distinctFreePorts(4);
    const ports: Record<string, number> = { STACK_POSTGRES_PORT: postgres!, STACK_TEMPORAL_PORT: temporal!, TEMPORAL_UI_PORT: ui!, PORT: api! };
    const taken = ports[variable]!;
    const squatter = await holdPort(taken);
    const dataDir = path.join(tmp, `taken-${variable}`);
    try {
      const stack = startStack({ DATA_DIR: dataDir, ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])) });
      const { code } = await stack.exited;
      const { stderr } = stack.output();
      expect(code, stderr).toBe(1);
      expect(stderr.trim().split('\n')).toEqual([
        `port ${taken} is already in use, so ${service} cannot listen on ${variable === 'PORT' ? '0.0.0.0' : '127.0.0.1'}:${taken}: set ${variable} to a free port (or stop what holds ${taken})`,
      ]);
      // Checked before anything started; the DATA_DIR lock is released again.
      expect(await readdir(dataDir)).toEqual([]);
    } finally {
      squatter.close();
    }
  });

  it('a second stack on the same DATA_DIR is refused with the pid holding it', async () => {
    const dataDir = path.join(tmp, 'shared');
    const [postgres, temporal, api] = await distinctFreePorts(3);
    // This test process plays the first stack: a live pid in the lock file.
    await mkdir(dataDir, { recursive: true });
    await writeFile(path.join(dataDir, 'stack.pid'), `${process.pid}\n`);
    const stack = startStack({ DATA_DIR: dataDir, STACK_POSTGRES_PORT: String(postgres), STACK_TEMPORAL_PORT: String(temporal), PORT: String(api) });
    const { code } = await stack.exited;
    const { stderr } = stack.output();
    expect(code, stderr).toBe(1);
    expect(stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^DATA_DIR .*shared is in use by another npm start \\(pid ${process.pid}\\)`))]);
  });
});

describe.skipIf(!inject('temporalCliPath'))('npm start on ports of its own', () => {
  it('runs Postgres, Temporal, its UI and the API where the variables say, logging JSON to a pipe', async () => {
    const [postgres, temporal, ui, api] = await distinctFreePorts(4);
    const stack = startStack({
      DATA_DIR: path.join(tmp, 'own-ports'),
      TEMPORAL_CLI_PATH: inject('temporalCliPath'),
      STACK_POSTGRES_PORT: String(postgres),
      STACK_TEMPORAL_PORT: String(temporal),
      TEMPORAL_UI_PORT: String(ui),
      PORT: String(api),
    });
    try {
      // The banner is printed once the API listens, after Postgres and Temporal are ready.
      await new Promise<void>((resolve, reject) => {
        const onData = () => {
          if (stack.output().stdout.includes('Temporal gRPC')) resolve();
        };
        stack.child.stdout.on('data', onData);
        void stack.exited.then(({ code }) => reject(new Error(`npm start exited (${code}): ${stack.output().stderr}`)));
      });
      const base = `http://127.0.0.1:${api}`;
      const { stdout } = stack.output();
      for (const shown of [`${base}/v1`, `${base}/console`, `${base}/docs`, `http://127.0.0.1:${ui}`, `127.0.0.1:${temporal}`, 'sk-local-dev-key']) {
        expect(stdout).toContain(shown);
      }

      expect((await fetch(`${base}/health`)).status).toBe(200);
      expect((await fetch(`${base}/console`)).status).toBe(200);
      expect((await fetch(`${base}/docs`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${ui}`)).ok).toBe(true);
      const client = new pg.Client(`postgres://postgres:postgres@127.0.0.1:${postgres}/batches`);
      await client.connect();
      await client.end();

      // Not a terminal: every log line is JSON; the banner is the only plain text.
      const logLines = stdout.split('\n').filter((line) => line.startsWith('{') || line.startsWith('['));
      expect(logLines.length).toBeGreaterThan(0);
      for (const line of logLines) expect(JSON.parse(line)).toHaveProperty('name', 'stack');
    } finally {
      stack.child.kill('SIGTERM');
      await stack.exited;
    }
  });
});
