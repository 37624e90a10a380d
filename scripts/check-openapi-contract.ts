/**
 * Checks every API answer a test run recorded against the OpenAPI document:
 *
 *   OPENAPI_CONTRACT_LOG=/tmp/answers.jsonl npx vitest run test/api-contract.test.ts …
 *   npx tsx scripts/check-openapi-contract.ts /tmp/answers.jsonl
 *
 * The harness appends one JSON line per answer (test/support/response-recorder.ts);
 * this prints each distinct problem once, with how often it occurred, and
 * exits 1 when there is any.
 */
import { readFileSync } from 'node:fs';
import { createContractChecker } from '../test/support/openapi-contract.js';
import type { RecordedResponse } from '../test/support/response-recorder.js';

const file = process.argv[2];
if (!file) {
  console.error('usage: tsx scripts/check-openapi-contract.ts <recorded answers .jsonl>');
  process.exit(2);
}

const answers = readFileSync(file, 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line) as RecordedResponse);
const check = createContractChecker();
const problems = new Map<string, number>();
for (const answer of answers) {
  // Ids differ from answer to answer: count a problem once per route pattern.
  for (const problem of check(answer)) {
    const key = problem.replace(/^(\S+) \S+ → /, `$1 ${answer.path.replace(/\/(file-|batch_|we_)[^/]+|\/\d+(?=\/|$)/g, '/{id}')} → `);
    problems.set(key, (problems.get(key) ?? 0) + 1);
  }
}
for (const [problem, count] of problems) console.log(`${count}× ${problem}`);
console.log(`${answers.length} answers checked, ${problems.size === 0 ? 'all as the OpenAPI document says' : `${problems.size} distinct problems`}`);
process.exit(problems.size === 0 ? 0 : 1);
