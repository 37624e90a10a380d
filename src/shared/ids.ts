import { randomBytes } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const ID_CHARS = 24;
/**
 * Random bytes are drawn 256 ids' worth at a time (as crypto.randomUUID
 * caches them): a chunk of 10k requests names 10k result lines, and one
 * system call per id was 3 % of the worker's CPU.
 */
const POOL_BYTES = ID_CHARS * 256;
let pool = Buffer.alloc(0);
let offset = 0;

/** OpenAI-style opaque ids: a prefix, a separator and 24 random base62 characters (`batch_…`, `file-…`). */
export function newId(prefix: string, separator: '_' | '-' = '_'): string {
  if (offset + ID_CHARS > pool.length) {
    pool = randomBytes(POOL_BYTES);
    offset = 0;
  }
  let out = '';
  for (let i = offset; i < offset + ID_CHARS; i++) out += ALPHABET[pool[i]! % ALPHABET.length];
  offset += ID_CHARS;
  return `${prefix}${separator}${out}`;
}
