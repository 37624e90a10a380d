import { z } from 'zod';

/** OpenAI's bounds on `expires_after.seconds` and `output_expires_after.seconds`: 1 hour to 30 days. */
export const MIN_EXPIRES_AFTER_SECONDS = 3_600;
export const MAX_EXPIRES_AFTER_SECONDS = 2_592_000;

/**
 * OpenAI: "By default, files with `purpose=batch` expire after 30 days and all
 * other files are persisted until they are manually deleted." Batch output and
 * error files (purpose `batch_output`) are therefore kept unless the batch was
 * created with `output_expires_after`.
 */
export const DEFAULT_BATCH_FILE_EXPIRES_AFTER_SECONDS = 30 * 86_400;

const requiredOr = (message: string) => (issue: { input?: unknown }) => (issue.input === undefined ? 'is required' : message);

/**
 * `{anchor: 'created_at', seconds}`, OpenAI's expiration policy. The only
 * anchor is `created_at`, the creation time of the file that expires (for a
 * batch's output, when that file is written, not when the batch was created).
 */
export const ExpiresAfterSchema = z
  .object({
    anchor: z.literal('created_at', { error: requiredOr("must be 'created_at', the only supported anchor") }),
    seconds: z
      .number({ error: requiredOr('must be an integer number of seconds') })
      .int({ error: 'must be an integer number of seconds' })
      .min(MIN_EXPIRES_AFTER_SECONDS, { error: `must be at least ${MIN_EXPIRES_AFTER_SECONDS} (1 hour)` })
      .max(MAX_EXPIRES_AFTER_SECONDS, { error: `must be at most ${MAX_EXPIRES_AFTER_SECONDS} (30 days)` }),
  })
  .strict();

export type ExpiresAfter = z.output<typeof ExpiresAfterSchema>;

/** The multipart fields of `POST /v1/files` that carry `expires_after`, keyed by the part they set. */
export const EXPIRES_AFTER_FIELDS = { 'expires_after[anchor]': 'anchor', 'expires_after[seconds]': 'seconds' } as const;

export type ExpiresAfterField = keyof typeof EXPIRES_AFTER_FIELDS;

export const isExpiresAfterField = (name: string): name is ExpiresAfterField => Object.hasOwn(EXPIRES_AFTER_FIELDS, name);

/** What is wrong with one `expires_after` part (`param` and message), or null when it is fine on its own. */
export interface ExpiresAfterProblem {
  param: string;
  message: string;
  missing: boolean;
}

/** Form fields are text: an integer is given as its digits, anything else stays text and is refused. */
const formValue = (part: 'anchor' | 'seconds', text: string): unknown => (part === 'seconds' && /^[+-]?\d{1,16}$/.test(text) ? Number(text) : text);

/**
 * Checks the `expires_after` parts of a multipart form. `fields` holds the
 * parts received so far; with `complete`, a part sent without its partner is
 * a problem too. Null when nothing is wrong (or no part was sent).
 */
export function expiresAfterFormProblem(fields: Partial<Record<'anchor' | 'seconds', string>>, complete: boolean): ExpiresAfterProblem | null {
  if (fields.anchor === undefined && fields.seconds === undefined) return null;
  const value = Object.fromEntries(Object.entries(fields).map(([part, text]) => [part, formValue(part as 'anchor' | 'seconds', text)]));
  const parsed = ExpiresAfterSchema.safeParse(value);
  if (parsed.success) return null;
  const issue = parsed.error.issues.find((i) => complete || (i.path[0] as string) in fields);
  if (!issue) return null;
  const part = String(issue.path[0]);
  const missing = !(part in fields);
  return {
    param: `expires_after.${part}`,
    missing,
    message: missing ? `Missing required field 'expires_after[${part}]'.` : `Invalid value for 'expires_after.${part}': ${issue.message}`,
  };
}

/** The policy from complete, valid form parts (see expiresAfterFormProblem); undefined when none was sent. */
export function expiresAfterFromForm(fields: Partial<Record<'anchor' | 'seconds', string>>): ExpiresAfter | undefined {
  if (fields.anchor === undefined && fields.seconds === undefined) return undefined;
  return ExpiresAfterSchema.parse({ anchor: fields.anchor, seconds: formValue('seconds', fields.seconds ?? '') });
}
