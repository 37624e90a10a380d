import type { WorkflowService, OperatorService } from '@temporalio/client';
import { CUSTOM_SEARCH_ATTRIBUTES } from '../workflows/search-attributes.js';

/** What the API and the worker need of the Temporal namespace, and what is missing. */
export type NamespaceStatus =
  | { ok: true }
  | { ok: false; problem: 'unreachable' | 'namespace_not_found' | 'search_attributes_missing'; message: string };

interface TemporalServices {
  workflowService: Pick<WorkflowService, 'describeNamespace'>;
  operatorService: Pick<OperatorService, 'listSearchAttributes'>;
}

const GRPC_NOT_FOUND = 5;
const GRPC_UNIMPLEMENTED = 12;

/** The command that fixes each missing attribute, for messages an operator can act on. */
export function registerSearchAttributeCommand(namespace: string, name: string): string {
  return `temporal operator search-attribute create --namespace ${namespace} --name ${name} --type Keyword`;
}

/** Checks that the namespace exists and has the service's search attributes. */
export async function namespaceStatus(services: TemporalServices, namespace: string): Promise<NamespaceStatus> {
  try {
    await services.workflowService.describeNamespace({ namespace });
  } catch (err) {
    if ((err as { code?: number }).code === GRPC_NOT_FOUND) {
      return {
        ok: false,
        problem: 'namespace_not_found',
        message: `Temporal namespace '${namespace}' does not exist; create it with: temporal operator namespace create --namespace ${namespace}`,
      };
    }
    return { ok: false, problem: 'unreachable', message: `Temporal is unreachable: ${(err as Error).message}` };
  }
  let customAttributes: Record<string, unknown> | null | undefined;
  try {
    ({ customAttributes } = await services.operatorService.listSearchAttributes({ namespace }));
  } catch (err) {
    // Servers without the operator API (Temporal's time-skipping test server) cannot be asked.
    if ((err as { code?: number }).code === GRPC_UNIMPLEMENTED) return { ok: true };
    throw err;
  }
  const missing = Object.keys(CUSTOM_SEARCH_ATTRIBUTES).filter((name) => !(name in (customAttributes ?? {})));
  if (missing.length === 0) return { ok: true };
  return {
    ok: false,
    problem: 'search_attributes_missing',
    message: `Temporal namespace '${namespace}' lacks the search attribute${missing.length > 1 ? 's' : ''} ${missing.join(', ')}; a worker registers them at start-up, or run: ${missing.map((name) => registerSearchAttributeCommand(namespace, name)).join(' && ')}`,
  };
}
