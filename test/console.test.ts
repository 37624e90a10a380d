import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { batchWorkflowId, webhookDeliveryWorkflowId } from '../src/workflows/workflow-ids.js';
import { call, getDeadLetter } from './support/api-client.js';
import { batchOutcome, createBatch, deadLetterIdOf, deliveryResult } from './support/batches.js';
import { launchBrowser, openPage, screenshot, type ConsolePage } from './support/browser.js';
import { ALICE_KEY, chatLines, startHarness, type Harness } from './support/service-harness.js';
import { startWebhookReceiver } from './support/webhook-receiver.js';

const TEMPORAL_UI = 'http://temporal-ui.test:8233';

let h: Harness;
let server: ServerType;
let baseUrl: string;
let browser: Browser;
/** Every page opened in this file, so the last test can look at everything they requested. */
const opened: (ConsolePage & { errors: string[] })[] = [];

beforeAll(async () => {
  h = await startHarness({ TEMPORAL_UI_URL: TEMPORAL_UI });
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: h.app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchBrowser();
});
afterEach(async () => {
  for (const p of opened) {
    if (p.page.isClosed()) continue;
    // The key lives in sessionStorage only: nothing may have set a cookie.
    expect(await p.context.cookies()).toEqual([]);
    expect(p.errors, 'errors in the page').toEqual([]);
    await p.context.close();
  }
});
afterAll(async () => {
  // The browser first: its keep-alive connections would hold the server open.
  await browser?.close();
  if (server) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  await h?.close();
});

async function open(): Promise<Page> {
  const p = await openPage(browser, baseUrl);
  opened.push(p);
  return p.page;
}

/** Waits until the page's script replaced the shell's "Loading…" with what it fetched. */
const loaded = (page: Page) => page.locator('#loading').waitFor({ state: 'detached' });

/** Opens `path`, is sent to the key page, enters alice's key and lands back on `path`. */
async function signIn(page: Page, path: string): Promise<void> {
  await page.goto(path);
  await page.waitForURL((url) => url.pathname === '/console/key');
  await page.getByLabel('API key').fill(ALICE_KEY);
  await page.getByRole('button', { name: 'Use this key' }).click();
  await page.waitForURL((url) => url.pathname + url.search === path);
  await loaded(page);
}

/** Waits for the row's state badge to read `state`. */
const untilState = (row: Locator, state: string) => row.locator('.badge', { hasText: new RegExp(`^${state}$`) }).waitFor();

const textOf = async (locator: Locator) => (await locator.textContent()) ?? '';

/** A receiver that fails while `down` is true. */
async function flakyReceiver() {
  const state = { down: true };
  const receiver = await startWebhookReceiver(() => ({ status: state.down ? 500 : 200 }));
  return Object.assign(receiver, { state });
}

/** A batch whose `event` delivery to `url` ran out of its 2 attempts; returns its dead-letter entry id. */
async function deadLettered(url: string, lines = chatLines(2)) {
  const batch = await createBatch(h, lines, { webhook: { url, max_retries: 2 } });
  const event = (await batchOutcome(h, batch.id)) === 'failed' ? 'failed' : 'completed';
  return { batch, entryId: deadLetterIdOf(await deliveryResult(h, batch.id, event)) };
}

/** Opens the dead-letter page filtered by a batch id, typed into the filter form. */
async function deadLettersOfBatch(page: Page, batchId: string): Promise<void> {
  await page.getByLabel('Batch', { exact: true }).fill(batchId);
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForURL((url) => url.searchParams.get('batch_id') === batchId);
  await loaded(page);
}

