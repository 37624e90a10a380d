// The batch console: one module, served as written (no build step). Each page
// is a server-rendered shell that this module fills from the /v1 JSON API, with
// the API key kept in this tab's sessionStorage and sent only as an
// Authorization header. Everything from the API reaches the page as text
// (text nodes and attributes), never as markup.

const KEY_STORAGE = 'batch-console:api-key';
const PAGE_SIZE = 20;
/** With a status filter, batches are filtered here, reading at most this many pages of 100. */
const SCAN_PAGES = 10;
const POLL_MS = 1000;
const POLL_FOR_MS = 5 * 60 * 1000;
const BATCH_STATUSES = ['validating', 'in_progress', 'finalizing', 'completed', 'failed', 'expired', 'cancelling', 'cancelled'];
const DEAD_LETTER_STATES = ['pending', 'retrying', 'succeeded', 'failed'];
const DEAD_LETTER_FILTERS = ['batch_id', 'event_type', 'state', 'endpoint_id'];
const TONES = {
  completed: 'ok', succeeded: 'ok', delivered: 'ok', enabled: 'ok',
  failed: 'bad', expired: 'bad', disabled: 'bad', 'not delivered': 'bad',
  cancelling: 'warn', cancelled: 'warn', retrying: 'warn', pending: 'warn', 'in flight': 'warn',
};

const body = document.body.dataset;
const settings = {
  page: body.page ?? '',
  temporalUiUrl: body.temporalUiUrl ?? null,
  namespace: body.temporalNamespace ?? 'default',
  webhookEvents: (body.webhookEvents ?? '').split(',').filter(Boolean),
};
const main = document.getElementById('main');
const heading = main.querySelector('h1');

// ── DOM ─────────────────────────────────────────────────────────────────────

/** An element: attributes are set as attributes (functions as listeners), children as nodes or text. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (typeof value === 'function') node.addEventListener(name.replace(/^on/, ''), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

const show = (...nodes) => main.replaceChildren(heading, ...nodes.flat().filter(Boolean));
const td = (content, cls) => el('td', { class: cls }, content);
const badge = (text) => el('span', { class: `badge ${Object.hasOwn(TONES, text) ? TONES[text] : ''}`.trim() }, text);
const muted = (text) => el('p', { class: 'muted' }, text);
const notice = (...content) => el('div', { class: 'notice', role: 'status' }, content);

function time(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  const date = new Date(seconds * 1000);
  return el('time', { datetime: date.toISOString(), title: date.toISOString() }, date.toLocaleString());
}

/** Headers are text, or [text, 'num'] for a right-aligned number column. */
function table(label, headers, rows) {
  const head = headers.map((h) => (Array.isArray(h) ? el('th', { scope: 'col', class: h[1] }, h[0]) : el('th', { scope: 'col' }, h)));
  return el('div', { class: 'scroll' }, el('table', { 'aria-label': label }, el('thead', {}, el('tr', {}, head)), el('tbody', {}, rows)));
}

function query(params) {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== '') q.set(name, String(value));
  const text = q.toString();
  return text ? `?${text}` : '';
}

/** Rows per page: `?limit=` (1 to 100) or PAGE_SIZE. */
const pageSize = (params) => Math.min(100, Math.max(1, Number.parseInt(params.get('limit') ?? '', 10) || PAGE_SIZE));
const batchHref = (id) => `/console/batches/${encodeURIComponent(id)}`;
const keyPageHref = () => `/console/key${query({ next: location.pathname + location.search })}`;

