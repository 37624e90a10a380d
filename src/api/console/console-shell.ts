import { html } from 'hono/html';

/** The console's pages; each is the same shell, filled in by console.js from the `/v1` API. */
export const CONSOLE_PAGES = {
  key: 'API key',
  batches: 'Batches',
  batch: 'Batch',
  'dead-letters': 'Dead letters',
  endpoints: 'Webhook endpoints',
} as const;

export type ConsolePage = keyof typeof CONSOLE_PAGES;

const NAV: { page: ConsolePage; href: string }[] = [
  { page: 'batches', href: '/console/batches' },
  { page: 'dead-letters', href: '/console/dead-letters' },
  { page: 'endpoints', href: '/console/endpoints' },
];

/** What the page may know about the service: nothing secret, only where to link and what to offer. */
export interface ConsoleShellSettings {
  temporalUiUrl: string | undefined;
  temporalNamespace: string;
  webhookEvents: readonly string[];
  /** Asset name → content version, appended to asset URLs so browsers may cache them for good. */
  versions: { js: string; css: string };
}

/**
 * The HTML shell of one console page. Every value is escaped by `html`;
 * settings travel as data attributes because the CSP allows no inline script.
 */
export function renderConsoleShell(page: ConsolePage, s: ConsoleShellSettings) {
  const title = CONSOLE_PAGES[page];
  const current = page === 'batch' ? 'batches' : page;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · Batch console</title>
<link rel="icon" href="/console/assets/icon.svg">
<link rel="stylesheet" href="/console/assets/console.css?v=${s.versions.css}">
<script type="module" src="/console/assets/console.js?v=${s.versions.js}"></script>
</head>
<body data-page="${page}" data-temporal-namespace="${s.temporalNamespace}" data-webhook-events="${s.webhookEvents.join(',')}"${
    s.temporalUiUrl ? html` data-temporal-ui-url="${s.temporalUiUrl}"` : ''
  }>
<header class="top">
<a class="brand" href="/console/batches">Batch console</a>
<nav aria-label="Console">${NAV.map(
    (item) => html`<a href="${item.href}"${item.page === current ? html` aria-current="page"` : ''}>${CONSOLE_PAGES[item.page]}</a>`,
  )}</nav>
<button type="button" class="quiet" id="forget-key" hidden>Forget key</button>
</header>
<main id="main">
<h1>${title}</h1>
<p class="muted" id="loading">Loading…</p>
<noscript><p>The console needs JavaScript.</p></noscript>
</main>
</body>
</html>`;
}
