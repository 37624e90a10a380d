import type { BatchErrorItem } from '../workflows/contracts.js';

export const MAX_REQUESTS_PER_BATCH = 50_000;
export const MAX_INPUT_FILE_BYTES = 200 * 1024 * 1024;

export type ParsedLine =
  /** `model`: the body's `model`, null when it names none (OpenAI: one model per batch). */
  | { ok: true; customId: string; body: string; model: string | null }
  | { ok: false; error: BatchErrorItem };

const lineError = (line: number, code: string, message: string, param: string | null = null): ParsedLine => ({
  ok: false,
  error: { code, message, param, line },
});

/** Validates one JSONL input line `{custom_id, method, url, body}` against the batch endpoint. */
export function parseInputLine(text: string, line: number, endpoint: string): ParsedLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return lineError(line, 'invalid_json_line', `Line ${line} is not valid JSON.`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return lineError(line, 'invalid_json_line', `Line ${line} must be a JSON object.`);
  }
  const { custom_id: customId, method, url, body } = value as Record<string, unknown>;
  if (typeof customId !== 'string' || customId.length === 0 || customId.length > 512) {
    return lineError(line, 'missing_required_parameter', `Line ${line}: custom_id must be a non-empty string of at most 512 characters.`, 'custom_id');
  }
  if (method !== 'POST') {
    return lineError(line, 'invalid_method', `Line ${line}: method must be POST.`, 'method');
  }
  if (url !== endpoint) {
    return lineError(line, 'mismatched_endpoint', `Line ${line}: url ${JSON.stringify(url)} does not match the batch endpoint ${endpoint}.`, 'url');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return lineError(line, 'missing_required_parameter', `Line ${line}: body must be a JSON object.`, 'body');
  }
  // Postgres text and jsonb cannot hold NUL; a raw one already failed JSON.parse, an escaped one is caught here.
  if (text.includes('\\u0000') && containsNul(value)) {
    const param = customId.includes('\u0000') ? 'custom_id' : containsNul(body) ? 'body' : null;
    return lineError(line, 'invalid_json_line', `Line ${line} contains a NUL character (\\u0000), which is not supported.`, param);
  }
  const { model } = body as { model?: unknown };
  return { ok: true, customId, body: JSON.stringify(body), model: typeof model === 'string' ? model : null };
}

function containsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return value.some(containsNul);
  return Object.entries(value).some(([key, item]) => key.includes('\u0000') || containsNul(item));
}

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * Splits a stream of byte chunks into lines (UTF-8, `\n` or `\r\n`), without
 * holding the whole input. A UTF-8 byte order mark at the start is skipped, as OpenAI does.
 */
export async function* splitLines(chunks: AsyncIterable<Buffer>): AsyncGenerator<string> {
  let rest: Buffer = Buffer.alloc(0);
  let atStart = true;
  for await (const next of chunks) {
    let chunk = next;
    if (atStart) {
      // Stored chunks are 1 MiB, so the mark is never split across two of them.
      if (chunk.subarray(0, 3).equals(UTF8_BOM)) chunk = chunk.subarray(3);
      atStart = chunk.length === 0;
    }
    let buf = rest.length ? Buffer.concat([rest, chunk]) : chunk;
    let start = 0;
    for (let nl = buf.indexOf(10, start); nl !== -1; nl = buf.indexOf(10, start)) {
      const end = nl > start && buf[nl - 1] === 13 ? nl - 1 : nl;
      yield buf.toString('utf8', start, end);
      start = nl + 1;
    }
    rest = buf.subarray(start);
    buf = rest;
  }
  if (rest.length) yield rest.toString('utf8').replace(/\r$/, '');
}

/**
 * The lines of an input file that hold requests (blank ones skipped), each
 * with its 1-based line number in the file. Validation and the storing of a
 * batch's later requests both read the file through this, so they number
 * requests alike.
 */
export async function* requestLines(chunks: AsyncIterable<Buffer>): AsyncGenerator<{ text: string; fileLine: number }> {
  let fileLine = 0;
  for await (const text of splitLines(chunks)) {
    fileLine += 1;
    if (text.trim() !== '') yield { text, fileLine };
  }
}
