import { describe, expect, it } from 'vitest';
import { chooseLogOutput, createLogger, type LoggerOptions } from '../../src/shared/logger.js';

function capture(options: LoggerOptions) {
  const lines: string[] = [];
  const log = createLogger('info', 'stack', { ...options, destination: { write: (line: string) => lines.push(line) } });
  return { log, lines };
}

const SECRETS = { secret: 'whsec-top-1', webhook: { secret: 'whsec-top-2' }, headers: { authorization: 'Bearer sk-top-3' }, upstream: { apiKey: 'sk-top-4' } };

describe('log format', () => {
  it.each([
    // requested, npm start?, stdout a terminal?, colours supported? → format, colours
    [undefined, true, true, true, 'pretty', true],
    [undefined, true, true, false, 'pretty', false],
    [undefined, true, false, true, 'json', false],
    [undefined, false, true, true, 'json', false],
    [undefined, false, false, true, 'json', false],
    ['json', true, true, true, 'json', false],
    ['pretty', false, false, true, 'pretty', false],
    ['pretty', false, true, true, 'pretty', true],
  ] as const)('LOG_FORMAT=%s, npm start: %s, terminal: %s, colours: %s → %s (colours: %s)', (requested, prettyOnTerminal, stdoutIsTerminal, colorSupported, format, colorize) => {
    expect(chooseLogOutput({ requested, prettyOnTerminal, stdoutIsTerminal, colorSupported })).toEqual({ format, colorize });
  });

  it('writes one JSON object a line by default, with secrets redacted', () => {
    const { log, lines } = capture({});
    log.info({ batchId: 'batch_1', ...SECRETS }, 'batch created');
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]!);
    expect(entry).toMatchObject({ name: 'stack', msg: 'batch created', batchId: 'batch_1', secret: '[redacted]' });
    expect(lines[0]).not.toMatch(/top-\d/);
  });

  it('writes readable lines when asked, redacted the same way, coloured only when asked', () => {
    const plain = capture({ format: 'pretty', colorize: false });
    plain.log.info({ batchId: 'batch_1', ...SECRETS }, 'batch created');
    expect(plain.lines).toHaveLength(1);
    expect(plain.lines[0]).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(stack\): batch created .*"batchId":"batch_1"/);
    expect(plain.lines[0]).toContain('[redacted]');
    expect(plain.lines[0]).not.toMatch(/top-\d/);
    expect(plain.lines[0]).not.toContain('\u001b[');

    const coloured = capture({ format: 'pretty', colorize: true });
    coloured.log.warn({ ...SECRETS }, 'careful');
    expect(coloured.lines[0]).toContain('\u001b[');
    expect(coloured.lines[0]).not.toMatch(/top-\d/);
  });
});
