import type { Pool, PoolClient } from './pool.js';

/** Size of one stored content chunk; uploads and downloads move one at a time. */
export const FILE_CHUNK_BYTES = 1024 * 1024;

export interface FileRow {
  id: string;
  owner: string;
  purpose: string;
  filename: string;
  bytes: number;
  created_at: Date;
  /** When the file is gone (OpenAI's `expires_at`); null: kept until deleted. */
  expires_at: Date | null;
}

type Queryable = Pool | PoolClient;

const FILE_COLUMNS = 'id, owner, purpose, filename, bytes, created_at, expires_at';

// An expired file is gone for every reader at once, before the clean-up deletes its rows.
const IS_LIVE = '(expires_at IS NULL OR expires_at > now())';

/** Inserts a file's row; with `expiresAfterSeconds` it expires that long after its creation. */
export async function insertFile(
  db: Queryable,
  file: { id: string; owner: string; purpose: string; filename: string; expiresAfterSeconds?: number | null },
): Promise<void> {
  await db.query(
    `INSERT INTO files (id, owner, purpose, filename, expires_at)
     VALUES ($1::text, $2::text, $3::text, $4::text, now() + make_interval(secs => $5::int))`,
    [file.id, file.owner, file.purpose, file.filename, file.expiresAfterSeconds ?? null],
  );
}

export async function insertFileChunk(db: Queryable, fileId: string, seq: number, data: Buffer): Promise<void> {
  await db.query(`INSERT INTO file_chunks (file_id, seq, data) VALUES ($1::text, $2::int, $3::bytea)`, [
    fileId,
    seq,
    data,
  ]);
}

/**
 * Completes an upload: its purpose and expiry (known only once the form is
 * read) and its size. The expiry is anchored at the file's creation.
 */
export async function completeUpload(
  db: Queryable,
  fileId: string,
  upload: { purpose: string; bytes: number; expiresAfterSeconds: number | null },
): Promise<void> {
  await db.query(
    `UPDATE files SET purpose = $2::text, bytes = $3::bigint, expires_at = created_at + make_interval(secs => $4::int)
      WHERE id = $1::text`,
    [fileId, upload.purpose, upload.bytes, upload.expiresAfterSeconds],
  );
}

export async function setFileBytes(db: Queryable, fileId: string, bytes: number): Promise<void> {
  await db.query(`UPDATE files SET bytes = $2::bigint WHERE id = $1::text`, [fileId, bytes]);
}

export async function findFile(db: Queryable, owner: string, id: string): Promise<FileRow | undefined> {
  const { rows } = await db.query<FileRow>(
    `SELECT ${FILE_COLUMNS} FROM files WHERE id = $1::text AND owner = $2::text AND ${IS_LIVE}`,
    [id, owner],
  );
  return rows[0];
}

export async function listFiles(
  db: Queryable,
  owner: string,
  opts: { limit: number; after?: string; purpose?: string; order: 'asc' | 'desc' },
): Promise<FileRow[]> {
  const cmp = opts.order === 'desc' ? '<' : '>';
  const { rows } = await db.query<FileRow>(
    `SELECT ${FILE_COLUMNS} FROM files
      WHERE owner = $1::text AND ${IS_LIVE}
        AND ($2::text IS NULL OR purpose = $2::text)
        AND ($3::text IS NULL OR (created_at, id) ${cmp}
             (SELECT created_at, id FROM files WHERE id = $3::text AND owner = $1::text))
      ORDER BY created_at ${opts.order}, id ${opts.order}
      LIMIT $4::int`,
    [owner, opts.purpose ?? null, opts.after ?? null, opts.limit],
  );
  return rows;
}

/** Deletes a file of `owner`; false when there is none (or it expired: it is gone already). */
export async function deleteFile(db: Queryable, owner: string, id: string): Promise<boolean> {
  const { rowCount } = await db.query(`DELETE FROM files WHERE id = $1::text AND owner = $2::text AND ${IS_LIVE}`, [id, owner]);
  return (rowCount ?? 0) > 0;
}

/** Deletes a file by id regardless of owner: used when regenerating a batch's own output. */
export async function deleteFileById(db: Queryable, id: string): Promise<void> {
  await db.query(`DELETE FROM files WHERE id = $1::text`, [id]);
}

/** Yields a file's content one stored chunk at a time, so large files never sit whole in memory. */
export async function* readFileChunks(db: Queryable, fileId: string): AsyncGenerator<Buffer> {
  let seq = -1;
  for (;;) {
    const { rows } = await db.query<{ seq: number; data: Buffer }>(
      `SELECT seq, data FROM file_chunks WHERE file_id = $1::text AND seq > $2::int ORDER BY seq LIMIT 1`,
      [fileId, seq],
    );
    const row = rows[0];
    if (!row) return;
    seq = row.seq;
    yield row.data;
  }
}
