import { Hono } from 'hono';
import { pingDatabase } from '../../db/pool.js';
import type { ServiceDeps } from '../../services/service-deps.js';
import { namespaceStatus } from '../../temporal/namespace-status.js';

const CHECK_TIMEOUT_MS = 2_000;

const withTimeout = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref())]);

/**
 * `/health` is liveness: the process serves. `/ready` says whether it can do
 * its job, and if not, what is missing: Postgres, the schema (migrations still
 * applying), Temporal, the namespace or its search attributes.
 */
export function healthRoutes(deps: ServiceDeps) {
  return new Hono()
    .get('/health', (c) => c.json({ status: 'ok' }))
    .get('/ready', async (c) => {
      const problems: string[] = [];
      const [postgres, temporal] = await Promise.all([
        withTimeout(pingDatabase(deps.pool), CHECK_TIMEOUT_MS).then(
          () => 'ok',
          (err: Error) => {
            problems.push(`Postgres is unreachable: ${err.message}`);
            return 'unreachable';
          },
        ),
        withTimeout(namespaceStatus(deps.temporal.connection, deps.config.temporal.namespace), CHECK_TIMEOUT_MS).then(
          (status) => {
            if (status.ok) return 'ok';
            problems.push(status.message);
            return status.problem;
          },
          (err: Error) => {
            problems.push(`Temporal is unreachable: ${err.message}`);
            return 'unreachable';
          },
        ),
      ]);
      const checks: Record<string, string> = { postgres, temporal };
      if (deps.startup && !deps.startup.schemaReady()) {
        checks.migrations = 'pending';
        problems.push('Database migrations are not applied yet.');
      }
      const ready = problems.length === 0;
      return c.json({ status: ready ? 'ready' : 'not_ready', checks, ...(ready ? {} : { problems }) }, ready ? 200 : 503);
    });
}