/** A link to a workflow in the Temporal Web UI, or its id as text when no UI is configured. */
function workflowLink(workflowId, label = workflowId) {
  if (!settings.temporalUiUrl) return el('code', {}, workflowId);
  const href = `${settings.temporalUiUrl}/namespaces/${encodeURIComponent(settings.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return el('a', { href, target: '_blank', rel: 'noopener noreferrer', 'data-workflow-id': workflowId }, label);
}

function workflowSearchLink(search, label) {
  if (!settings.temporalUiUrl) return null;
  const href = `${settings.temporalUiUrl}/namespaces/${encodeURIComponent(settings.namespace)}/workflows${query({ query: search })}`;
  return el('a', { href, target: '_blank', rel: 'noopener noreferrer' }, label);
}

// ── API ─────────────────────────────────────────────────────────────────────

class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function request(path, { method = 'GET', json, key = sessionStorage.getItem(KEY_STORAGE) } = {}) {
  const headers = { accept: 'application/json', authorization: `Bearer ${key}` };
  if (json !== undefined) headers['content-type'] = 'application/json';
  let res;
  try {
    const init = { method, headers, credentials: 'omit', cache: 'no-store' };
    res = await fetch(path, json === undefined ? init : { ...init, body: JSON.stringify(json) });
  } catch (err) {
    throw new ApiError(0, `The API could not be reached (${err.message}).`, 'network_error');
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON (a proxy's error page): the status says enough.
  }
  if (!res.ok) throw new ApiError(res.status, data?.error?.message ?? `The API answered HTTP ${res.status}.`, data?.error?.code ?? null);
  return data;
}

function errorBox(err) {
  if (err instanceof ApiError && err.status === 401) {
    return el('div', { class: 'alert', role: 'alert' }, `The API key was rejected: ${err.message} `, el('a', { href: keyPageHref() }, 'Enter another key'));
  }
  const detail = err instanceof ApiError && err.status ? ` (HTTP ${err.status}${err.code ? `, ${err.code}` : ''})` : '';
  return el('div', { class: 'alert', role: 'alert' }, `${err?.message ?? err}${detail}`);
}

// ── Key ─────────────────────────────────────────────────────────────────────

/** Where to go once a key is accepted: the page that asked for it, if it is a console page. */
function nextPage() {
  const next = new URLSearchParams(location.search).get('next');
  if (next) {
    const url = new URL(next, location.origin);
    if (url.origin === location.origin && url.pathname.startsWith('/console/') && url.pathname !== '/console/key') return url.pathname + url.search;
  }
  return '/console/batches';
}

function keyPage() {
  const input = el('input', { id: 'api-key', name: 'api-key', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true });
  const button = el('button', { type: 'submit' }, 'Use this key');
  const message = el('div');
  // method=post and the CSP's form-action 'none': even without this script a key never lands in a URL.
  const form = el('form', { class: 'key-form card', method: 'post' },
    el('label', { for: 'api-key' }, 'API key'), input, button,
    muted('Kept in this browser tab only (sessionStorage) and sent to this service as an Authorization header.'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) return;
    button.disabled = true;
    message.replaceChildren(muted('Checking the key…'));
    try {
      await request('/v1/batches?limit=1', { key });
      sessionStorage.setItem(KEY_STORAGE, key);
      location.assign(nextPage());
    } catch (err) {
      button.disabled = false;
      const rejected = err instanceof ApiError && err.status === 401;
      message.replaceChildren(rejected ? el('div', { class: 'alert', role: 'alert' }, `This API key was not accepted: ${err.message} Check it and try again.`) : errorBox(err));
      input.select();
    }
  });
  const current = sessionStorage.getItem(KEY_STORAGE) ? muted('A key is already in use in this tab; a new one replaces it.') : null;
  show(current, form, message);
  input.focus();
}

// ── Batches ─────────────────────────────────────────────────────────────────

/** A page of batches, filtered by status here: reads on until it has a page full or has read SCAN_PAGES. */
async function loadBatches(status, after, limit) {
  const batches = [];
  let cursor = after || undefined;
  let more = true;
  for (let pages = 0; more && batches.length < limit && pages < SCAN_PAGES; pages++) {
    const page = await request(`/v1/batches${query({ limit: status ? 100 : limit, after: cursor })}`);
    more = page.has_more;
    for (const [i, batch] of page.data.entries()) {
      cursor = batch.id;
      if (!status || batch.status === status) batches.push(batch);
      if (batches.length === limit) {
        more ||= i < page.data.length - 1;
        break;
      }
    }
  }
  return { batches, next: more ? cursor : null };
}

function pager(base, params, next) {
  const rest = Object.fromEntries([...params].filter(([name]) => name !== 'after'));
  const links = [
    params.get('after') ? el('a', { href: `${base}${query(rest)}` }, '« First page') : null,
    next ? el('a', { href: `${base}${query({ ...rest, after: next })}`, rel: 'next' }, 'Next page »') : null,
  ].filter(Boolean);
  return links.length ? el('nav', { class: 'pager', 'aria-label': 'Pages' }, links) : null;
}

function progress(counts) {
  const done = counts.completed + counts.failed;
  return [el('progress', { max: counts.total || 1, value: counts.total ? done : 0, 'aria-hidden': 'true' }), `${done} / ${counts.total}`];
}

function batchRow(batch) {
  const counts = batch.request_counts;
  return el('tr', { 'data-batch-id': batch.id },
    td(el('a', { href: batchHref(batch.id) }, el('code', {}, batch.id))),
    td(badge(batch.status)),
    td(progress(counts)),
    td(counts.completed, 'num'), td(counts.failed, 'num'), td(counts.total, 'num'),
    td(time(batch.created_at)));
}

async function batchesPage() {
  const params = new URLSearchParams(location.search);
  const status = params.get('status') ?? '';
  const select = el('select', { name: 'status' }, el('option', { value: '' }, 'any'),
    BATCH_STATUSES.map((s) => el('option', { value: s, selected: s === status }, s)));
  select.addEventListener('change', () => location.assign(`/console/batches${query({ status: select.value, limit: params.get('limit') })}`));
  const filters = el('form', { class: 'filters', onsubmit: (e) => e.preventDefault() }, el('label', {}, 'Status', select));
  const { batches, next } = await loadBatches(status, params.get('after'), pageSize(params));
  const headers = ['Batch', 'Status', 'Progress', ['Completed', 'num'], ['Failed', 'num'], ['Total', 'num'], 'Created'];
  show(filters,
    batches.length ? table('Batches', headers, batches.map(batchRow)) : muted(status ? `No ${status} batches here.` : 'No batches yet.'),
    pager('/console/batches', params, next));
}

// ── One batch ───────────────────────────────────────────────────────────────

const LIFECYCLE = [
  ['created_at', 'created'], ['in_progress_at', 'in progress'], ['finalizing_at', 'finalizing'], ['completed_at', 'completed'],
  ['failed_at', 'failed'], ['cancelling_at', 'cancelling'], ['cancelled_at', 'cancelled'], ['expired_at', 'expired'],
];

async function loadAttempts(batchId) {
  const attempts = [];
  let after;
  for (let pages = 0; pages < 50; pages++) {
    const page = await request(`/v1/batches/${encodeURIComponent(batchId)}/webhook_deliveries${query({ limit: 100, after })}`);
    attempts.push(...page.data);
    if (!page.has_more) break;
    after = page.last_id;
  }
  return attempts;
}

/** Attempts grouped by their delivery workflow (one per event and target, and one per manual retry). */
function deliveriesOf(attempts) {
  const byWorkflow = new Map();
  for (const attempt of attempts) {
    const id = attempt.delivery_workflow_id;
    if (!byWorkflow.has(id)) byWorkflow.set(id, { id, eventType: attempt.event_type, eventId: attempt.event_id, attempts: [] });
    byWorkflow.get(id).attempts.push(attempt);
  }
  const deliveries = [...byWorkflow.values()];
  for (const d of deliveries) d.attempts.sort((a, b) => a.attempt - b.attempt);
  return deliveries;
}

function outcomeOf(delivery) {
  if (delivery.attempts.some((a) => a.success)) return 'delivered';
  const last = delivery.attempts.at(-1);
  return last.duration_ms === null && last.status_code === null && last.error === null ? 'in flight' : 'not delivered';
}

const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

function batchFields(batch) {
  const c = batch.request_counts;
  const w = batch.webhook;
  const rows = [
    ['Endpoint', batch.endpoint], ['Input file', batch.input_file_id], ['Output file', batch.output_file_id ?? '—'],
    ['Error file', batch.error_file_id ?? '—'], ['Completion window', batch.completion_window],
    ['Requests', `${c.total} total, ${c.completed} completed, ${c.failed} failed`],
    ['Created', time(batch.created_at)], ['Expires', time(batch.expires_at)],
    ['Webhook', w ? `${w.url} · events ${w.events.join(', ')} · ${plural(w.max_retries, 'attempt')} · ${w.timeout} s timeout · ${w.has_secret ? 'own secret' : 'no own secret'}` : '—'],
    ['Metadata', batch.metadata ? el('code', {}, JSON.stringify(batch.metadata)) : '—'],
  ];
  const errors = batch.errors?.data ?? [];
  if (errors.length) rows.push(['Errors', el('ul', {}, errors.map((e) => el('li', {}, `${e.code}: ${e.message}${e.line ? ` (line ${e.line})` : ''}`)))]);
  return el('dl', { class: 'fields card' }, rows.map(([name, value]) => [el('dt', {}, name), el('dd', {}, value)]));
}

function timeline(batch, deliveries) {
  const items = LIFECYCLE.filter(([field]) => batch[field] !== null).map(([field, label], order) => ({ at: batch[field], order, content: el('strong', {}, label) }));
  for (const d of deliveries) {
    const first = d.attempts[0];
    items.push({ at: first.attempted_at, order: 100, content: [el('strong', {}, d.eventType), ' to ', el('span', { class: 'mono' }, first.url),
      `: ${outcomeOf(d)} after ${plural(d.attempts.length, 'attempt')}`] });
  }
  items.sort((a, b) => a.at - b.at || a.order - b.order);
  return el('ol', { class: 'timeline card', 'aria-label': 'Timeline' }, items.map((item) => el('li', {}, time(item.at), item.content)));
}

function deliveryCard(d) {
  const rows = d.attempts.map((a) => el('tr', { 'data-attempt': a.attempt },
    td(a.attempt, 'num'), td(time(a.attempted_at)), td(a.status_code ?? '—', 'num'),
    td(a.duration_ms === null ? '—' : `${a.duration_ms} ms`, 'num'), td(a.error ?? '', 'wrap'),
    td(a.response_body ? a.response_body.slice(0, 200) : '', 'wrap'), td(badge(a.success ? 'delivered' : 'failed'))));
  return el('section', { class: 'card', 'aria-label': `Delivery ${d.id}`, 'data-delivery-id': d.id },
    el('h3', {}, `${d.eventType} to `, el('span', { class: 'mono' }, d.attempts.at(-1).url)),
    el('p', {}, badge(outcomeOf(d)), ` ${plural(d.attempts.length, 'attempt')} · event `, el('code', {}, d.eventId), ' · workflow ', workflowLink(d.id)),
    table(`Attempts of ${d.id}`, [['Attempt', 'num'], 'Sent', ['Status', 'num'], ['Duration', 'num'], 'Error', 'Response', 'Result'], rows));
}

async function batchPage() {
  const id = decodeURIComponent(location.pathname.slice('/console/batches/'.length));
  heading.textContent = `Batch ${id}`;
  document.title = `${id} · Batch console`;
  const [batch, attempts] = await Promise.all([request(`/v1/batches/${encodeURIComponent(id)}`), loadAttempts(id)]);
  const deliveries = deliveriesOf(attempts);
  const links = el('div', { class: 'links' },
    settings.temporalUiUrl ? workflowLink(`batch-${batch.id}`, 'Batch workflow in Temporal') : ['Batch workflow ', workflowLink(`batch-${batch.id}`)],
    workflowSearchLink(`BatchId = "${batch.id}"`, 'All its workflows in Temporal'),
    el('a', { href: `/console/dead-letters${query({ batch_id: batch.id })}` }, 'Its dead letters'));
  show(el('p', {}, badge(batch.status), ' ', progress(batch.request_counts)), links,
    el('h2', {}, 'Details'), batchFields(batch),
    el('h2', {}, 'Timeline'), timeline(batch, deliveries),
    el('h2', {}, `Webhook deliveries (${deliveries.length})`),
    deliveries.length ? deliveries.map(deliveryCard) : muted('No webhook deliveries.'));
}

// ── Dead letters ────────────────────────────────────────────────────────────

function deadLetterFilterForm(filter) {
  const select = (name, options) => el('select', { name }, el('option', { value: '' }, 'any'),
    options.map((o) => el('option', { value: o, selected: o === filter[name] }, o)));
  const form = el('form', { class: 'filters', 'aria-label': 'Filters' },
    el('label', {}, 'Batch', el('input', { name: 'batch_id', value: filter.batch_id, placeholder: 'batch_…', size: 28 })),
    el('label', {}, 'Event type', select('event_type', settings.webhookEvents)),
    el('label', {}, 'State', select('state', DEAD_LETTER_STATES)),
    el('label', {}, 'Target', el('input', { name: 'endpoint_id', value: filter.endpoint_id, placeholder: 'we_… or batch_webhook', size: 24 })),
    el('button', { type: 'submit' }, 'Filter'),
    el('a', { href: '/console/dead-letters' }, 'Clear'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    location.assign(`/console/dead-letters${query(Object.fromEntries(new FormData(form)))}`);
  });
  return form;
}

async function deadLettersPage() {
  const params = new URLSearchParams(location.search);
  const filter = Object.fromEntries(DEAD_LETTER_FILTERS.map((name) => [name, params.get(name) ?? '']));
  const messages = el('div', { 'aria-live': 'polite' });
  const bulk = el('div', { class: 'bulk' });
  const list = el('div');
  const confirming = new Set();
  let entries = [];
  let next = null;
  let pollTimer = null;
  let pollUntil = 0;
  const say = (node) => messages.replaceChildren(node);

  async function refresh() {
    const page = await request(`/v1/webhooks/dead-letter${query({ limit: pageSize(params), ...filter, after: params.get('after') })}`);
    entries = page.data;
    next = page.has_more ? page.last_id : null;
    render();
  }

  // While a retry runs, its entry is re-read every second until it ends (or for POLL_FOR_MS).
  function pollWhileRetrying(restart = false) {
    if (restart) pollUntil = Date.now() + POLL_FOR_MS;
    if (pollTimer || Date.now() > pollUntil || !entries.some((e) => e.state === 'retrying')) return;
    pollTimer = setTimeout(() => {
      pollTimer = null;
      refresh().then(() => pollWhileRetrying(), (err) => say(errorBox(err)));
    }, POLL_MS);
  }

  async function act(work) {
    try {
      await work();
    } catch (err) {
      say(errorBox(err));
    }
  }

  const retry = (entry) => act(async () => {
    const updated = await request(`/v1/webhooks/dead-letter/${encodeURIComponent(entry.id)}/retry`, { method: 'POST' });
    entries = entries.map((e) => (e.id === updated.id ? updated : e));
    say(notice(`Retry of entry ${entry.id} started: `, workflowLink(updated.delivery_workflow_id)));
    render();
    pollWhileRetrying(true);
  });

  const remove = (entry) => act(async () => {
    await request(`/v1/webhooks/dead-letter/${encodeURIComponent(entry.id)}`, { method: 'DELETE' });
    confirming.delete(entry.id);
    entries = entries.filter((e) => e.id !== entry.id);
    say(notice(`Deleted entry ${entry.id}.`));
    render();
  });

  function row(entry) {
    const actions = confirming.has(entry.id)
      ? el('div', { class: 'confirm', role: 'group', 'aria-label': `Confirm deleting entry ${entry.id}` }, `Delete entry ${entry.id} for good?`, el('br'),
          el('button', { type: 'button', class: 'danger', onclick: () => remove(entry) }, 'Confirm delete'),
          el('button', { type: 'button', class: 'secondary', onclick: () => (confirming.delete(entry.id), render()) }, 'Cancel'))
      : [el('button', { type: 'button', disabled: entry.state === 'retrying' || entry.state === 'succeeded', onclick: () => retry(entry) }, 'Retry'),
          el('button', { type: 'button', class: 'secondary', onclick: () => (confirming.add(entry.id), render()) }, 'Delete')];
    return el('tr', { 'data-entry-id': entry.id },
      td(entry.id, 'num'),
      td(el('a', { href: batchHref(entry.batch_id) }, el('code', {}, entry.batch_id)), 'wrap'),
      td([entry.event_type, el('details', {}, el('summary', {}, 'payload'), el('pre', {}, JSON.stringify(entry.payload, null, 2)))]),
      td([el('code', {}, entry.target), el('br'), el('span', { class: 'mono' }, entry.webhook_url)], 'wrap'),
      td(badge(entry.state)), td(entry.attempts, 'num'), td(entry.retry_count, 'num'),
      td(entry.error_message ?? '', 'wrap'), td(time(entry.last_attempt_at)),
      td(actions, 'actions'));
  }

  function render() {
    const headers = [['Entry', 'num'], 'Batch', 'Event', 'Target', 'State', ['Attempts', 'num'], ['Retries', 'num'], 'Last error', 'Last attempt', 'Actions'];
    list.replaceChildren(...[
      entries.length ? table('Dead letters', headers, entries.map(row)) : muted('No dead letters match.'),
      pager('/console/dead-letters', params, next),
    ].filter(Boolean));
  }

  const bulkBody = Object.fromEntries(['batch_id', 'event_type', 'endpoint_id'].filter((n) => filter[n]).map((n) => [n, filter[n]]));
  const bulkScope = Object.entries(bulkBody).map(([name, value]) => `${name} = ${value}`).join(', ') || 'every entry (no filter)';

  function renderBulk(confirm) {
    if (!confirm) {
      bulk.replaceChildren(el('button', { type: 'button', class: 'secondary', onclick: () => renderBulk(true) }, 'Retry all matching…'));
      return;
    }
    bulk.replaceChildren(el('div', { class: 'confirm', role: 'group', 'aria-label': 'Confirm bulk retry' },
      `Retry every pending or failed entry matching ${bulkScope}? The state filter does not apply; at most 500 start per run.`, el('br'),
      el('button', { type: 'button', onclick: () => bulkRetry() }, 'Retry matching entries'),
      el('button', { type: 'button', class: 'secondary', onclick: () => renderBulk(false) }, 'Cancel')));
  }

  const bulkRetry = () => act(async () => {
    renderBulk(false);
    const result = await request('/v1/webhooks/dead-letter/retry', { method: 'POST', json: bulkBody });
    say(notice(`Started ${result.started} ${result.started === 1 ? 'retry' : 'retries'}`,
      result.workflow_id ? [' by ', workflowLink(result.workflow_id)] : '',
      result.has_more ? '. More entries match: retry again once these ran.' : '.'));
    await refresh();
    pollWhileRetrying(true);
  });

  renderBulk(false);
  await refresh();
  show(deadLetterFilterForm(filter), bulk, messages, list);
  pollWhileRetrying(true);
}

// ── Webhook endpoints ───────────────────────────────────────────────────────

async function endpointsPage() {
  const params = new URLSearchParams(location.search);
  const page = await request(`/v1/webhook_endpoints${query({ limit: pageSize(params), after: params.get('after') })}`);
  let endpoints = page.data;
  const results = new Map();
  const busy = new Set();
  const messages = el('div', { 'aria-live': 'polite' });
  const list = el('div');

  async function act(endpoint, work) {
    busy.add(endpoint.id);
    render();
    try {
      await work();
    } catch (err) {
      messages.replaceChildren(errorBox(err));
    } finally {
      busy.delete(endpoint.id);
      render();
    }
  }

  const toggle = (endpoint) => act(endpoint, async () => {
    const updated = await request(`/v1/webhook_endpoints/${encodeURIComponent(endpoint.id)}`, { method: 'PATCH', json: { enabled: !endpoint.enabled } });
    endpoints = endpoints.map((e) => (e.id === updated.id ? updated : e));
  });

  const sendTest = (endpoint) => act(endpoint, async () => {
    results.set(endpoint.id, 'Sending…');
    render();
    const r = await request(`/v1/webhook_endpoints/${encodeURIComponent(endpoint.id)}/test`, { method: 'POST' });
    const detail = r.status === 'delivered' ? `HTTP ${r.status_code}` : (r.error ?? (r.status_code ? `HTTP ${r.status_code}` : ''));
    results.set(endpoint.id, `Test event ${r.status.replace('_', ' ')}${detail ? ` (${detail})` : ''}`);
  });

  function row(e) {
    const state = e.enabled ? 'enabled' : 'disabled';
    return el('tr', { 'data-endpoint-id': e.id },
      td(el('code', {}, e.id)),
      td([el('span', { class: 'mono' }, e.url), e.description ? [el('br'), el('span', { class: 'muted' }, e.description)] : null], 'wrap'),
      td(e.events.join(', ')),
      td([badge(state), e.disabled_reason ? [el('br'), el('span', { class: 'muted' }, e.disabled_reason)] : null]),
      td(`${plural(e.max_retries, 'attempt')}, ${e.timeout} s`),
      td([el('button', { type: 'button', class: 'secondary', disabled: busy.has(e.id), onclick: () => toggle(e) }, e.enabled ? 'Disable' : 'Enable'),
        el('button', { type: 'button', disabled: busy.has(e.id), onclick: () => sendTest(e) }, 'Send test event')], 'actions'),
      td(el('output', {}, results.get(e.id) ?? '')));
  }

  function render() {
    list.replaceChildren(...[
      endpoints.length ? table('Webhook endpoints', ['Endpoint', 'URL', 'Events', 'State', 'Attempts, timeout', 'Actions', 'Last test'], endpoints.map(row))
        : muted('No webhook endpoints. Create one with POST /v1/webhook_endpoints.'),
      pager('/console/endpoints', params, page.has_more ? page.last_id : null),
    ].filter(Boolean));
  }

  render();
  show(messages, list);
}

// ── Start ───────────────────────────────────────────────────────────────────

const PAGES = { key: keyPage, batches: batchesPage, batch: batchPage, 'dead-letters': deadLettersPage, endpoints: endpointsPage };

async function start() {
  if (settings.page !== 'key') {
    if (!sessionStorage.getItem(KEY_STORAGE)) {
      location.replace(keyPageHref());
      return;
    }
    const forget = document.getElementById('forget-key');
    forget.hidden = false;
    forget.addEventListener('click', () => {
      sessionStorage.removeItem(KEY_STORAGE);
      location.assign('/console/key');
    });
  }
  try {
    await (PAGES[settings.page] ?? (() => show(errorBox(new Error('Unknown console page.')))))();
  } catch (err) {
    show(errorBox(err));
  }
}

start();
