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
}

type Queryable = Pool | PoolClient;

const FILE_COLUMNS = 'id, owner, purpose, filename, bytes, created_at';

export async function insertFile(
  db: Queryable,
  file: { id: string; owner: string; purpose: string; filename: string },
): Promise<void> {
  await db.query(
    `INSERT INTO files (id, owner, purpose, filename) VALUES ($1::text, $2::text, $3::text, $4::text)`,
    [file.id, file.owner, file.purpose, file.filename],
  );
}

export async function insertFileChunk(db: Queryable, fileId: string, seq: number, data: Buffer): Promise<void> {
  await db.query(`INSERT INTO file_chunks (file_id, seq, data) VALUES ($1::text, $2::int, $3::bytea)`, [
    fileId,
    seq,
    data,
  ]);
}

/** Completes an upload: its purpose (known only once the form is read) and its size. */
export async function completeUpload(db: Queryable, fileId: string, purpose: string, bytes: number): Promise<void> {
  await db.query(`UPDATE files SET purpose = $2::text, bytes = $3::bigint WHERE id = $1::text`, [fileId, purpose, bytes]);
}

export async function setFileBytes(db: Queryable, fileId: string, bytes: number): Promise<void> {
  await db.query(`UPDATE files SET bytes = $2::bigint WHERE id = $1::text`, [fileId, bytes]);
}

export async function findFile(db: Queryable, owner: string, id: string): Promise<FileRow | undefined> {
  const { rows } = await db.query<FileRow>(
    `SELECT ${FILE_COLUMNS} FROM files WHERE id = $1::text AND owner = $2::text`,
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
      WHERE owner = $1::text
        AND ($2::text IS NULL OR purpose = $2::text)
        AND ($3::text IS NULL OR (created_at, id) ${cmp}
             (SELECT created_at, id FROM files WHERE id = $3::text AND owner = $1::text))
      ORDER BY created_at ${opts.order}, id ${opts.order}
      LIMIT $4::int`,
    [owner, opts.purpose ?? null, opts.after ?? null, opts.limit],
  );
  return rows;
}

export async function deleteFile(db: Queryable, owner: string, id: string): Promise<boolean> {
  const { rowCount } = await db.query(`DELETE FROM files WHERE id = $1::text AND owner = $2::text`, [id, owner]);
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
