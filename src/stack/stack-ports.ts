import type { Config } from '../config.js';
import { isPortFree } from './ports.js';

/** A port `npm start` is about to listen on, and the variable that moves it. */
export interface StackPort {
  service: string;
  variable: string;
  host: string;
  port: number;
}

/** Something stops `npm start` before it starts anything; its message is the whole story. */
export class StackStartError extends Error {}

/**
 * The ports `npm start` listens on for what the environment leaves to it: the
 * embedded Postgres without DATABASE_URL, the Temporal dev server and its UI
 * without TEMPORAL_ADDRESS, the echo upstream without UPSTREAM_BASE_URL. Port 0
 * (a free one) is left out: nothing can hold it.
 */
export function stackPorts(config: Config): StackPort[] {
  const loopback = '127.0.0.1';
  const ports: StackPort[] = [];
  if (!config.databaseUrl) {
    ports.push({ service: 'the embedded Postgres', variable: 'STACK_POSTGRES_PORT', host: loopback, port: config.stack.postgresPort });
  }
  if (!config.temporal.address) {
    ports.push(
      { service: 'the Temporal dev server', variable: 'STACK_TEMPORAL_PORT', host: loopback, port: config.stack.temporalPort },
      { service: "the Temporal dev server's Web UI", variable: 'TEMPORAL_UI_PORT', host: loopback, port: config.stack.temporalUiPort },
    );
  }
  ports.push({ service: 'the API', variable: 'PORT', host: config.host, port: config.port });
  if (config.metrics.port) ports.push({ service: "the worker's metrics", variable: 'METRICS_PORT', host: config.host, port: config.metrics.port });
  if (!config.upstream.baseUrl) ports.push({ service: 'the echo upstream', variable: 'ECHO_PORT', host: loopback, port: config.echo.port });
  return ports.filter((p) => p.port !== 0);
}

/**
 * Checks every port before anything starts, so a clash is one message naming
 * the port, the service and the variable that moves it, not a half-started
 * stack failing in a child process's log.
 */
export async function checkStackPorts(ports: StackPort[]): Promise<void> {
  for (const [i, a] of ports.entries()) {
    const b = ports.slice(i + 1).find((other) => other.port === a.port);
    if (b) {
      throw new StackStartError(
        `port ${a.port} is set for both ${a.service} (${a.variable}) and ${b.service} (${b.variable}): give each its own port`,
      );
    }
  }
  for (const p of ports) {
    if (!(await isPortFree(p.port, p.host))) {
      throw new StackStartError(
        `port ${p.port} is already in use, so ${p.service} cannot listen on ${p.host}:${p.port}: ` +
          `set ${p.variable} to a free port (or stop what holds ${p.port})`,
      );
    }
  }
}
