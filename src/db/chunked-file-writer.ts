import { FILE_CHUNK_BYTES, insertFileChunk } from './files.js';
import type { PoolClient } from './pool.js';

/** Appends content to a stored file in fixed-size chunks, so no file is held whole in memory. */
export class ChunkedFileWriter {
  private parts: Buffer[] = [];
  private pendingBytes = 0;
  private seq = 0;
  bytes = 0;

  constructor(
    private readonly client: PoolClient,
    readonly fileId: string,
  ) {}

  async write(buf: Buffer): Promise<void> {
    this.parts.push(buf);
    this.pendingBytes += buf.length;
    this.bytes += buf.length;
    if (this.pendingBytes >= FILE_CHUNK_BYTES) await this.flush();
  }

  writeLine(line: string): Promise<void> {
    return this.write(Buffer.from(`${line}\n`, 'utf8'));
  }

  /** Stores what is buffered; call once at the end. */
  async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    await insertFileChunk(this.client, this.fileId, this.seq++, Buffer.concat(this.parts));
    this.parts = [];
    this.pendingBytes = 0;
  }
}
