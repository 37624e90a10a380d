import { setTimeout as delay } from 'node:timers/promises';
import { pidsWithCommandLine } from '../../../bench/support/cpu-meter.js';
import { parseConfig } from '../../../src/config.js';
import { DEFAULT_TEMPORAL_BIN_CACHE_DIR, resolveTemporalCli } from '../../../src/stack/temporal-binaries.js';
import { startTemporalDevServer, type RunningTemporalDevServer } from '../../../src/stack/temporal-dev-server.js';
import { CUSTOM_SEARCH_ATTRIBUTES } from '../../../src/workflows/search-attributes.js';

/**
 * The Temporal dev server (the `temporal` CLI, SQLite file), startable again
 * on the same file and port after a SIGKILL, so workflows must survive it.
 */
export class TemporalServer {
  private server: RunningTemporalDevServer | undefined;

  private constructor(
    private readonly cliPath: string,
    readonly dbFile: string,
    readonly port: number,
    private readonly log: (msg: string) => void,
  ) {}

  static async create(dbFile: string, port: number, log: (msg: string) => void): Promise<TemporalServer> {
    const cli = await resolveTemporalCli({
      explicitPath: parseConfig(process.env).temporal.cliPath,
      cacheDir: DEFAULT_TEMPORAL_BIN_CACHE_DIR,
      pipInstall: false,
      log,
    });
    if (!cli) throw new Error('no Temporal CLI: run `bash .ci/run` once, or set TEMPORAL_CLI_PATH');
    const server = new TemporalServer(cli.path, dbFile, port, log);
    await server.start();
    return server;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.server = await startTemporalDevServer({
      cliPath: this.cliPath,
      dbFile: this.dbFile,
      port: this.port,
      headless: true,
      searchAttributes: CUSTOM_SEARCH_ATTRIBUTES,
      // After a SIGKILL the server replays its SQLite state; give it time on a busy machine.
      readyTimeoutMs: 90_000,
      log: this.log,
    });
  }

  /** SIGKILL to every process serving this database file. */
  async kill9(): Promise<void> {
    const pids = pidsWithCommandLine(this.dbFile);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    for (let i = 0; i < 100 && pidsWithCommandLine(this.dbFile).length > 0; i++) await delay(50);
  }

  async stop(): Promise<void> {
    await this.server?.stop();
  }
}