describe('the web console', () => {
  it('serves public shells and assets without a key, under a strict CSP, and no secret in them', async () => {
    const root = await h.app.request('/console');
    expect([root.status, root.headers.get('location')]).toEqual([302, '/console/batches']);
    const shell = await h.app.request('/console/dead-letters');
    const html = await shell.text();
    expect(shell.status).toBe(200);
    expect(shell.headers.get('content-security-policy')).toMatch(/^default-src 'none'; script-src 'self';.*form-action 'none'/);
    expect(html).toContain(`data-temporal-ui-url="${TEMPORAL_UI}"`);
    expect(html).not.toContain('<script>');
    expect(html).not.toContain(ALICE_KEY);
    const version = /\/console\/assets\/console\.js\?v=([0-9a-f]{12})/.exec(html)?.[1];
    const js = await h.app.request(`/console/assets/console.js?v=${version}`);
    expect(js.headers.get('cache-control')).toContain('immutable');
    expect(js.headers.get('x-content-type-options')).toBe('nosniff');
    expect((await h.app.request('/console/assets/console.js?v=old')).headers.get('cache-control')).toBe('no-cache');
    expect((await h.app.request('/console/assets/secrets.json')).status).toBe(404);
  });

  it('turns a wrong key away with a clear error, and takes the right one', async () => {
    const page = await open();
    const assetTypes = new Map<string, string | undefined>();
    page.on('response', (res) => {
      const { pathname } = new URL(res.url());
      if (pathname.startsWith('/console/assets/')) assetTypes.set(pathname, res.headers()['content-type']);
    });
    const shell = await page.goto('/console/batches');
    expect(shell?.headers()['content-security-policy']).toContain("script-src 'self'");
    expect(shell?.headers()['content-type']).toMatch(/^text\/html/);
    await page.waitForURL((url) => url.pathname === '/console/key' && url.searchParams.get('next') === '/console/batches');
    await page.getByLabel('API key').waitFor();
    expect(assetTypes.get('/console/assets/console.js')).toMatch(/^text\/javascript/);
    expect(assetTypes.get('/console/assets/console.css')).toMatch(/^text\/css/);

    await page.getByLabel('API key').fill('sk-not-a-real-key');
    await page.getByRole('button', { name: 'Use this key' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await textOf(alert)).toContain('This API key was not accepted: Incorrect API key provided.');
    expect(new URL(page.url()).pathname).toBe('/console/key');
    expect(await page.evaluate('sessionStorage.length')).toBe(0);

    await page.getByLabel('API key').fill(ALICE_KEY);
    await page.getByRole('button', { name: 'Use this key' }).click();
    await page.waitForURL((url) => url.pathname === '/console/batches');
    await loaded(page);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Batches');

    // Forgetting the key sends the next page back to the key page.
    await page.getByRole('button', { name: 'Forget key' }).click();
    await page.waitForURL((url) => url.pathname === '/console/key');
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
  });

  it('shows a completed batch, its timeline and its webhook delivery with the attempt', async () => {
    const receiver = await startWebhookReceiver();
    const failed = await createBatch(h, '{oops');
    const batch = await createBatch(h, chatLines(3), { webhook: { url: receiver.url }, metadata: { note: '<img src=x onerror="window.pwned=1">' } });
    expect(await batchOutcome(h, failed.id)).toBe('failed');
    await batchOutcome(h, batch.id);
    expect(await deliveryResult(h, batch.id, 'completed')).toMatchObject({ status: 'delivered' });
    const page = await open();
    await signIn(page, '/console/batches');

    const row = page.locator(`tr[data-batch-id="${batch.id}"]`);
    await untilState(row, 'completed');
    expect(await textOf(row)).toContain('3 / 3');
    await screenshot(page, 'batches');

    const failedRow = page.locator(`tr[data-batch-id="${failed.id}"]`);
    await untilState(failedRow, 'failed');

    // The status filter, then the cursor: one batch a page, newest first.
    await page.getByLabel('Status').selectOption('failed');
    await page.waitForURL((url) => url.searchParams.get('status') === 'failed');
    await loaded(page);
    await failedRow.waitFor();
    expect(await row.count()).toBe(0);
    await page.goto('/console/batches?limit=1');
    await loaded(page);
    await row.waitFor();
    expect(await failedRow.count()).toBe(0);
    await page.getByRole('link', { name: 'Next page »' }).click();
    await page.waitForURL((url) => url.searchParams.get('after') === batch.id);
    await failedRow.waitFor();

    await page.goto('/console/batches');
    await row.getByRole('link', { name: batch.id }).click();
    await page.waitForURL((url) => url.pathname === `/console/batches/${batch.id}`);
    await loaded(page);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe(`Batch ${batch.id}`);
    const timeline = page.getByRole('list', { name: 'Timeline' });
    for (const step of ['created', 'in progress', 'finalizing', 'completed', 'batch.completed']) {
      expect(await textOf(timeline)).toContain(step);
    }
    const deliveryId = webhookDeliveryWorkflowId(batch.id, 'completed', 1);
    const delivery = page.locator(`section[data-delivery-id="${deliveryId}"]`);
    const attempt = delivery.locator('tr[data-attempt="1"]');
    await attempt.waitFor();
    expect(await textOf(delivery)).toContain('delivered');
    const cells = await attempt.locator('td').allTextContents();
    expect(cells[2]).toBe('200');
    expect(cells[3]).toMatch(/^\d+ ms$/);
    expect(cells[4]).toBe('');

    // Links into the Temporal Web UI: the batch's workflow and its delivery's.
    const linkOf = (workflowId: string) => page.locator(`a[data-workflow-id="${workflowId}"]`).getAttribute('href');
    const ns = `${TEMPORAL_UI}/namespaces/default/workflows`;
    expect(await linkOf(batchWorkflowId(batch.id))).toBe(`${ns}/${encodeURIComponent(batchWorkflowId(batch.id))}`);
    expect(await linkOf(deliveryId)).toBe(`${ns}/${encodeURIComponent(deliveryId)}`);

    // Metadata is shown as the text it is, never as markup.
    expect(await textOf(page.locator('dl.fields'))).toContain('<img src=x onerror=\\"window.pwned=1\\">');
    expect(await page.locator('main img').count()).toBe(0);
    expect(await page.evaluate(() => 'pwned' in globalThis)).toBe(false);
    await screenshot(page, 'batch-detail');
    await receiver.close();
  });

  it('finds a dead-lettered event and, once the receiver is healthy, retries it until delivered', async () => {
    const receiver = await flakyReceiver();
    const { batch, entryId } = await deadLettered(receiver.url);
    const page = await open();
    await signIn(page, '/console/dead-letters');
    await deadLettersOfBatch(page, batch.id);
    const row = page.locator(`tr[data-entry-id="${entryId}"]`);
    await untilState(row, 'pending');
    expect(await textOf(row)).toContain('HTTP 500');
    expect(await page.locator('tr[data-entry-id]').count()).toBe(1);

    receiver.state.down = false;
    const before = receiver.received.length;
    await row.getByRole('button', { name: 'Retry' }).click();
    await page.getByRole('status').filter({ hasText: `Retry of entry ${entryId} started` }).waitFor();
    await untilState(row, 'succeeded');
    expect(await row.getByRole('button', { name: 'Retry' }).isDisabled()).toBe(true);
    const entry = await getDeadLetter(h, entryId);
    expect(receiver.received.length).toBe(before + 1);
    expect(receiver.received.at(-1)!.headers['webhook-id']).toBe(entry.event_id);

    // The batch's page shows the retry as its own delivery.
    await row.getByRole('link', { name: batch.id }).click();
    await loaded(page);
    const retried = page.locator(`section[data-delivery-id="${webhookDeliveryWorkflowId(batch.id, 'completed', 1)}/retry-1"]`);
    await retried.locator('tr[data-attempt="1"]').waitFor();
    expect(await textOf(retried)).toContain('delivered');
    await receiver.close();
  });

  it('retries every entry matching the filter in bulk, after a confirmation', async () => {
    const receiver = await flakyReceiver();
    const a = await deadLettered(receiver.url);
    const b = await deadLettered(receiver.url);
    const other = await deadLettered(receiver.url, '{oops');
    receiver.state.down = false;
    const page = await open();
    await signIn(page, '/console/dead-letters');
    await page.getByLabel('Event type').selectOption('batch.completed');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL((url) => url.searchParams.get('event_type') === 'batch.completed');
    await loaded(page);
    const rowOf = (id: number) => page.locator(`tr[data-entry-id="${id}"]`);
    await untilState(rowOf(a.entryId), 'pending');
    await untilState(rowOf(b.entryId), 'pending');
    expect(await rowOf(other.entryId).count()).toBe(0);
    await screenshot(page, 'dead-letters');

    await page.getByRole('button', { name: 'Retry all matching…' }).click();
    const confirm = page.getByRole('group', { name: 'Confirm bulk retry' });
    expect(await textOf(confirm)).toContain('event_type = batch.completed');
    await confirm.getByRole('button', { name: 'Retry matching entries' }).click();
    await page.getByRole('status').filter({ hasText: 'Started 2 retries' }).waitFor();
    await untilState(rowOf(a.entryId), 'succeeded');
    await untilState(rowOf(b.entryId), 'succeeded');

    // The entry outside the filter was left alone.
    await page.getByRole('link', { name: 'Clear' }).click();
    await page.waitForURL((url) => url.search === '');
    await loaded(page);
    await untilState(rowOf(other.entryId), 'pending');
    expect((await getDeadLetter(h, other.entryId)).retry_count).toBe(0);
    await receiver.close();
  });

  it('deletes an entry only once the deletion is confirmed', async () => {
    const receiver = await flakyReceiver();
    const { batch, entryId } = await deadLettered(receiver.url);
    const page = await open();
    await signIn(page, '/console/dead-letters');
    await deadLettersOfBatch(page, batch.id);
    const row = page.locator(`tr[data-entry-id="${entryId}"]`);
    await untilState(row, 'pending');

    await row.getByRole('button', { name: 'Delete' }).click();
    const confirm = row.getByRole('group', { name: `Confirm deleting entry ${entryId}` });
    await confirm.waitFor();
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await row.getByRole('button', { name: 'Retry' }).waitFor();
    expect((await getDeadLetter(h, entryId)).state).toBe('pending');

    await row.getByRole('button', { name: 'Delete' }).click();
    await confirm.getByRole('button', { name: 'Confirm delete' }).click();
    await page.getByRole('status').filter({ hasText: `Deleted entry ${entryId}.` }).waitFor();
    await row.waitFor({ state: 'detached' });
    await page.reload();
    await loaded(page);
    await page.getByText('No dead letters match.').waitFor();
    expect((await h.api(`/v1/webhooks/dead-letter/${entryId}`)).status).toBe(404);
    await receiver.close();
  });

  it('lists webhook endpoints, disables and enables one, and sends it a test event', async () => {
    const receiver = await startWebhookReceiver();
    const endpoint = await call<{ id: string }>(h, '/v1/webhook_endpoints', {
      method: 'POST',
      json: { url: receiver.url, description: '<b>billing</b> <script>window.pwned=1</script>' },
    });
    const page = await open();
    await signIn(page, '/console/endpoints');
    const row = page.locator(`tr[data-endpoint-id="${endpoint.id}"]`);
    await untilState(row, 'enabled');
    expect(await textOf(row)).toContain('<b>billing</b> <script>window.pwned=1</script>');
    expect(await row.locator('b, script').count()).toBe(0);

    await row.getByRole('button', { name: 'Disable' }).click();
    await untilState(row, 'disabled');
    await row.getByRole('button', { name: 'Enable' }).click();
    await untilState(row, 'enabled');

    await row.getByRole('button', { name: 'Send test event' }).click();
    await row.locator('output', { hasText: 'Test event delivered (HTTP 200)' }).waitFor();
    const events = receiver.received.map((r) => JSON.parse(r.body) as { type: string });
    expect(events.find((e) => e.type === 'webhook.test')).toMatchObject({ data: { endpoint_id: endpoint.id } });
    expect(await page.evaluate(() => 'pwned' in globalThis)).toBe(false);
    await screenshot(page, 'endpoints');
    // Later batches of this owner would fan out to it.
    await h.api(`/v1/webhook_endpoints/${endpoint.id}`, { method: 'DELETE' });
    await receiver.close();
  });

  it('never put the key in a URL the pages requested, and sent it on every API call', async () => {
    const requested = opened.flatMap((p) => p.requested);
    const apiCalls = requested.filter((r) => new URL(r.url).pathname.startsWith('/v1/'));
    expect(apiCalls.length).toBeGreaterThan(10);
    for (const { url } of requested) {
      expect(url).not.toContain(ALICE_KEY);
      expect(decodeURIComponent(url)).not.toContain(ALICE_KEY);
    }
    for (const { url, authorization } of apiCalls) {
      expect(authorization, url).toMatch(/^Bearer sk-/);
    }
    // Pages and assets go without it.
    for (const { url, authorization } of requested.filter((r) => new URL(r.url).pathname.startsWith('/console'))) {
      expect(authorization, url).toBeUndefined();
    }
  });
});
