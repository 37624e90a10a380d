import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('./support/fatal-error-script.ts', import.meta.url));

function run(kind: 'exception' | 'rejection') {
  return spawnSync(process.execPath, ['--import', 'tsx', script, kind], { encoding: 'utf8', timeout: 30_000 });
}

describe('an error that escapes every handler', () => {
  it.each(['exception', 'rejection'] as const)('(%s) is logged, cleanup runs, and the process exits 70 for its supervisor', (kind) => {
    const result = run(kind);
    expect(result.status, result.stderr).toBe(70);
    const lines = result.stdout.trim().split('\n');
    const fatal = lines.map((l) => (l.startsWith('{') ? JSON.parse(l) : null)).find((l) => l?.level === 60);
    expect(fatal?.msg).toMatch(/fatal error/);
    expect(fatal?.err?.message).toMatch(kind === 'exception' ? /nobody caught this/ : /nobody awaited this/);
    expect(lines).toContain('cleanup ran');
  });
});
