import type { NativeConnection } from '@temporalio/worker';
import type { Logger } from '../shared/logger.js';
import { retryUntilDone } from '../shared/retry-until-done.js';
import { namespaceStatus } from '../temporal/namespace-status.js';
import { CUSTOM_SEARCH_ATTRIBUTES } from '../workflows/search-attributes.js';
import { ensureSearchAttributes } from './ensure-search-attributes.js';

/**
 * Waits until the namespace exists (a real cluster creates none by itself;
 * an operator does), registers the service's search attributes, and waits
 * until the namespace accepts them in queries: right after registration a
 * server can refuse them for a few seconds, and a batch started then would fail.
 */
export async function waitForNamespace(connection: NativeConnection, namespace: string, log: Logger, signal: AbortSignal): Promise<void> {
  const explain = (err: Error) => err.message;
  await retryUntilDone(
    `namespace '${namespace}'`,
    async () => {
      const status = await namespaceStatus(connection, namespace);
      if (!status.ok && status.problem !== 'search_attributes_missing') throw new Error(status.message);
    },
    log,
    { signal, explain, maxDelayMs: 10_000 },
  );
  await retryUntilDone(
    `search attributes ${Object.keys(CUSTOM_SEARCH_ATTRIBUTES).join(', ')} on '${namespace}'`,
    async () => {
      // Registered already (or by an admin where workers may not, e.g. Temporal Cloud): nothing to add.
      const status = await namespaceStatus(connection, namespace);
      if (!status.ok) {
        await ensureSearchAttributes(connection, namespace).catch((err: Error) => {
          throw new Error(`${status.message} (registering failed: ${err.message})`);
        });
      }
      const query = Object.keys(CUSTOM_SEARCH_ATTRIBUTES).map((name) => `${name} = "readiness-probe"`).join(' AND ');
      try {
        await connection.workflowService.countWorkflowExecutions({ namespace, query });
      } catch (err) {
        // Servers without visibility queries (the time-skipping test server) cannot be asked; anything else is "not yet".
        if ((err as { code?: number }).code !== 12) throw err;
      }
    },
    log,
    { signal, explain, initialDelayMs: 250, maxDelayMs: 5_000 },
  );
}
