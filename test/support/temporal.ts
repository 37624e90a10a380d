import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { TestWorkflowEnvironment, type DevServerConfig, type EphemeralServerExecutable } from '@temporalio/testing';
import { inject } from 'vitest';

// @temporalio/common does not export the key type itself.
type SearchAttributeKeys = NonNullable<DevServerConfig['searchAttributes']>;

/** The search attributes the service uses; the dev server registers them at start. */
export const SEARCH_ATTRIBUTES: SearchAttributeKeys = [
  defineSearchAttributeKey('BatchId', SearchAttributeType.KEYWORD),
  defineSearchAttributeKey('WebhookEventType', SearchAttributeType.KEYWORD),
];

function executable(path: string): EphemeralServerExecutable {
  // Empty means global setup found no binary: let the SDK try its download.
  return path ? { type: 'existing-path', path } : { type: 'cached-download' };
}

/** Time-skipping test server (no visibility/list, no UI); one per test file. */
export function createTestEnv(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: executable(inject('temporalTestServerPath')) },
  });
}

/** Real dev server (in memory, headless, random port) for tests that need visibility or search attributes. */
export function createLocalEnv(
  opts: { searchAttributes?: SearchAttributeKeys; namespace?: string } = {},
): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: executable(inject('temporalCliPath')),
      ip: '127.0.0.1',
      namespace: opts.namespace ?? 'default',
      searchAttributes: opts.searchAttributes ?? SEARCH_ATTRIBUTES,
      log: { format: 'pretty', level: 'error' },
    },
  });
}
