import { z } from 'zod';

// Postgres text cannot hold NUL, and its JSON refuses unpaired UTF-16 surrogates
// (pg would otherwise store U+FFFD in their place, silently changing the value).
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export const UNSTORABLE_TEXT_MESSAGE = 'must not contain NUL characters or unpaired surrogates';

/** Whether Postgres can store `value` as text (or inside JSON) exactly as given. */
export function isStorableText(value: string): boolean {
  return !UNSTORABLE.test(value);
}

/** A string that reaches Postgres unchanged: use it for every free-text input field. */
export const storableText = () => z.string().refine(isStorableText, UNSTORABLE_TEXT_MESSAGE);
