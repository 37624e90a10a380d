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

  it('places the stack where STACK_* say, the Web UI 1000 above Temporal unless TEMPORAL_UI_PORT says otherwise', () => {
    expect(parseConfig({}).stack).toEqual({ postgresPort: 5433, temporalPort: 7233, temporalUiPort: 8233 });
    expect(parseConfig({ STACK_POSTGRES_PORT: '15433', STACK_TEMPORAL_PORT: '17233' }).stack).toEqual({
      postgresPort: 15433,
      temporalPort: 17233,
      temporalUiPort: 18233,
    });
    expect(parseConfig({ STACK_TEMPORAL_PORT: '17233', TEMPORAL_UI_PORT: '9000' }).stack.temporalUiPort).toBe(9000);
    expect(() => parseConfig({ STACK_TEMPORAL_PORT: '65000' })).toThrow(/^invalid configuration: TEMPORAL_UI_PORT: STACK_TEMPORAL_PORT \+ 1000 is above 65535/);
  });

  it('leaves the log format to the entry point unless LOG_FORMAT names one', () => {
    expect(parseConfig({}).logFormat).toBeUndefined();
    expect(parseConfig({ LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
    expect(parseConfig({ LOG_FORMAT: 'json' }).logFormat).toBe('json');
  });

  it.each([
    ['LOG_FORMAT', 'text'],
    ['STACK_POSTGRES_PORT', '0'],
    ['STACK_TEMPORAL_PORT', '70000'],
    ['TEMPORAL_UI_PORT', 'ui'],
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
