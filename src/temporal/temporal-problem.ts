import { NamespaceNotFoundError } from '@temporalio/client';
import { registerSearchAttributeCommand } from './namespace-status.js';

const GRPC_INVALID_ARGUMENT = 3;

/**
 * Says what is wrong when Temporal refuses a call because of how the cluster
 * is set up (as opposed to being unreachable): a missing namespace or search
 * attribute will not fix itself on retry, so the operator must be told how.
 */
export function temporalProblem(err: unknown, namespace: string): { code: string; message: string } | undefined {
  if (err instanceof NamespaceNotFoundError) {
    return {
      code: 'temporal_namespace_not_found',
      message: `Temporal namespace '${namespace}' does not exist; create it with: temporal operator namespace create --namespace ${namespace}`,
    };
  }
  const cause = (err as { cause?: { code?: number; message?: string } }).cause ?? (err as { code?: number; message?: string });
  const attribute = cause?.code === GRPC_INVALID_ARGUMENT ? /search attribute:? (\w+)/i.exec(cause.message ?? '')?.[1] : undefined;
  if (attribute) {
    return {
      code: 'temporal_search_attribute_missing',
      message: `Temporal namespace '${namespace}' has no search attribute '${attribute}'; a worker registers it at start-up, or run: ${registerSearchAttributeCommand(namespace, attribute)}`,
    };
  }
  return undefined;
}
