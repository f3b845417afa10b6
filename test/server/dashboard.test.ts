import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../../ingest/ingest.js';
import { serve, type Listening } from '../../server/serve.js';
import { SAMPLES, tempDir } from '../helpers/dataset.js';

const UNTIMED_RULE = `id: untimed-finding
title: "A finding without a time"
description: A finding whose record has no event time.
severity: high
sources: [access_log]
sql: |
  SELECT CAST(NULL AS TIMESTAMP) AS event_time, source, bucket, "key", principal, source_ip, request_id, CAST(NULL AS VARCHAR) AS event_id, source_file, source_line
  FROM s3_requests WHERE source = 'access_log' ORDER BY source_file, source_line LIMIT 1
tests:
  - name: fires
    records:
      - base: access-log
    expect: 1
  - name: quiet
    records:
      - base: s3-management-event
    expect: 0
`;

/** Debian's chromium package; `.ci/run` installs it. */
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const SHOT_DIR = new URL('../../test-output/', import.meta.url).pathname;

describe.skipIf(!CHROMIUM)(`the dashboard page in headless Chromium${CHROMIUM ? '' : ' (skipped: no Chromium at /usr/bin/chromium; apt-get install chromium, as .ci/run does)'}`, () => {
  let tmp: { dir: string; cleanup: () => void };
  let server: Listening;
  let untimed: Listening;
  let browser: Browser;
  beforeAll(async () => {
    tmp = tempDir();
    const data = join(tmp.dir, 'data');
    await ingest([new URL('.', SAMPLES).pathname], { data, format: 'auto', force: false, strict: false });
    server = await serve({ data, host: '127.0.0.1', port: 0 });
    // A detection whose one finding has no event time (a malformed record's): a data problem of one record.
    const rules = join(tmp.dir, 'rules');
    mkdirSync(rules);
    writeFileSync(join(rules, 'untimed-finding.yaml'), UNTIMED_RULE);
    untimed = await serve({ data, host: '127.0.0.1', port: 0, rules: [rules] });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await untimed?.close();
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

  it('draws every chart when a finding has no event time (a "no time" bar), instead of stopping the page', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    const failed: string[] = [];
    page.on('pageerror', (e) => failed.push(String(e)));
    await page.goto(`${untimed.url}/`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
    expect(await page.textContent('#status')).toBe('ready');
    const points = await page.$$eval('canvas', (cs) => cs.map((c) => [c.id, Number(c.getAttribute('data-points') ?? 0) > 0] as const));
    expect(points.filter(([, drawn]) => !drawn)).toEqual([]);
    expect(await page.$$eval('#posture table.settings', (ts) => ts.length)).toBeGreaterThan(0);
    const days = (await (await fetch(`${untimed.url}/api/queries/findings_over_time`)).json()) as { rows: Array<{ day: string | null }> };
    expect(days.rows.some((r) => r.day === null)).toBe(true);
    expect(failed).toEqual([]);
  }, 60_000);

  it("lists a bucket's unresolved findings when there are more findings than one page (the filters are the server's, not applied to its first page)", async () => {
    // A row cap of 10: one page of /api/findings holds 10 of the 79 findings.
    const capped = await serve({ data: join(tmp.dir, 'data'), host: '127.0.0.1', port: 0, rowCap: 10 });
    try {
      const all = (await (await fetch(`${capped.url}/api/findings?bucket=web-assets&status=open,acknowledged&limit=10`)).json()) as { total: number };
      expect(all.total).toBeGreaterThan(0);
      const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
      await page.goto(`${capped.url}/`);
      await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
      await page.selectOption('#bucket', 'web-assets');
      await page.evaluate("delete document.body.dataset.ready");
      await page.click('#apply');
      await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
      const buckets = await page.$$eval('#findings table.findings tr td:nth-child(5)', (tds) => tds.map((td) => td.textContent));
      expect(buckets.length).toBe(Math.min(all.total, 10));
      expect(new Set(buckets)).toEqual(new Set(['web-assets']));
      // Fewer shown than there are: said, with how many.
      if (all.total > 10) expect(await page.textContent('#findings')).toContain(`the newest 10 of ${all.total}`);
    } finally {
      await capped.close();
    }
  }, 60_000);
});
