import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../../ingest/ingest.js';
import { serve, type Listening } from '../../server/serve.js';
import { CHROMIUM, CHROMIUM_ARGS, settled } from '../../scripts/dashboard-screenshots.js';
import { SAMPLES, tempDir } from '../helpers/dataset.js';

const TOKEN = 'dashboard-test-token';
const SHOT_DIR = new URL('../../test-output/', import.meta.url).pathname;

describe.skipIf(!CHROMIUM)(`the dashboard with --token, in headless Chromium${CHROMIUM ? '' : ' (skipped: no Chromium at /usr/bin/chromium)'}`, () => {
  let tmp: { dir: string; cleanup: () => void };
  let server: Listening;
  let browser: Browser;
  beforeAll(async () => {
    tmp = tempDir();
    const data = join(tmp.dir, 'data');
    await ingest([new URL('.', SAMPLES).pathname], { data, format: 'auto', force: false, strict: false });
    server = await serve({ data, host: '127.0.0.1', port: 0, token: TOKEN });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    mkdirSync(SHOT_DIR, { recursive: true });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    tmp?.cleanup();
  });

  async function newPage(): Promise<{ page: Page; problems: string[]; statuses: Array<[string, number, boolean]> }> {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const problems: string[] = [];
    const statuses: Array<[string, number, boolean]> = [];
    page.on('pageerror', (e) => problems.push(String(e)));
    page.on('response', async (r) => statuses.push([new URL(r.url()).pathname, r.status(), (await r.request().headerValue('authorization')) !== null]));
    return { page, problems, statuses };
  }
  const tokenAsked = (page: Page) => page.waitForSelector('#token-box:not([hidden])');

  it('loads the page without the token, asks for it on 401, says when it is wrong, keeps it for the tab, and forgets it', async () => {
    const { page, problems, statuses } = await newPage();
    await page.goto(`${server.url}/#severity=high`);
    await tokenAsked(page);
    // The page and Chart.js came without the token; the API refused.
    expect(statuses.filter(([p]) => p === '/' || p.startsWith('/assets/')).map(([p, s]) => [p, s])).toEqual([['/', 200], ['/assets/chart.umd.js', 200]]);
    expect(statuses.some(([p, s]) => p.startsWith('/api/') && s === 401)).toBe(true);
    expect(await page.textContent('#token-message')).toMatch(/needs its access token/);
    expect(await page.isHidden('#forget')).toBe(true);
    // A wrong token: refused, and said so.
    await page.fill('#token-input', 'wrong-token');
    await page.click('#token-form button');
    await page.waitForFunction("/refused/.test(document.getElementById('token-message').textContent)");
    expect(await page.isVisible('#token-box')).toBe(true);
    await page.screenshot({ path: join(SHOT_DIR, 'dashboard-token.png') });
    // The right one: the data loads, with the filter from the address.
    await page.fill('#token-input', TOKEN);
    await page.click('#token-form button');
    await settled(page);
    expect(await page.textContent('#status')).toBe('ready');
    expect(await page.isHidden('#token-box')).toBe(true);
    expect(await page.evaluate("sessionStorage.getItem('s3sift.token')")).toBe(TOKEN);
    // The requests that waited at the prompt went on with it: the page is drawn, the prompt gone.
    expect(await page.textContent('#status')).toBe('ready');
    expect(await page.isHidden('#token-box')).toBe(true);
    expect(await page.$$eval('#findings tbody tr', (rs) => rs.length)).toBeGreaterThan(0);
    expect(await page.$$eval('#findings tbody tr .sev', (ss) => [...new Set(ss.map((s) => s.textContent))].sort())).toEqual(['critical', 'high']);
    // The token never went into the address.
    expect(page.url()).not.toContain(TOKEN);
    // A reload in the same tab: no question asked.
    statuses.length = 0;
    await page.reload();
    await settled(page);
    expect(await page.isHidden('#token-box')).toBe(true);
    expect(statuses.filter(([p]) => p.startsWith('/api/')).every(([, s, auth]) => s === 200 && auth)).toBe(true);
    // Forget it: asked again.
    await page.click('#forget');
    await tokenAsked(page);
    expect(await page.evaluate("sessionStorage.getItem('s3sift.token')")).toBeNull();
    expect(problems).toEqual([]);
  }, 90_000);

  it('takes #token=T in the address as a way in, then removes it from the address', async () => {
    const { page, problems } = await newPage();
    await page.goto(`${server.url}/#token=${TOKEN}&detection=mass-delete`);
    await settled(page);
    expect(await page.isHidden('#token-box')).toBe(true);
    expect(page.url()).not.toContain(TOKEN);
    expect(new URL(page.url()).hash).toBe('#detection=mass-delete');
    expect(await page.$$eval('#findings tbody tr', (rs) => rs.length)).toBe(1);
    expect(problems).toEqual([]);
  }, 60_000);

  it('takes #token=T pasted into the address of a page already open (no reload) too: stored, out of the address, not carried into links', async () => {
    const { page, problems } = await newPage();
    await page.goto(`${server.url}/`);
    await tokenAsked(page);
    // A pasted address that differs in its hash only: the page is not loaded again, only hashchange.
    await page.evaluate(`location.hash = '#token=${TOKEN}&detection=mass-delete'`);
    await page.waitForFunction('!location.hash.includes("token")');
    await settled(page);
    expect(page.url()).not.toContain(TOKEN);
    expect(await page.evaluate("sessionStorage.getItem('s3sift.token')")).toBe(TOKEN);
    // The requests that waited at the prompt went on with it: the page is drawn, the prompt gone.
    expect(await page.textContent('#status')).toBe('ready');
    expect(await page.isHidden('#token-box')).toBe(true);
    expect(await page.$$eval('#findings tbody tr', (rs) => rs.length)).toBe(1);
    expect(await page.$$eval('a[href^="#"]', (as) => as.map((a) => a.getAttribute('href') ?? '').filter((h) => h.includes('token=')))).toEqual([]);
    expect(problems).toEqual([]);
  }, 60_000);
});
