import { pino, type Logger } from 'pino';
import { isColorSupported, prettyFactory } from 'pino-pretty';

export type { Logger };

/** `json`: one JSON object a line, for log collectors; `pretty`: readable lines for a person at a terminal. */
export type LogFormat = 'json' | 'pretty';

export interface LogOutput {
  format: LogFormat;
  /** Pretty lines only; never on by itself when stdout is not a terminal. */
  colorize: boolean;
}

export interface LoggerOptions extends Partial<LogOutput> {
  /** Where lines go; stdout by default. */
  destination?: { write(line: string): unknown };
}

const REDACT = {
  paths: ['secret', '*.secret', 'webhook_secret', '*.webhook_secret', 'authorization', '*.authorization', 'apiKey', '*.apiKey'],
  censor: '[redacted]',
};

/**
 * Structured logs, JSON unless `pretty` is asked for. Redaction is a safety
 * net: code never passes secrets or request bodies to the logger in the first
 * place. It runs before either format is written, since pretty lines are made
 * from the redacted JSON.
 */
export function createLogger(level: string, name: string, options: LoggerOptions = {}): Logger {
  const destination = options.destination ?? pino.destination(1);
  if (options.format !== 'pretty') return pino({ name, level, redact: REDACT }, destination);
  const prettify = prettyFactory({
    colorize: options.colorize ?? false,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
    singleLine: true,
  });
  return pino({ name, level, redact: REDACT }, { write: (line: string) => destination.write(prettify(line)) });
}

/**
 * How a process logs. `LOG_FORMAT` wins; otherwise `npm start`
 * (`prettyOnTerminal`) prints readable lines when stdout is a terminal, and
 * JSON when it is piped or redirected, as the API and the worker always do.
 * Colours only on a terminal that supports them (`NO_COLOR`, `TERM=dumb`).
 */
export function chooseLogOutput(opts: {
  requested: LogFormat | undefined;
  prettyOnTerminal: boolean;
  stdoutIsTerminal: boolean;
  colorSupported: boolean;
}): LogOutput {
  const format = opts.requested ?? (opts.prettyOnTerminal && opts.stdoutIsTerminal ? 'pretty' : 'json');
  return { format, colorize: format === 'pretty' && opts.stdoutIsTerminal && opts.colorSupported };
}

/** chooseLogOutput for this process's stdout. */
export function logOutputForStdout(requested: LogFormat | undefined, prettyOnTerminal: boolean): LogOutput {
  return chooseLogOutput({ requested, prettyOnTerminal, stdoutIsTerminal: process.stdout.isTTY === true, colorSupported: isColorSupported });
}
