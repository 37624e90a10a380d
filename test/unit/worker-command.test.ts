import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { WORKER_ENTRY, workerNodeArgs } from '../../src/worker/worker-command.js';

const read = (file: string) => readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;

describe('how production starts the worker', () => {
  it('npm run worker is the command benches measure: compiled, on plain Node, with the worker V8 flags', () => {
    expect(scripts.worker).toBe(`node ${workerNodeArgs().join(' ')}`);
    expect(scripts.worker).not.toMatch(/tsx/);
  });

  it('builds the entry point it runs, and keeps a tsx path for development', () => {
    expect(scripts['build:worker']).toMatch(/tsc -p tsconfig\.worker\.json/);
    expect(WORKER_ENTRY).toBe('dist/app/worker/main.js');
    expect(scripts['worker:dev']).toBe('tsx src/worker/main.ts');
  });

  it('the image builds the worker and the worker container runs the same command, without npm', () => {
    expect(read('Dockerfile')).toMatch(/RUN npm run build:worker/);
    expect(read('docker-compose.yml')).toContain(`command: ${JSON.stringify(['node', ...workerNodeArgs()]).replaceAll(',', ', ')}`);
  });
});
