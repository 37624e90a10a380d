import { appendFileSync } from 'node:fs';

/** One response the API gave a test, as the OpenAPI contract check reads it. */
export interface RecordedResponse {
  method: string;
  path: string;
  status: number;
  contentType: string | null;
  /** The parsed body of a JSON response; absent for any other. */
  body?: unknown;
  /** The start of a body that claimed to be JSON but was not. */
  unparsable?: string;
}

/** Where to record: OPENAPI_CONTRACT_LOG, read at each call (a test may point it at its own file); unset: nothing is recorded. */
export const contractLog = (): string | undefined => process.env.OPENAPI_CONTRACT_LOG || undefined;

const isJson = (contentType: string | null) => /^application\/json\b/i.test(contentType ?? '');

/**
 * Appends the response to OPENAPI_CONTRACT_LOG as one JSON line, when set.
 * Only a JSON body is read (from a clone, so the test still reads its own);
 * a streamed download is never buffered.
 */
export async function recordResponse(method: string, url: string, res: Response): Promise<void> {
  const log = contractLog();
  if (!log) return;
  const contentType = res.headers.get('content-type');
  const entry: RecordedResponse = { method: method.toUpperCase(), path: new URL(url, 'http://api.test').pathname, status: res.status, contentType };
  if (isJson(contentType)) {
    const text = await res.clone().text();
    try {
      entry.body = JSON.parse(text);
    } catch {
      entry.unparsable = text.slice(0, 200);
    }
  }
  appendFileSync(log, `${JSON.stringify(entry)}\n`);
}
