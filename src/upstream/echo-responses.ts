/**
 * The answers of the echo upstream (echo-server.ts), one builder per OpenAI
 * endpoint, shaped as OpenAI's and deterministic, so tests can predict them:
 * - a token is a whitespace-separated word;
 * - chat, completions and responses echo the last user input; their `usage`
 *   counts every message as input, the leading system/developer messages (or
 *   `instructions`) as cached input (the prefix a provider caches), and, when
 *   the request asks for reasoning (`reasoning_effort`, `reasoning.effort`),
 *   reasoning tokens (the echo's length times 1, 2 or 4 for low, medium, high)
 *   on top of the echo in the output;
 * - embeddings are an 8-float unit vector from a hash of the input, with
 *   `prompt_tokens` and `total_tokens` only;
 * - moderations flag a category when the text holds one of its trigger words
 *   (`violence`: kill, attack, shoot; `harassment`: idiot, stupid; `hate`:
 *   vermin; `self-harm`: suicide); they report no usage, as OpenAI's do.
 */

export type Body = Record<string, unknown>;
export type Builder = (body: Body, seq: number) => object;

const DIMENSIONS = 8;

export const ECHO_ENDPOINTS: Record<string, Builder | undefined> = {
  '/v1/chat/completions': chatCompletion,
  '/v1/completions': textCompletion,
  '/v1/embeddings': embeddings,
  '/v1/responses': response,
  '/v1/moderations': moderation,
};

type Message = { role?: unknown; content?: unknown };

const REASONING_FACTOR: Record<string, number> = { low: 1, medium: 2, high: 4 };

/** Reasoning tokens for an answer of `tokens` tokens at `effort` (none unless asked for). */
function reasoningTokens(effort: unknown, tokens: number): number {
  return typeof effort === 'string' ? (REASONING_FACTOR[effort] ?? 0) * tokens : 0;
}

/** Tokens of the leading system/developer messages: the prompt prefix a provider would cache. */
function prefixTokens(messages: Message[]): number {
  let tokens = 0;
  for (const m of messages) {
    if (m?.role !== 'system' && m?.role !== 'developer') break;
    tokens += countTokens(textOf(m.content));
  }
  return tokens;
}

function chatCompletion(body: Body, seq: number): object {
  if (!Array.isArray(body.messages)) return openAiError('messages must be an array', 'invalid_request_error', 'invalid_messages');
  const messages = body.messages as Message[];
  const lastUser = findLast(messages, (m) => m?.role === 'user');
  const { text, tokens, truncated } = limit(textOf(lastUser?.content), body.max_completion_tokens ?? body.max_tokens);
  const promptTokens = messages.reduce((sum, m) => sum + countTokens(textOf(m?.content)), 0);
  const reasoning = reasoningTokens(body.reasoning_effort, tokens);
  const completionTokens = tokens + reasoning;
  return {
    id: `chatcmpl-echo-${seq}`,
    object: 'chat.completion',
    created: nowSeconds(),
    model: modelOf(body),
    choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: truncated ? 'length' : 'stop' }],
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      prompt_tokens_details: { cached_tokens: prefixTokens(messages), audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: reasoning, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    },
  };
}

function textCompletion(body: Body, seq: number): object {
  const prompts = Array.isArray(body.prompt) ? body.prompt.map(textOf) : [textOf(body.prompt)];
  let promptTokens = 0;
  let completionTokens = 0;
  const choices = prompts.map((prompt, index) => {
    const { text, tokens, truncated } = limit(prompt, body.max_tokens);
    promptTokens += countTokens(prompt);
    completionTokens += tokens;
    return { text, index, logprobs: null, finish_reason: truncated ? 'length' : 'stop' };
  });
  return {
    id: `cmpl-echo-${seq}`,
    object: 'text_completion',
    created: nowSeconds(),
    model: modelOf(body),
    choices,
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
  };
}

function embeddings(body: Body): object {
  const inputs = Array.isArray(body.input) && typeof body.input[0] !== 'number' ? body.input : [body.input];
  let promptTokens = 0;
  const data = inputs.map((input, index) => {
    const text = Array.isArray(input) ? input.join(' ') : textOf(input);
    promptTokens += Array.isArray(input) ? input.length : countTokens(text);
    const vector = embed(text);
    // The official SDKs ask for base64 by default: little-endian float32 bytes.
    const embedding = body.encoding_format === 'base64' ? Buffer.from(Float32Array.from(vector).buffer).toString('base64') : vector;
    return { object: 'embedding', index, embedding };
  });
  return { object: 'list', data, model: modelOf(body), usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } };
}

