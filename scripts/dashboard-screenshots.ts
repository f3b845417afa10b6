/**
 * The dashboard screenshots docs/dashboard.md shows, taken from the samples
 * in headless Chromium: `npm run docs:screenshots` rewrites docs/images/
 * dashboard-*.png (1200 px wide), so they follow the page when it changes.
 * `node dist/scripts/dashboard-screenshots.js OUT_DIR` writes them elsewhere.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { PACKAGE_ROOT } from '../common/package-root.js';
import { ingest } from '../ingest/ingest.js';
import { serve } from '../server/serve.js';

/** Debian's chromium package (`.ci/run` installs it). */
export const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
/** Flags for a quiet, offline headless browser. */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** Wait until the page has drawn the view it was asked for. */
export async function settled(page: Page): Promise<void> {
  await page.waitForFunction("document.body.dataset.ready === 'true' && document.body.dataset.rendered === location.hash", undefined, { timeout: 30_000 });
}

/** A view of the page as a viewport-sized PNG (the top of it: what a reader sees first). */
async function shot(page: Page, dir: string, name: string, height = 900): Promise<string> {
  await page.setViewportSize({ width: 1200, height });
  await page.evaluate('window.scrollTo(0, 0)');
  const path = join(dir, `dashboard-${name}.png`);
  await page.screenshot({ path });
  return path;
}

export async function dashboardScreenshots(dir: string): Promise<string[]> {
  if (!CHROMIUM) throw new Error('no Chromium at /usr/bin/chromium (apt-get install chromium)');
  mkdirSync(dir, { recursive: true });
  const tmp = mkdtempSync(join(tmpdir(), 's3sift-shots-'));
  const data = join(tmp, 'data');
  await ingest([join(PACKAGE_ROOT, 'samples')], { data, format: 'auto', force: false, strict: false });
  const token = 'shot-token';
  const server = await serve({ data, host: '127.0.0.1', port: 0, token });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const out: string[] = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    // The token prompt: what a browser sees first of a server started with --token.
    await page.goto(`${server.url}/`);
    await page.waitForSelector('#token-box:not([hidden])');
    await page.fill('#token-input', 'not-the-token');
    await page.click('#token-form button');
    await page.waitForFunction("/refused/.test(document.getElementById('token-message').textContent)");
    out.push(await shot(page, dir, 'token', 420));
    await page.fill('#token-input', token);
    await page.click('#token-form button');
    await settled(page);
    // The findings list, high and up.
    await page.goto(`${server.url}/#severity=high`);
    await settled(page);
        // The header stays on top when scrolling: not over the element shot.
    await page.addStyleTag({ content: 'header { position: static !important; }' });
    const list = join(dir, 'dashboard-findings.png');
    await (await page.$('#findings-section'))?.screenshot({ path: list });
    out.push(list);
    // The timelines on top, over the samples' three days (the samples also hold two requests of 2019).
    await page.goto(`${server.url}/#since=2025-03-10T00:00:00Z&until=2025-03-13T00:00:00Z`);
    await settled(page);
    out.push(await shot(page, dir, 'overview', 760));
    // A finding both sources logged: its evidence.
    await page.goto(`${server.url}/#detection=plaintext-http-request`);
    await settled(page);
    await page.click('a.finding-link');
    await settled(page);
    out.push(await shot(page, dir, 'evidence', 1300));
    // The principal behind it: its pivot page.
    await page.click('#fields a.pivot[data-kind="principal"]');
    await settled(page);
    out.push(await shot(page, dir, 'pivot', 1100));
  } finally {
    await browser.close();
    await server.close();
    rmSync(tmp, { recursive: true, force: true });
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const dir = process.argv[2] ?? join(PACKAGE_ROOT, 'docs', 'images');
  for (const p of await dashboardScreenshots(dir)) process.stdout.write(`${p} (${Math.round(statSync(p).size / 1024)} KB)\n`);
}
