import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { signWebhook } from '../../src/webhooks/webhook-signer.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** Runs an ES module snippet in plain Node (no TypeScript loader), as a receiver's app would. */
function runInPlainNode(code: string) {
  return spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: REPO, encoding: 'utf8' });
}

describe("the public 'temporal-batch-webhooks/verify' module", () => {
  it('imports in plain Node and verifies a real delivery, rejecting a tampered one', () => {
    const body = JSON.stringify({ id: 'evt_1', object: 'event', type: 'batch.completed', created_at: 1, data: {} });
    const headers = signWebhook({ secret: 'receiver-secret', eventId: 'evt_1', eventType: 'batch.completed', body, timestamp: Math.floor(Date.now() / 1000) });
    const run = runInPlainNode(`
      import { verifyWebhookSignature } from 'temporal-batch-webhooks/verify';
      const headers = ${JSON.stringify(headers)};
      const body = ${JSON.stringify(body)};
      verifyWebhookSignature({ payload: body, headers, secret: 'receiver-secret' });
      try {
        verifyWebhookSignature({ payload: body + ' ', headers, secret: 'receiver-secret' });
        console.log('tampered body accepted');
      } catch (err) {
        console.log('ok', err.name, err.reason);
      }
    `);
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe('ok WebhookVerificationError no_matching_signature');
  });

  it('verifies a delivery signed during a secret rotation with either secret, in either header', () => {
    const body = JSON.stringify({ id: 'evt_2', object: 'event', type: 'batch.completed', created_at: 1, data: {} });
    const headers = signWebhook({ secret: 'new-secret', previousSecret: 'old-secret', eventId: 'evt_2', eventType: 'batch.completed', body, timestamp: Math.floor(Date.now() / 1000) });
    const { 'webhook-signature': _standard, ...seedOnly } = headers;
    const run = runInPlainNode(`
      import { verifyWebhookSignature } from 'temporal-batch-webhooks/verify';
      const body = ${JSON.stringify(body)};
      for (const headers of [${JSON.stringify(headers)}, ${JSON.stringify(seedOnly)}]) {
        for (const secret of ['new-secret', 'old-secret']) verifyWebhookSignature({ payload: body, headers, secret });
        try {
          verifyWebhookSignature({ payload: body, headers, secret: 'another-secret' });
          console.log('wrong secret accepted');
        } catch (err) {
          console.log(err.reason);
        }
      }
    `);
    expect(run.stderr).toBe('');
    expect(run.stdout.trim().split('\n')).toEqual(['no_matching_signature', 'no_matching_signature']);
  });
});
