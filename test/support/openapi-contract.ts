import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { openApiDocument } from '../../src/api/openapi/openapi-document.js';
import type { RecordedResponse } from './response-recorder.js';

type Document = ReturnType<typeof openApiDocument>;
type Operation = { responses?: Record<string, { content?: Record<string, unknown> }> };

const METHODS = ['get', 'post', 'patch', 'delete', 'put'] as const;
const DOC_ID = 'https://openapi.test/openapi.json';

/** What the `/v1` middleware answers before any route runs: 400 (query text), 401, 413, 503. */
const BEFORE_ROUTING = [400, 401, 413, 503];

/** A path template as a pattern: `{id}` is one path segment. */
function templatePattern(template: string): RegExp {
  const source = template
    .split('/')
    .map((part) => (/^\{\w+\}$/.test(part) ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}$`);
}

const pointer = (...parts: string[]) => parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

/**
 * Checks responses against the OpenAPI document: the route (method and path
 * template), the status, the media type and, for JSON, the body with the
 * document's own schema (JSON Schema 2020-12, as OpenAPI 3.1 uses it).
 */
export function createContractChecker(doc: Document = openApiDocument()) {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  addFormats.default(ajv);
  ajv.addFormat('binary', true);
  ajv.addSchema(doc as object, DOC_ID);
  const templates = Object.keys(doc.paths ?? {}).map((template) => ({
    template,
    pattern: templatePattern(template),
    params: (template.match(/\{/g) ?? []).length,
  }));
  const validators = new Map<string, ValidateFunction>();
  const validatorFor = (ref: string) => {
    let validate = validators.get(ref);
    if (!validate) {
      validate = ajv.compile({ $ref: `${DOC_ID}#/${ref}` });
      validators.set(ref, validate);
    }
    return validate;
  };
  const errorValidator = () => validatorFor(pointer('components', 'schemas', 'Error'));

  /** The problems with a JSON request body the API took, or [] when the document takes it too. */
  const checkRequest = (method: string, path: string, body: unknown): string[] => {
    const lower = method.toLowerCase() as (typeof METHODS)[number];
    const operations = doc.paths as Record<string, Partial<Record<(typeof METHODS)[number], Operation & { requestBody?: unknown }>>>;
    const found = templates
      .filter(({ pattern }) => pattern.test(path))
      .sort((a, b) => a.params - b.params)
      .find(({ template }) => operations[template]?.[lower]?.requestBody);
    if (!found) return [`${method} ${path}: the document takes no request body`];
    const validate = validatorFor(pointer('paths', found.template, lower, 'requestBody', 'content', 'application/json', 'schema'));
    if (validate(body)) return [];
    return (validate.errors ?? []).map((e) => `${method} ${found.template} request: body${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
  };

  /** The problems with one response, or [] when it is as the document says. */
  const check = (res: RecordedResponse): string[] => {
    // HEAD is answered wherever GET is, as GET with no body (see the document's description).
    const head = res.method === 'HEAD';
    const method = (head ? 'get' : res.method.toLowerCase()) as (typeof METHODS)[number];
    const where = `${res.method} ${res.path} → ${res.status}`;
    const matching = templates.filter(({ pattern }) => pattern.test(res.path)).sort((a, b) => a.params - b.params);
    const operations = doc.paths as Record<string, Partial<Record<(typeof METHODS)[number], Operation>>>;
    const found = matching.find(({ template }) => operations[template]?.[method]);
    if (!found) {
      // No operation: a known path answers 405, an unknown one 404. Under /v1 the checks that run
      // before routing (the key, query text, body size, the schema being ready) may answer first.
      const allowed = [matching.length > 0 ? 405 : 404, ...(res.path.startsWith('/v1/') ? BEFORE_ROUTING : [])];
      if (!allowed.includes(res.status)) return [`${where}: no operation in the document; expected one of ${allowed.join(', ')}`];
      return head ? [] : bodyProblems(where, res, errorValidator());
    }
    const operation = operations[found.template]![method]!;
    const response = operation.responses?.[String(res.status)];
    if (!response) return [`${where}: status ${res.status} is not documented for ${method.toUpperCase()} ${found.template}`];
    const mediaTypes = Object.keys(response.content ?? {});
    const mediaType = mediaTypes.find((type) => (res.contentType ?? '').toLowerCase().startsWith(type));
    if (!mediaType) return [`${where}: content-type ${res.contentType} is not one of ${mediaTypes.join(', ') || '(none)'}`];
    if (mediaType !== 'application/json' || head) return [];
    const ref = pointer('paths', found.template, method, 'responses', String(res.status), 'content', mediaType, 'schema');
    return bodyProblems(`${where} (${res.method} ${found.template})`, res, validatorFor(ref));
  };
  return Object.assign(check, { request: checkRequest });
}

function bodyProblems(where: string, res: RecordedResponse, validate: ValidateFunction): string[] {
  if (!/^application\/json\b/i.test(res.contentType ?? '')) return [`${where}: expected JSON, got ${res.contentType}`];
  if (res.unparsable !== undefined) return [`${where}: the body is not JSON: ${res.unparsable}`];
  if (validate(res.body)) return [];
  return (validate.errors ?? []).map((e) => `${where}: body${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
}
