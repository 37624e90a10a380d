import { randomBytes } from 'node:crypto';

/** OpenAI-style opaque ids: a prefix, a separator and 24 random base62 characters (`batch_…`, `file-…`). */
export function newId(prefix: string, separator: '_' | '-' = '_'): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(24);
  let out = '';
  for (const b of bytes) out += alphabet[b % alphabet.length];
  return `${prefix}${separator}${out}`;
}
