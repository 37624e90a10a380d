/**
 * Token usage as the Batch object reports it (OpenAI's `BatchUsage`), summed
 * from the `usage` of each upstream answer. Answers come in two vocabularies,
 * mapped as OpenAI maps them:
 * - chat/completions and completions: `prompt_tokens` → input,
 *   `completion_tokens` → output, `prompt_tokens_details.cached_tokens`,
 *   `completion_tokens_details.reasoning_tokens`;
 * - responses (and image generations): `input_tokens`, `output_tokens`,
 *   `input_tokens_details.cached_tokens`, `output_tokens_details.reasoning_tokens`.
 * Embeddings report `prompt_tokens` and `total_tokens` only (no output);
 * moderations report none.
 */
export interface RequestUsage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  cachedTokens: number;
  reasoningTokens: number;
}

export const NO_USAGE: RequestUsage = Object.freeze({ inputTokens: 0, outputTokens: 0, totalTokens: 0, cachedTokens: 0, reasoningTokens: 0 });

/** Per-request counts are stored as Postgres `integer`: a count beyond it is no real answer and is capped. */
const MAX_TOKENS = 2_147_483_647;

type Json = Record<string, unknown>;

const objectAt = (value: unknown, key: string): Json | undefined => {
  const inner = typeof value === 'object' && value !== null ? (value as Json)[key] : undefined;
  return typeof inner === 'object' && inner !== null && !Array.isArray(inner) ? (inner as Json) : undefined;
};

/** A token count: a non-negative integer, else absent. */
const count = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0 ? Math.min(value, MAX_TOKENS) : undefined;

/** The usage of one successful upstream answer (its JSON body); null when it reports none. */
export function usageOfResponse(body: unknown): RequestUsage | null {
  const usage = objectAt(body, 'usage');
  if (!usage) return null;
  const responsesStyle = 'input_tokens' in usage || 'output_tokens' in usage;
  const input = count(responsesStyle ? usage.input_tokens : usage.prompt_tokens);
  const output = count(responsesStyle ? usage.output_tokens : usage.completion_tokens);
  const total = count(usage.total_tokens);
  if (input === undefined && output === undefined && total === undefined) return null;
  const inputDetails = objectAt(usage, responsesStyle ? 'input_tokens_details' : 'prompt_tokens_details');
  const outputDetails = objectAt(usage, responsesStyle ? 'output_tokens_details' : 'completion_tokens_details');
  return {
    inputTokens: input ?? 0,
    outputTokens: output ?? 0,
    totalTokens: total ?? Math.min((input ?? 0) + (output ?? 0), MAX_TOKENS),
    cachedTokens: count(inputDetails?.cached_tokens) ?? 0,
    reasoningTokens: count(outputDetails?.reasoning_tokens) ?? 0,
  };
}

export function addUsage(a: RequestUsage, b: RequestUsage): RequestUsage {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    totalTokens: a.totalTokens + b.totalTokens,
    cachedTokens: a.cachedTokens + b.cachedTokens,
    reasoningTokens: a.reasoningTokens + b.reasoningTokens,
  };
}

/** The Batch object's `usage`, OpenAI's shape. */
export function toBatchUsage(usage: RequestUsage) {
  return {
    input_tokens: usage.inputTokens,
    input_tokens_details: { cached_tokens: usage.cachedTokens },
    output_tokens: usage.outputTokens,
    output_tokens_details: { reasoning_tokens: usage.reasoningTokens },
    total_tokens: usage.totalTokens,
  };
}
