import type { NativeConnection } from '@temporalio/worker';
import proto from '@temporalio/proto';
import { BATCH_ID_ATTRIBUTE, WEBHOOK_EVENT_TYPE_ATTRIBUTE } from '../workflows/search-attributes.js';

/**
 * Registers the service's custom search attributes on the namespace when they
 * are missing, so operators can filter by batch and event in the Web UI.
 * Clusters that forbid it (e.g. Temporal Cloud) need them created by an admin.
 */
export async function ensureSearchAttributes(connection: NativeConnection, namespace: string): Promise<void> {
  const wanted = [BATCH_ID_ATTRIBUTE.name, WEBHOOK_EVENT_TYPE_ATTRIBUTE.name];
  const keyword = proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
  for (const name of wanted) {
    try {
      await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: { [name]: keyword } });
    } catch (err) {
      // Registered by an earlier start: exactly what we want.
      if (!/already exists/i.test((err as Error).message)) throw err;
    }
  }
}
