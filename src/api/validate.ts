import type { z } from 'zod';
import { ApiError } from './api-error.js';

/** Parses request data with a zod schema, or throws a 400 naming the field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw ApiError.fromZod(parsed.error);
  return parsed.data;
}

/** Reads a JSON body; a body that is not JSON is a 400, never a 500. */
export async function readJson(req: { json(): Promise<unknown> }): Promise<unknown> {
  try {
    return await req.json();
  } catch {
    throw new ApiError(400, 'The request body must be valid JSON.', 'invalid_json');
  }
}

/** Like readJson, for an optional body: no body at all (or only whitespace) reads as `{}`. */
export async function readOptionalJson(req: { text(): Promise<string> }): Promise<unknown> {
  const text = await req.text();
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, 'The request body must be valid JSON.', 'invalid_json');
  }
}
