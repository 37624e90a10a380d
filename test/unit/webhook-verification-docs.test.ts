import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isWebhookVerificationError, verifyWebhookSignature } from '../../src/webhooks/verify-webhook-signature.js';
import { signWebhook } from '../../src/webhooks/webhook-signer.js';

// Runs the Python verifier printed in the receivers' docs against our signer, so the
// docs cannot drift from what we send. Skipped where python3 is not installed.
const DOC = new URL('../../docs/WEBHOOKS.md', import.meta.url);
const hasPython = spawnSync('python3', ['--version']).status === 0;

function pythonSnippet(): string {
  const doc = readFileSync(DOC, 'utf8');
  const marker = doc.indexOf('test/unit/webhook-verification-docs.test.ts');
  const block = /```python\n([\s\S]*?)```/.exec(doc.slice(marker));
  if (marker < 0 || !block?.[1]) throw new Error('tested Python block not found in docs/WEBHOOKS.md');
  return block[1];
}

const DRIVER = `
import json, sys
results = []
for case in json.load(sys.stdin):
    try:
        verify_webhook(case["payload"].encode("utf-8"), case["headers"], case["secret"], now=case["now"])
        results.append("passed")
    except WebhookVerificationError as err:
        results.append(err.reason)
print(json.dumps(results))
`;

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const NOW = 1_700_000_000;
const BODY = JSON.stringify({ id: 'evt_1', type: 'batch.completed', data: { note: 'naïve ✓' } });

interface Case {
  name: string;
  payload: string;
  headers: Record<string, string>;
  secret: string;
  now: number;
}

function signed(secret: string | undefined, timestamp = NOW): Record<string, string> {
  return signWebhook({ secret, eventId: 'evt_1', eventType: 'batch.completed', body: BODY, timestamp });
}

function pick(headers: Record<string, string>, prefix: string): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => name.toLowerCase().startsWith(prefix)));
}

const cases: Case[] = [
  { name: 'both formats', payload: BODY, headers: signed(SECRET), secret: SECRET, now: NOW },
  { name: 'standard only', payload: BODY, headers: pick(signed(SECRET), 'webhook-'), secret: SECRET, now: NOW },
  { name: 'seed only', payload: BODY, headers: pick(signed(SECRET), 'x-webhook-'), secret: SECRET, now: NOW },
  { name: 'plain secret', payload: BODY, headers: signed('plain secret'), secret: 'plain secret', now: NOW },
  { name: 'whsec_ not base64', payload: BODY, headers: pick(signed('whsec_nope!'), 'webhook-'), secret: 'whsec_nope!', now: NOW },
  { name: 'tampered body', payload: `${BODY} `, headers: signed(SECRET), secret: SECRET, now: NOW },
  { name: 'tampered body, seed', payload: `${BODY} `, headers: pick(signed(SECRET), 'x-webhook-'), secret: SECRET, now: NOW },
  { name: 'wrong secret', payload: BODY, headers: signed(SECRET), secret: 'whsec_d3Jvbmc=', now: NOW },
  { name: 'stale', payload: BODY, headers: signed(SECRET, NOW - 301), secret: SECRET, now: NOW },
  { name: 'future', payload: BODY, headers: signed(SECRET, NOW + 301), secret: SECRET, now: NOW },
  { name: 'edge of window', payload: BODY, headers: signed(SECRET, NOW - 300), secret: SECRET, now: NOW },
  { name: 'unsigned', payload: BODY, headers: signed(undefined), secret: SECRET, now: NOW },
];

function typescriptVerdict(c: Case): string {
  try {
    verifyWebhookSignature({ payload: c.payload, headers: c.headers, secret: c.secret, now: new Date(c.now * 1000) });
    return 'passed';
  } catch (err) {
    if (isWebhookVerificationError(err)) return err.reason;
    throw err;
  }
}

describe('docs/WEBHOOKS.md', () => {
  it.skipIf(!hasPython)('Python verifier agrees with ours on every case', () => {
    const run = spawnSync('python3', ['-c', pythonSnippet() + DRIVER], { input: JSON.stringify(cases), encoding: 'utf8', timeout: 30_000 });
    expect(run.stderr).toBe('');
    const python = JSON.parse(run.stdout) as string[];
    const ours = cases.map(typescriptVerdict);
    expect(Object.fromEntries(cases.map((c, i) => [c.name, python[i]]))).toEqual(Object.fromEntries(cases.map((c, i) => [c.name, ours[i]])));
    expect(ours).toEqual([
      'passed', 'passed', 'passed', 'passed', 'passed',
      'no_matching_signature', 'no_matching_signature', 'no_matching_signature',
      'timestamp_too_old', 'timestamp_too_new', 'passed', 'missing_headers',
    ]);
  });
});
