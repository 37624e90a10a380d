import { isBatchEndpoint } from '../batches/batch-endpoints.js';

/**
 * Label values with a bound: every label of every metric comes from a fixed
 * set or passes through one of these, so no id, URL or owner ever becomes a
 * series and a hostile input cannot multiply them.
 */

/** A batch endpoint as a label: one of OpenAI's batch endpoints, else `other`. */
export function endpointLabel(path: string): string {
  return isBatchEndpoint(path) ? path : 'other';
}

const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** An HTTP method as a label; anything unusual is `other`. */
export function methodLabel(method: string): string {
  return HTTP_METHODS.has(method) ? method : 'other';
}

/** How many distinct models one process labels before the rest become `other`. */
export const MODEL_LABEL_LIMIT = 50;

const MODEL_AT_START = '{"model":"';
/** Model names as providers spell them (`gpt-4o-mini`, `meta-llama/Llama-3.1-8B`, `qwen2.5:7b`). */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,99}$/;

/**
 * The `model` of a request body (compact JSON text). Bodies almost always
 * start with it, which is read without parsing; otherwise the body is parsed.
 */
export function modelOf(body: string): string | undefined {
  if (body.startsWith(MODEL_AT_START)) {
    const end = body.indexOf('"', MODEL_AT_START.length);
    const value = body.slice(MODEL_AT_START.length, end);
    if (end > 0 && !value.includes('\\')) return value;
  }
  try {
    const model = (JSON.parse(body) as { model?: unknown } | null)?.model;
    return typeof model === 'string' ? model : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Turns request bodies into model labels. The model is the caller's text, so
 * only the first `limit` distinct well-formed names get their own series;
 * later ones are `other`, a body without one is `unknown`. A fine-tuned model
 * (`ft:base:org:suffix:id`) is labelled by its base model: the rest names an
 * organisation and an id.
 */
export function createModelLabeler(limit = MODEL_LABEL_LIMIT): (body: string) => string {
  const known = new Set<string>();
  return (body) => {
    const model = modelOf(body);
    if (model === undefined || model === '') return 'unknown';
    const name = model.startsWith('ft:') ? `ft:${model.split(':')[1] ?? ''}` : model;
    if (known.has(name)) return name;
    if (known.size >= limit || !MODEL_NAME.test(name) || name.includes('://')) return 'other';
    known.add(name);
    return name;
  };
}
