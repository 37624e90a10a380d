/**
 * Every `endpoint` OpenAI's Batch API takes (the `openai` SDK's
 * `BatchCreateParams['endpoint']`). A batch may name any of them; the API
 * accepts only those the configured upstream serves (`UPSTREAM_ENDPOINTS`).
 */
export const BATCH_ENDPOINTS = [
  '/v1/responses',
  '/v1/chat/completions',
  '/v1/embeddings',
  '/v1/completions',
  '/v1/moderations',
  '/v1/images/generations',
  '/v1/images/edits',
  '/v1/videos',
] as const;

export type BatchEndpoint = (typeof BATCH_ENDPOINTS)[number];

/**
 * What an OpenAI-compatible model server (vLLM, Ollama, llama.cpp, the echo
 * upstream) serves as JSON: the text endpoints. Images and videos need an
 * upstream that has them, so an operator names them in `UPSTREAM_ENDPOINTS`.
 */
export const DEFAULT_UPSTREAM_ENDPOINTS: BatchEndpoint[] = [
  '/v1/responses',
  '/v1/chat/completions',
  '/v1/embeddings',
  '/v1/completions',
  '/v1/moderations',
];

export const isBatchEndpoint = (path: string): path is BatchEndpoint => (BATCH_ENDPOINTS as readonly string[]).includes(path);
