import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeWebReadableStream } from 'node:stream/web';
import busboy from 'busboy';
import { ServiceError } from './service-error.js';
import { isStorableText } from '../shared/storable-text.js';
import { MAX_INPUT_FILE_BYTES } from '../batches/input-lines.js';
import { ChunkedFileWriter } from '../db/chunked-file-writer.js';
import {
  deleteFile,
  findFile,
  insertFile,
  listFiles,
  readFileChunks,
  completeUpload,
  type FileRow,
} from '../db/files.js';
import { inTransaction, type PoolClient } from '../db/pool.js';
import { newId } from '../shared/ids.js';
import type { ServiceDeps } from './service-deps.js';
import { unixSeconds } from '../shared/unix-time.js';
import {
  DEFAULT_BATCH_FILE_EXPIRES_AFTER_SECONDS,
  EXPIRES_AFTER_FIELDS,
  expiresAfterFormProblem,
  expiresAfterFromForm,
  isExpiresAfterField,
  type ExpiresAfterProblem,
} from '../files/expires-after.js';

export const ACCEPTED_PURPOSES = ['batch'] as const;

export function toFileObject(row: FileRow) {
  return {
    id: row.id,
    object: 'file' as const,
    bytes: row.bytes,
    created_at: unixSeconds(row.created_at),
    expires_at: unixSeconds(row.expires_at),
    filename: row.filename,
    purpose: row.purpose,
    status: 'processed' as const,
    status_details: null,
  };
}

const invalidMultipart = () => new ServiceError('invalid_request', 'Malformed or interrupted multipart/form-data request.', 'invalid_multipart');

const isAcceptedPurpose = (purpose: string) => (ACCEPTED_PURPOSES as readonly string[]).includes(purpose);

/** Media types are case-insensitive (RFC 9110); parameters such as the boundary follow. */
const isMultipart = (contentType: string | undefined) => /^\s*multipart\/form-data\s*(;|$)/i.test(contentType ?? '');

const expiresAfterError = (problem: ExpiresAfterProblem) =>
  new ServiceError('invalid_request', problem.message, problem.missing ? 'missing_required_parameter' : 'invalid_value', problem.param);

/**
 * Streams a multipart upload (`purpose`, `file`, optionally
 * `expires_after[anchor]` and `expires_after[seconds]`) into Postgres in 1 MiB
 * chunks inside one transaction: an oversized, malformed or interrupted upload
 * leaves nothing behind. The fields may come in any order; a wrong purpose or
 * expiry sent first stops the upload before the file is read. Without
 * `expires_after` a `batch` file expires after 30 days, as at OpenAI.
 */
export async function uploadFile(
  deps: ServiceDeps,
  owner: string,
  contentType: string | undefined,
  body: ReadableStream<Uint8Array> | null,
) {
  if (!isMultipart(contentType) || !body) {
    throw new ServiceError('invalid_request', "Upload the file as multipart/form-data with fields 'purpose' and 'file'.", 'invalid_content_type');
  }
  const id = newId('file', '-');
  const row = await inTransaction(deps.pool, async (client) => {
    const { purpose, bytes, expiresAfterSeconds } = await receiveUpload(client, { id, owner }, contentType!, body);
    await completeUpload(client, id, { purpose, bytes, expiresAfterSeconds });
    return (await findFile(client, owner, id))!;
  });
  deps.log.info({ fileId: id, owner, bytes: row.bytes }, 'file uploaded');
  return toFileObject(row);
}

/**
 * Parses the multipart body and stores its file part on `client`. The first
 * problem (from the request body, the parser, a part's stream or the database)
 * stops everything and is what this rejects with; it settles only once no
 * write is in flight, so the caller's rollback is the last word.
 */
