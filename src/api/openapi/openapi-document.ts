import { z } from 'zod';
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiOverrideContext, type ZodOpenApiPathsObject } from 'zod-openapi';
import packageJson from '../../../package.json' with { type: 'json' };
import { WebhookEventNameSchema } from '../../batches/create-batch-request.js';
import { AnyEventNameSchema } from '../../webhooks/webhook-endpoint-request.js';
import { OPERATIONAL_EVENT_TYPES, WEBHOOK_EVENTS } from '../../workflows/contracts.js';
import { API_ROUTES, type ApiRoute, type ErrorStatus, type TagName } from './api-routes.js';
import { BATCH_EXTENSIONS, ErrorSchema } from './response-schemas.js';

const BEARER = 'bearerAuth';

type StatusKey = `${1 | 2 | 3 | 4 | 5}${string}`;

const ERROR_DESCRIPTIONS: Record<ErrorStatus, string> = {
  400: 'Invalid request: `param` names the offending field or query parameter.',
  401: 'Missing or wrong API key.',
  404: 'No such object for this API key (an id that cannot exist is a 404 too).',
  409: 'The request conflicts with the object\'s state; `code` says how.',
  413: 'The request body or file is over its limit.',
  500: 'An error the server did not expect.',
  503: 'Postgres or Temporal is unreachable, or the service is still starting; retry after `Retry-After` seconds.',
};

const RETRY_AFTER = z.object({ 'retry-after': z.string().meta({ description: 'Seconds to wait before retrying.' }) });

const TAGS: { name: TagName; description: string }[] = [
  { name: 'Files', description: "OpenAI's `/v1/files`, for batch input and output files." },
  { name: 'Batches', description: "OpenAI's `/v1/batches`; each batch is a Temporal workflow." },
  { name: 'Batch webhooks', description: "A batch's own webhook: its settings, secret and delivery attempts." },
  { name: 'Dead letters', description: 'Webhook events whose delivery ran out of attempts, or that a disabled endpoint keeps.' },
  { name: 'Webhook endpoints', description: 'Endpoints that receive the events of every batch of their owner.' },
  { name: 'Service', description: 'Health, readiness, metrics and this document: public, no API key.' },
];

