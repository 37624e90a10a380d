import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeWebReadableStream } from 'node:stream/web';
import busboy from 'busboy';
import { ApiError } from '../api/api-error.js';
import { MAX_INPUT_FILE_BYTES } from '../batches/input-lines.js';
import { ChunkedFileWriter } from '../db/chunked-file-writer.js';
import {
  deleteFile,
  findFile,
  insertFile,
  listFiles,
  readFileChunks,
  setFileBytes,
  type FileRow,
} from '../db/files.js';
import { inTransaction } from '../db/pool.js';
import { newId } from '../shared/ids.js';
import type { ServiceDeps } from './service-deps.js';
import { unixSeconds } from '../shared/unix-time.js';

export const ACCEPTED_PURPOSES = ['batch'] as const;

export function toFileObject(row: FileRow) {
  return {
    id: row.id,
    object: 'file' as const,
    bytes: row.bytes,
    created_at: unixSeconds(row.created_at),
    expires_at: null,
    filename: row.filename,
    purpose: row.purpose,
    status: 'processed' as const,
    status_details: null,
  };
}

/**
 * Streams a multipart upload (`purpose`, `file`) into Postgres in 1 MiB chunks
 * inside one transaction: an oversized, malformed or interrupted upload leaves
 * nothing behind. The fields may come in either order.
 */
export async function uploadFile(
  deps: ServiceDeps,
  owner: string,
  contentType: string | undefined,
  body: ReadableStream<Uint8Array> | null,
) {
  if (!contentType?.startsWith('multipart/form-data') || !body) {
    throw new ApiError(400, "Upload the file as multipart/form-data with fields 'purpose' and 'file'.", 'invalid_content_type');
  }
  const id = newId('file', '-');
  const row = await inTransaction(deps.pool, async (client) => {
    let purpose: string | undefined;
    let filename: string | undefined;
    let bytes = 0;
    let truncated = false;
    let written: Promise<void> | undefined;

    const storeContent = async (stream: Readable) => {
      await insertFile(client, { id, owner, purpose: 'pending', filename: filename! });
      const writer = new ChunkedFileWriter(client, id);
      for await (const chunk of stream as AsyncIterable<Buffer>) await writer.write(chunk);
      truncated = (stream as { truncated?: boolean }).truncated === true;
      bytes = writer.bytes;
      if (!truncated) await writer.flush();
    };

    let parser: busboy.Busboy;
    try {
      // Clients (browsers, undici's FormData, the OpenAI SDK) send file names as raw UTF-8; busboy assumes latin1.
      parser = busboy({
        headers: { 'content-type': contentType },
        defParamCharset: 'utf8',
        limits: { files: 1, fileSize: MAX_INPUT_FILE_BYTES, fields: 10 },
      });
    } catch {
      throw new ApiError(400, 'Malformed multipart/form-data request.', 'invalid_multipart');
    }
    parser.on('field', (name, value) => {
      if (name === 'purpose') purpose = value;
    });
    parser.on('file', (name, stream, info) => {
      if (name !== 'file' || written) {
        stream.resume();
        return;
      }
      filename = (info.filename || 'upload.jsonl').slice(0, 255);
      written = storeContent(stream);
      // A failed write must not stall parsing; the error is raised below.
      written.catch(() => stream.resume());
    });
    try {
      await pipeline(Readable.fromWeb(body as unknown as NodeWebReadableStream<Uint8Array>), parser);
    } catch {
      throw new ApiError(400, 'Malformed or interrupted multipart/form-data request.', 'invalid_multipart');
    }
    if (written) await written;
    if (truncated) {
      throw new ApiError(413, `The file exceeds the ${MAX_INPUT_FILE_BYTES / 1024 / 1024} MB limit.`, 'file_too_large', 'file');
    }
    if (!filename) throw new ApiError(400, "Missing required field 'file'.", 'missing_required_parameter', 'file');
    if (!purpose) throw new ApiError(400, "Missing required field 'purpose'.", 'missing_required_parameter', 'purpose');
    if (!(ACCEPTED_PURPOSES as readonly string[]).includes(purpose)) {
      throw new ApiError(400, `Invalid purpose '${purpose}'; expected 'batch'.`, 'invalid_value', 'purpose');
    }
    await client.query(`UPDATE files SET purpose = $2::text WHERE id = $1::text`, [id, purpose]);
    await setFileBytes(client, id, bytes);
    return (await findFile(client, owner, id))!;
  });
  deps.log.info({ fileId: id, owner, bytes: row.bytes }, 'file uploaded');
  return toFileObject(row);
}

export async function getFileObject(deps: ServiceDeps, owner: string, id: string) {
  const row = await findFile(deps.pool, owner, id);
  if (!row) throw ApiError.notFound('file', id);
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
  if (!(await deleteFile(deps.pool, owner, id))) throw ApiError.notFound('file', id);
  return { id, object: 'file' as const, deleted: true };
}

/** The file's bytes as a web stream, read from Postgres chunk by chunk as the client consumes it. */
export async function openFileContent(deps: ServiceDeps, owner: string, id: string) {
  const row = await findFile(deps.pool, owner, id);
  if (!row) throw ApiError.notFound('file', id);
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