async function receiveUpload(
  client: PoolClient,
  file: { id: string; owner: string },
  contentType: string,
  body: ReadableStream<Uint8Array>,
): Promise<{ purpose: string; bytes: number; expiresAfterSeconds: number | null }> {
  let parser: busboy.Busboy;
  try {
    // Clients (browsers, undici's FormData, the OpenAI SDK) send file names as raw UTF-8; busboy assumes latin1.
    parser = busboy({
      headers: { 'content-type': contentType },
      defParamCharset: 'utf8',
      limits: { files: 1, fileSize: MAX_INPUT_FILE_BYTES, fields: 10 },
    });
  } catch {
    throw invalidMultipart();
  }
  const source = Readable.fromWeb(body as unknown as NodeWebReadableStream<Uint8Array>);
  let failure: unknown;
  let purpose: string | undefined;
  const expiresAfter: Partial<Record<'anchor' | 'seconds', string>> = {};
  let filePart: Readable | undefined;
  let written: Promise<number> | undefined;

  const fail = (err: unknown) => {
    failure ??= err;
    // Stopping the source stops the parser (pipeline below) and reading the rest of the body.
    source.destroy();
    filePart?.destroy();
  };

  parser.on('field', (name, value) => {
    // A part without a name (hostile or broken clients) is ignored, like any unknown field.
    if (typeof name !== 'string') return;
    if (isExpiresAfterField(name)) {
      expiresAfter[EXPIRES_AFTER_FIELDS[name]] = value;
      const problem = expiresAfterFormProblem(expiresAfter, false);
      if (problem) fail(expiresAfterError(problem));
      return;
    }
    if (name === 'expires_after' || name.startsWith('expires_after[')) {
      fail(new ServiceError('invalid_request', `Unknown field '${name}': send 'expires_after[anchor]' and 'expires_after[seconds]'.`, 'invalid_value', 'expires_after'));
      return;
    }
    if (name !== 'purpose') return;
    purpose = value;
    if (!isAcceptedPurpose(value)) fail(new ServiceError('invalid_request', `Invalid purpose '${value}'; expected 'batch'.`, 'invalid_value', 'purpose'));
  });
  parser.on('filesLimit', () => fail(new ServiceError('invalid_request', "Send exactly one file, in the field 'file'.", 'too_many_files', 'file')));
  parser.on('file', (name, stream, info) => {
    // Attached at once: a part stream's 'error' event with no listener would end the process.
    stream.on('error', () => fail(invalidMultipart()));
    if (name !== 'file') {
      stream.resume();
      return;
    }
    filePart = stream;
    stream.on('limit', () =>
      fail(new ServiceError('too_large', `The file exceeds the ${MAX_INPUT_FILE_BYTES / 1024 / 1024} MB limit.`, 'file_too_large', 'file')),
    );
    const filename = Array.from(info.filename || 'upload.jsonl').slice(0, 255).join('');
    if (!isStorableText(filename)) {
      fail(new ServiceError('invalid_request', 'The file name must not contain NUL characters.', 'invalid_value', 'file'));
      return;
    }
    written = storeContent(client, { ...file, filename }, stream);
    written.catch(fail);
  });

  try {
    await pipeline(source, parser);
  } catch {
    fail(invalidMultipart());
  }
  await written?.catch(() => undefined);
  if (failure) throw failure;
  if (!written) throw new ServiceError('invalid_request', "Missing required field 'file'.", 'missing_required_parameter', 'file');
  if (!purpose) throw new ServiceError('invalid_request', "Missing required field 'purpose'.", 'missing_required_parameter', 'purpose');
  const problem = expiresAfterFormProblem(expiresAfter, true);
  if (problem) throw expiresAfterError(problem);
  const expiresAfterSeconds = expiresAfterFromForm(expiresAfter)?.seconds ?? (purpose === 'batch' ? DEFAULT_BATCH_FILE_EXPIRES_AFTER_SECONDS : null);
  return { purpose, bytes: await written, expiresAfterSeconds };
}

/** Stores one file part; resolves with its size. */
async function storeContent(client: PoolClient, file: { id: string; owner: string; filename: string }, stream: Readable) {
  await insertFile(client, { ...file, purpose: 'pending' });
  const writer = new ChunkedFileWriter(client, file.id);
  for await (const chunk of stream as AsyncIterable<Buffer>) await writer.write(chunk);
  await writer.flush();
  return writer.bytes;
}

export async function getFileObject(deps: ServiceDeps, owner: string, id: string) {
  const row = await findFile(deps.pool, owner, id);
  if (!row) throw ServiceError.notFound('file', id);
  return toFileObject(row);
}

export async function listFileObjects(
  deps: ServiceDeps,
  owner: string,
  page: { limit: number; after?: string; purpose?: string; order: 'asc' | 'desc' },
) {
  const rows = await listFiles(deps.pool, owner, { ...page, limit: page.limit + 1 });
  return rows.map(toFileObject);
}

export async function deleteFileObject(deps: ServiceDeps, owner: string, id: string) {
  if (!(await deleteFile(deps.pool, owner, id))) throw ServiceError.notFound('file', id);
  return { id, object: 'file' as const, deleted: true };
}

/** The file's bytes as a web stream, read from Postgres chunk by chunk as the client consumes it. */
export async function openFileContent(deps: ServiceDeps, owner: string, id: string) {
  const row = await findFile(deps.pool, owner, id);
  if (!row) throw ServiceError.notFound('file', id);
  const chunks = readFileChunks(deps.pool, id);
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await chunks.next();
      if (next.done) controller.close();
      else controller.enqueue(new Uint8Array(next.value));
    },
    async cancel() {
      await chunks.return(undefined);
    },
  });
  return { file: toFileObject(row), stream };
}
