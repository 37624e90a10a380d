import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs. Redaction is a safety net: code never passes secrets
 * or request bodies to the logger in the first place.
 */
export function createLogger(level: string, name: string): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: ['secret', '*.secret', 'webhook_secret', '*.webhook_secret', 'authorization', '*.authorization', 'apiKey', '*.apiKey'],
      censor: '[redacted]',
    },
  });
}
