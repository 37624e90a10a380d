import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

describe('configuration from the environment', () => {
  it('applies documented defaults', () => {
    const config = parseConfig({});
    expect(config.port).toBe(4080);
    expect(config.webhook).toMatchObject({ defaultMaxRetries: 3, defaultTimeoutSeconds: 30, allowPrivateNetworks: false, secret: undefined });
    expect(config.batch).toMatchObject({ chunkSize: 500, chunkConcurrency: 4 });
  });

  it('parses owner:key pairs and booleans; empty strings mean unset', () => {
    const config = parseConfig({ API_KEYS: 'acme:sk-acme-123456, beta:sk-beta-123456', WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true', DATABASE_URL: '' });
    expect(config.apiKeys).toEqual([
      { owner: 'acme', key: 'sk-acme-123456' },
      { owner: 'beta', key: 'sk-beta-123456' },
    ]);
    expect(config.webhook.allowPrivateNetworks).toBe(true);
    expect(config.databaseUrl).toBeUndefined();
  });

  it.each([
    ['PORT', 'abc'],
    ['WEBHOOK_DEFAULT_MAX_RETRIES', '11'],
    ['WEBHOOK_DEFAULT_TIMEOUT', '4'],
    ['DATABASE_URL', 'mysql://x'],
    ['API_KEYS', 'no-separator'],
    ['WEBHOOK_ALLOW_PRIVATE_NETWORKS', 'maybe'],
  ])('names the variable in the error for %s=%s', (name, value) => {
    expect(() => parseConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => parseConfig({ [name]: value })).toThrow(new RegExp(`^invalid configuration: ${name}: `));
  });

  it.each(['src/api/main.ts', 'src/worker/main.ts'])('%s exits non-zero with one line naming a bad variable', (entry) => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', entry], {
      cwd: REPO,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, PORT: 'not-a-port', WEBHOOK_DEFAULT_TIMEOUT: '5' },
      timeout: 60_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^invalid configuration: PORT: /)]);
  });
});
