/**
 * Checks every API answer a test run recorded against the OpenAPI document.
 *
 *   npm run test:openapi-contract                      # the whole vitest suite, then the check
 *   npm run test:openapi-contract -- test/api-*.ts     # some test files, then the check
 *   npx tsx scripts/check-openapi-contract.ts answers.jsonl   # answers recorded before
 *
 * The harness appends one JSON line per answer when OPENAPI_CONTRACT_LOG is
 * set (test/support/response-recorder.ts). This prints each distinct problem
 * once, with how often it occurred, and exits 1 when there is any (or when
 * the tests failed).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createContractChecker } from '../test/support/openapi-contract.js';
import type { RecordedResponse } from '../test/support/response-recorder.js';

function check(file: string): number {
  const answers = existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as RecordedResponse)
    : [];
  const checker = createContractChecker();
  const problems = new Map<string, number>();
  for (const answer of answers) {
    // Ids differ from answer to answer: count a problem once per route pattern.
    for (const problem of checker(answer)) {
      const key = problem.replace(/^(\S+) \S+ → /, `$1 ${answer.path.replace(/\/(file-|batch_|we_)[^/]+|\/\d+(?=\/|$)/g, '/{id}')} → `);
      problems.set(key, (problems.get(key) ?? 0) + 1);
    }
  }
  for (const [problem, count] of problems) console.log(`${count}× ${problem}`);
  console.log(`${answers.length} answers checked, ${problems.size === 0 ? 'all as the OpenAPI document says' : `${problems.size} distinct problems`}`);
  return problems.size === 0 && answers.length > 0 ? 0 : 1;
}

const [first, ...rest] = process.argv.slice(2);
if (first === '--run') {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'openapi-answers-'));
  const file = path.join(dir, 'answers.jsonl');
  try {
    const tests = spawnSync('npx', ['vitest', 'run', ...rest], { stdio: 'inherit', env: { ...process.env, OPENAPI_CONTRACT_LOG: file } });
    const checked = check(file);
    process.exitCode = tests.status === 0 ? checked : 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
} else if (first) {
  process.exitCode = check(first);
} else {
  console.error('usage: tsx scripts/check-openapi-contract.ts --run [vitest arguments] | <recorded answers .jsonl>');
  process.exitCode = 2;
}
