/**
 * The methods some route serves at `path` (HEAD wherever GET is, as Hono
 * answers it): a request to a known path with another method is a 405, not a 404.
 */
export function allowedMethodsOf(routes: readonly { method: string; path: string }[]) {
  const patterns = routes
    .filter((route) => route.method !== 'ALL')
    .map((route) => ({ method: route.method, pattern: toPattern(route.path) }));
  return (path: string): string[] => {
    const methods = new Set(patterns.filter(({ pattern }) => pattern.test(path)).map(({ method }) => method));
    if (methods.has('GET')) methods.add('HEAD');
    return [...methods];
  };
}

function toPattern(routePath: string): RegExp {
  const source = routePath
    .split('/')
    .map((part) => (part.startsWith(':') ? '[^/]+' : part === '*' ? '.*' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}$`);
}
