import type { Batch, FileDeleted, FileObject } from 'openai/resources';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { openApiDocument } from '../src/api/openapi/openapi-document.js';
import { BATCH_EXTENSIONS, type BatchSchema, type FileDeletedSchema, type FileSchema } from '../src/api/openapi/response-schemas.js';

/**
 * Where our routes mirror OpenAI's (`/v1/files`, `/v1/batches`), our answers
 * have the shapes of the official SDK's types, but for the extensions the
 * document names. This file is checked by `tsc` (npm test type-checks test/):
 * each `Expect` line fails the type-check when a shape drifts.
 */

type Expect<T extends true> = T;
type Extends<A, B> = [A] extends [B] ? true : false;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/**
 * OpenAI's API sends `null` for a field it has no value for (`"cancelled_at": null`),
 * while its SDK types such fields as optional (`cancelled_at?: number`): read our
 * nulls as absent before comparing.
 */
type NullAsAbsent<T> = { [K in keyof T as null extends T[K] ? K : never]?: Exclude<T[K], null> } & {
  [K in keyof T as null extends T[K] ? never : K]: T[K];
};

type OurBatch = z.output<typeof BatchSchema>;
type OurFile = z.output<typeof FileSchema>;
type BatchExtension = (typeof BATCH_EXTENSIONS)[number];

export type OurShapesAreOpenAIs = [
  // Batch: every field OpenAI's has, with its type; the fields it lacks are exactly BATCH_EXTENSIONS.
  Expect<Extends<NullAsAbsent<Omit<OurBatch, BatchExtension>>, Batch>>,
  Expect<Same<Exclude<keyof OurBatch, keyof Batch>, BatchExtension>>,
  // File: our purpose is typed as the stored text; what we store is one of OpenAI's purposes.
  Expect<Extends<NullAsAbsent<Omit<OurFile, 'purpose'>>, Omit<FileObject, 'purpose'>>>,
  Expect<Extends<'batch' | 'batch_output', FileObject['purpose']>>,
  Expect<Same<Exclude<keyof OurFile, keyof FileObject>, never>>,
  Expect<Same<z.output<typeof FileDeletedSchema>, FileDeleted>>,
];

describe("shapes shared with OpenAI's API", () => {
  it('name their extensions in the document', () => {
    const schemas = openApiDocument().components?.schemas as Record<string, { description?: string; properties: Record<string, { description?: string }> }>;
    const batch = schemas.Batch!;
    for (const field of BATCH_EXTENSIONS) {
      expect(batch.description).toContain(`\`${field}\``);
      expect(JSON.stringify(batch.properties[field])).toContain('Extension');
    }
    expect(schemas.File!.description).toMatch(/OpenAI's File object/);
  });
});