function response(body: Body, seq: number): object {
  const input = body.input;
  const items = Array.isArray(input) ? (input as Message[]) : [{ role: 'user', content: input }];
  const lastUser = findLast(items, (m) => m?.role === 'user' || m?.role === undefined);
  const { text, tokens, truncated } = limit(textOf(lastUser?.content), body.max_output_tokens);
  const instructionTokens = countTokens(textOf(body.instructions));
  const inputTokens = instructionTokens + items.reduce((sum, m) => sum + countTokens(textOf(m?.content)), 0);
  const effort = typeof body.reasoning === 'object' && body.reasoning !== null ? (body.reasoning as { effort?: unknown }).effort : undefined;
  const reasoning = reasoningTokens(effort, tokens);
  const outputTokens = tokens + reasoning;
  return {
    id: `resp_echo_${seq}`,
    object: 'response',
    created_at: nowSeconds(),
    status: truncated ? 'incomplete' : 'completed',
    incomplete_details: truncated ? { reason: 'max_output_tokens' } : null,
    model: modelOf(body),
    output: [
      {
        type: 'message',
        id: `msg_echo_${seq}`,
        status: 'completed',
        role: 'assistant',
        content: [{ type: 'output_text', text, annotations: [] }],
      },
    ],
    output_text: text,
    usage: {
      input_tokens: inputTokens,
      input_tokens_details: { cached_tokens: instructionTokens + prefixTokens(items) },
      output_tokens: outputTokens,
      output_tokens_details: { reasoning_tokens: reasoning },
      total_tokens: inputTokens + outputTokens,
    },
  };
}

const MODERATION_TRIGGERS: Record<string, string[]> = {
  harassment: ['idiot', 'stupid'],
  'harassment/threatening': [],
  hate: ['vermin'],
  'hate/threatening': [],
  illicit: [],
  'illicit/violent': [],
  'self-harm': ['suicide'],
  'self-harm/intent': [],
  'self-harm/instructions': [],
  sexual: [],
  'sexual/minors': [],
  violence: ['kill', 'attack', 'shoot'],
  'violence/graphic': [],
};

/** OpenAI's moderation: one result per input string (a multimodal list is one input). */
function moderation(body: Body, seq: number): object {
  const input = body.input;
  const multimodal = Array.isArray(input) && input.some((part) => typeof part === 'object' && part !== null);
  const texts = multimodal ? [textOf(input)] : Array.isArray(input) ? input.map(textOf) : [textOf(input)];
  const results = texts.map((text) => {
    const words = new Set(text.toLowerCase().split(/[^a-z]+/).filter(Boolean));
    const categories: Record<string, boolean> = {};
    const scores: Record<string, number> = {};
    const appliedTypes: Record<string, string[]> = {};
    for (const [category, triggers] of Object.entries(MODERATION_TRIGGERS)) {
      categories[category] = triggers.some((word) => words.has(word));
      scores[category] = categories[category] ? 0.92 : 0.0001;
      appliedTypes[category] = ['text'];
    }
    return { flagged: Object.values(categories).some(Boolean), categories, category_scores: scores, category_applied_input_types: appliedTypes };
  });
  return { id: `modr-echo-${seq}`, model: typeof body.model === 'string' ? body.model : 'omni-moderation-latest', results };
}

/** Text of a message content: a string, or the text parts of a content array. */
function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let out = '';
  for (const part of content as { text?: unknown }[]) {
    if (typeof part?.text === 'string') out += out ? ` ${part.text}` : part.text;
  }
  return out;
}

function countTokens(text: string): number {
  let count = 0;
  let inToken = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const space = c === 32 || c === 9 || c === 10 || c === 13;
    if (!space && !inToken) count++;
    inToken = !space;
  }
  return count;
}

/** Cuts the echo to `max` whitespace tokens when the request sets a token limit. */
function limit(text: string, max: unknown): { text: string; tokens: number; truncated: boolean } {
  const tokens = countTokens(text);
  if (typeof max !== 'number' || tokens <= max) return { text, tokens, truncated: false };
  const kept = text.split(/\s+/).filter(Boolean).slice(0, Math.max(0, max));
  return { text: kept.join(' '), tokens: kept.length, truncated: true };
}

/** A unit vector derived from FNV-1a of the text and a xorshift stream: same text, same vector. */
function embed(text: string): number[] {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  let state = h >>> 0 || 1;
  const vector: number[] = [];
  let norm = 0;
  for (let i = 0; i < DIMENSIONS; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const value = (state >>> 0) / 0xffffffff - 0.5;
    vector.push(value);
    norm += value * value;
  }
  norm = Math.sqrt(norm) || 1;
  return vector.map((v) => Math.round((v / norm) * 1e6) / 1e6);
}

function findLast<T>(items: T[], match: (item: T) => boolean): T | undefined {
  for (let i = items.length - 1; i >= 0; i--) if (match(items[i]!)) return items[i];
  return undefined;
}

function modelOf(body: Body): string {
  return typeof body.model === 'string' ? body.model : 'echo';
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export function openAiError(message: string, type: string, code: string): { error: { message: string; type: string; param: null; code: string } } {
  return { error: { message, type, param: null, code } };
}
