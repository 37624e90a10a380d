import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Debian's chromium (`apt-get install chromium`; .ci/run installs it). */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Where screenshots of the console go, when asked for with CONSOLE_SCREENSHOTS=1. */
const SCREENSHOT_DIR = path.resolve(import.meta.dirname, '../../docs/console');

/** A request the page made: where to, and the Authorization header it carried. */
export interface RecordedRequest {
  url: string;
  authorization: string | undefined;
}

/** A page in its own browser context, with every request it made. */
export interface ConsolePage {
  page: Page;
  context: BrowserContext;
  requested: RecordedRequest[];
}

/** Starts headless chromium; tests run as root in CI, where chromium's sandbox cannot start. */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`${CHROMIUM_PATH} is missing: apt-get install -y chromium`);
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--no-sandbox'] });
}

/**
 * A fresh context (own sessionStorage, no cookies) on `baseUrl`. Every request
 * the page makes is recorded, and anything it logs as an error fails loudly
 * through `errors`, so a broken script does not pass as an empty page.
 */
export async function openPage(browser: Browser, baseUrl: string): Promise<ConsolePage & { errors: string[] }> {
  const context = await browser.newContext({ baseURL: baseUrl, viewport: { width: 1280, height: 860 } });
  // Waits on visible state below take what they need; a slow shared machine may need more than the 5 s default.
  context.setDefaultTimeout(30_000);
  const requested: RecordedRequest[] = [];
  const errors: string[] = [];
  context.on('request', (req) => void requested.push({ url: req.url(), authorization: req.headers().authorization }));
  const page = await context.newPage();
  page.on('pageerror', (err) => void errors.push(err.message));
  page.on('console', (msg) => {
    // A rejected key is an expected 401 that the browser reports as a failed resource load.
    if (msg.type() === 'error' && !/status of 401/.test(msg.text())) errors.push(msg.text());
  });
  return { page, context, requested, errors };
}

/** Saves a screenshot of the page as docs/console/<name>.png, only when CONSOLE_SCREENSHOTS=1 (CI leaves tracked files alone). */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (process.env.CONSOLE_SCREENSHOTS !== '1') return;
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}
