import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../../ingest/ingest.js';
import { serve, type Listening } from '../../server/serve.js';
import { SAMPLES, tempDir } from '../helpers/dataset.js';

/** Debian's chromium package; `.ci/run` installs it. */
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const SHOT_DIR = new URL('../../test-output/', import.meta.url).pathname;

describe.skipIf(!CHROMIUM)(`the dashboard page in headless Chromium${CHROMIUM ? '' : ' (skipped: no Chromium at /usr/bin/chromium; apt-get install chromium, as .ci/run does)'}`, () => {
  let tmp: { dir: string; cleanup: () => void };
  let server: Listening;
  let browser: Browser;
  beforeAll(async () => {
    tmp = tempDir();
    const data = join(tmp.dir, 'data');
    await ingest([new URL('.', SAMPLES).pathname], { data, format: 'auto', force: false, strict: false });
    server = await serve({ data, host: '127.0.0.1', port: 0 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    tmp?.cleanup();
  });

  it('draws every chart with data, offers the buckets, and saves a screenshot', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    const failed: string[] = [];
    page.on('requestfailed', (r) => failed.push(r.url()));
    page.on('pageerror', (e) => failed.push(String(e)));
    await page.goto(`${server.url}/`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
    // The page records on each canvas how many points it drew.
    const points = await page.$$eval('canvas', (cs) => cs.map((c) => [c.id, Number(c.getAttribute('data-points') ?? 0)] as const));
    expect(points.map(([id]) => id)).toEqual(['findings_over_time', 'top_detections', 'top_principals', 'top_addresses', 'tls_versions', 'signature_versions', 'presigned_use']);
    for (const [id, n] of points) expect([id, n > 0]).toEqual([id, true]);
    const buckets = await page.$$eval('#bucket option', (os) => os.map((o) => o.getAttribute('value') ?? ''));
    expect(buckets).toEqual(expect.arrayContaining(['', 'prod-data', 'web-assets']));
    expect(failed).toEqual([]);
    // The posture view: a settings table per bucket, with its exposure windows.
    const postureBuckets = await page.$$eval('#posture table.settings', (ts) => ts.map((t) => t.getAttribute('data-bucket')));
    expect(postureBuckets).toEqual(expect.arrayContaining(['prod-data', 'web-assets']));
    expect(await page.$$eval('#posture table.windows tr', (rs) => rs.length)).toBeGreaterThan(1);
    mkdirSync(SHOT_DIR, { recursive: true });
    await page.screenshot({ path: join(SHOT_DIR, 'dashboard.png'), fullPage: true });
    // The bucket filter reaches every query.
    await page.selectOption('#bucket', 'web-assets');
    await page.evaluate("delete document.body.dataset.ready");
    await page.click('#apply');
    await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
    const status = await page.textContent('#status');
    expect(status).toBe('ready');
  }, 60_000);
});
