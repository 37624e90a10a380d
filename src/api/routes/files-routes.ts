import { Hono } from 'hono';
import { z } from 'zod';
import { deleteFileObject, getFileObject, listFileObjects, openFileContent, uploadFile } from '../../services/file-service.js';
import type { ServiceDeps } from '../../services/service-deps.js';
import type { AuthVariables } from '../auth.js';
import { toList } from '../list-shape.js';
import { parseOrThrow } from '../validate.js';

export const ListFilesQuery = z.object({
  limit: z.coerce.number().int().min(1).max(10_000).default(10_000),
  after: z.string().optional(),
  purpose: z.string().optional(),
  order: z.enum(['asc', 'desc']).default('desc'),
});

/**
 * RFC 6266: an ASCII fallback name plus the exact name as RFC 5987 UTF-8, so
 * any stored name (uploads may be named in any script) makes a valid header.
 */
function contentDisposition(filename: string): string {
  const fallback = filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

export function filesRoutes(deps: ServiceDeps) {
  return new Hono<{ Variables: AuthVariables }>()
    .post('/', async (c) => c.json(await uploadFile(deps, c.get('owner'), c.req.header('content-type'), c.req.raw.body)))
    .get('/', async (c) => {
      const query = parseOrThrow(ListFilesQuery, c.req.query());
      return c.json(toList(await listFileObjects(deps, c.get('owner'), query), query.limit));
    })
    .get('/:id', async (c) => c.json(await getFileObject(deps, c.get('owner'), c.req.param('id'))))
    .get('/:id/content', async (c) => {
      const { file, stream } = await openFileContent(deps, c.get('owner'), c.req.param('id'));
      return c.body(stream, 200, {
        'content-type': 'application/octet-stream',
        'content-length': String(file.bytes),
        'content-disposition': contentDisposition(file.filename),
      });
    })
    .delete('/:id', async (c) => c.json(await deleteFileObject(deps, c.get('owner'), c.req.param('id'))));
}
