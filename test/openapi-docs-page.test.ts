import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import type { Client } from '@temporalio/client';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApp } from '../src/api/app.js';
import { openApiDocument } from '../src/api/openapi/openapi-document.js';
import { parseConfig } from '../src/config.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { createLogger } from '../src/shared/logger.js';
import { launchBrowser, openPage } from './support/browser.js';

let pool: Pool;
let server: ServerType;
let baseUrl: string;
let browser: Browser;

beforeAll(async () => {
  pool = createPool(inject('databaseUrl'), 2);
  const config = parseConfig({ API_KEYS: 'docs:sk-docs-page-test-key', LOG_LEVEL: 'silent' });
  // The page and /health never reach Temporal.
  const app = createApp({ pool, temporal: {} as Client, config, log: createLogger('silent', 'test') });
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchBrowser();
});
afterAll(async () => {
  // The browser first: its keep-alive connections would hold the server open.
  await browser?.close();
  if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  await pool?.end();
});

describe('the docs page in a browser', () => {
  it('renders every operation from /openapi.json under its CSP, loading nothing from elsewhere, and tries a route', async () => {
    const { page, context, requested, errors } = await openPage(browser, baseUrl);
    try {
      await page.goto('/docs');
      const operations = Object.values(openApiDocument().paths ?? {}).flatMap((item) => Object.keys(item as object)).length;
      await expect.poll(() => page.locator('.opblock').count(), { timeout: 30_000 }).toBe(operations);
      await expect(page.getByText('Durable batch jobs with reliable webhooks').first().isVisible()).resolves.toBe(true);

      // "Try it out" on /health: the page may call this API (connect-src 'self').
      const health = page.locator('#operations-Service-health');
      await health.locator('.opblock-summary').click();
      await health.getByRole('button', { name: 'Try it out' }).click();
      await health.getByRole('button', { name: 'Execute' }).click();
      await expect(health.locator('.live-responses-table tbody .response-col_status').first().textContent({ timeout: 30_000 })).resolves.toContain('200');

      // A CSP violation or a failed script shows as a console error.
      expect(errors).toEqual([]);
      const elsewhere = requested.map((r) => r.url).filter((url) => !url.startsWith(`${baseUrl}/`) && !url.startsWith('data:'));
      expect(elsewhere).toEqual([]);
      expect(requested.map((r) => new URL(r.url).pathname)).toContain('/openapi.json');
    } finally {
      await context.close();
    }
  });
});
