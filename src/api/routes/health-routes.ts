import { Hono } from 'hono';
import type { ServiceDeps } from '../../services/service-deps.js';

const withTimeout = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms).unref())]);

export function healthRoutes(deps: ServiceDeps) {
  return new Hono()
    .get('/health', (c) => c.json({ status: 'ok' }))
    .get('/ready', async (c) => {
      const [postgres, temporal] = await Promise.all([
        withTimeout(deps.pool.query('SELECT 1'), 2_000).then(() => 'ok', () => 'unreachable'),
        withTimeout(deps.temporal.workflowService.getSystemInfo({}), 2_000).then(() => 'ok', () => 'unreachable'),
      ]);
      const ready = postgres === 'ok' && temporal === 'ok';
      return c.json({ status: ready ? 'ready' : 'not_ready', checks: { postgres, temporal } }, ready ? 200 : 503);
    });
}