const DESCRIPTION = [
  'An OpenAI-compatible Batch API on Temporal, with signed, retried webhooks.',
  '',
  `\`/v1/files\` and \`/v1/batches\` answer as OpenAI's (the official \`openai\` clients work against them); the Batch object adds ${BATCH_EXTENSIONS.map((f) => `\`${f}\``).join(', ')}.`,
  'Every other route (also those under `/v1/batches/{id}/` that OpenAI does not have: `webhook…`, `retry_failed`) is this service\'s own. Every `/v1` route needs an API key as `Authorization: Bearer <key>`, and every object belongs to the key\'s owner.',
  '',
  'Every error is `{"error": {"message", "type", "param", "code"}}`. A known path with a method it does not serve answers 405 with an `Allow` header; an unknown path 404. Client errors carry `x-should-retry: false`.',
  'Any request under `/v1`, to a route or not, is first checked for its key (401), for query text Postgres cannot store (400) and for a JSON body over 1 MiB (413). HEAD is answered wherever GET is.',
].join('\n');

/** Path parameters from the template: every `{id}` names an object as a string. */
function pathParams(path: string) {
  const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
  return names.length === 0 ? undefined : z.object(Object.fromEntries(names.map((name) => [name, z.string()])));
}

/** The errors a route can answer: those of every `/v1` route, of a route with an id, with a body, and its own. */
function errorStatuses(route: ApiRoute): ErrorStatus[] {
  const statuses = new Set<ErrorStatus>(route.errors ?? []);
  if (route.path.startsWith('/v1/')) {
    // Every /v1 request: the key, query text Postgres cannot store, the database, the unexpected.
    for (const status of [400, 401, 500, 503] as const) statuses.add(status);
    if (route.path.includes('{')) statuses.add(404);
    if (route.method === 'post' || route.method === 'patch') statuses.add(413);
  }
  return [...statuses].sort((a, b) => a - b);
}

function operation(route: ApiRoute): ZodOpenApiOperationObject {
  const responses: ZodOpenApiOperationObject['responses'] = {};
  for (const [status, answer] of Object.entries(route.responses)) {
    responses[status as StatusKey] = {
      description: answer.description,
      content: { [answer.contentType ?? 'application/json']: { schema: answer.schema } },
      ...(answer.headers ? { headers: answer.headers } : {}),
    };
  }
  for (const status of errorStatuses(route)) {
    responses[`${status}` as StatusKey] = {
      description: ERROR_DESCRIPTIONS[status],
      content: { 'application/json': { schema: ErrorSchema } },
      ...(status === 503 ? { headers: RETRY_AFTER } : {}),
    };
  }
  const path = pathParams(route.path);
  return {
    operationId: route.operationId,
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: [route.tag],
    security: route.path.startsWith('/v1/') ? [{ [BEARER]: [] }] : [],
    requestParams: { ...(path ? { path } : {}), ...(route.query ? { query: route.query } : {}), ...(route.headers ? { header: route.headers } : {}) },
    ...(route.body
      ? { requestBody: { required: route.body.required, content: { [route.body.contentType ?? 'application/json']: { schema: route.body.schema } } } }
      : {}),
    responses,
  };
}

const LIFECYCLE_NAMES = [...WEBHOOK_EVENTS, ...WEBHOOK_EVENTS.map((event) => `batch.${event}`)];

/** Event names are strings checked by a refinement, which JSON Schema cannot show: the names each accepts. */
const EVENT_NAMES = new Map<unknown, string[]>([
  [WebhookEventNameSchema, LIFECYCLE_NAMES],
  [AnyEventNameSchema, [...LIFECYCLE_NAMES, ...OPERATIONAL_EVENT_TYPES]],
]);

/**
 * Adjustments to zod's rendering. A request check that runs before the real
 * schema (metadata refuses a `__proto__` key first) is `unknown` piped into
 * it: document what it pipes into. Event names list the names they accept.
 * And `.int()` adds JavaScript's safe-integer bounds to every integer: noise
 * for every other language.
 */
function adjustRendering({ zodSchema, jsonSchema, io }: ZodOpenApiOverrideContext) {
  const names = EVENT_NAMES.get(zodSchema);
  if (names && io === 'input') Object.assign(jsonSchema, { type: 'string', enum: names });
  const def = zodSchema._zod.def;
  if (io === 'input' && def.type === 'pipe' && def.in._zod.def.type === 'unknown') {
    const { $schema: _omit, ...target } = z.toJSONSchema(def.out as z.ZodType, { io: 'input', target: 'draft-2020-12' });
    Object.assign(jsonSchema, stripSafeIntegerBounds(target));
  }
  stripSafeIntegerBounds(jsonSchema);
}

function stripSafeIntegerBounds<T extends { minimum?: unknown; maximum?: unknown }>(schema: T): T {
  if (schema.minimum === Number.MIN_SAFE_INTEGER) delete schema.minimum;
  if (schema.maximum === Number.MAX_SAFE_INTEGER) delete schema.maximum;
  return schema;
}

/** The OpenAPI 3.1 description of the API, built from the schemas its routes validate and answer with. */
export function buildOpenApiDocument() {
  const paths: ZodOpenApiPathsObject = {};
  for (const route of API_ROUTES) {
    paths[route.path] = { ...paths[route.path], [route.method]: operation(route) };
  }
  return createDocument(
    {
      openapi: '3.1.0',
      info: { title: 'Durable batch jobs with reliable webhooks', version: packageJson.version, description: DESCRIPTION },
      tags: TAGS,
      paths,
      components: {
        securitySchemes: {
          [BEARER]: { type: 'http', scheme: 'bearer', description: 'An API key of `API_KEYS`; every object belongs to its owner.' },
        },
      },
    },
    { override: adjustRendering },
  );
}

let built: ReturnType<typeof buildOpenApiDocument> | undefined;

/** The document, built once per process on first use. */
export function openApiDocument() {
  built ??= buildOpenApiDocument();
  return built;
}
