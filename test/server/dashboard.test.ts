import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../../ingest/ingest.js';
import { serve, type Listening } from '../../server/serve.js';
import { CHROMIUM, CHROMIUM_ARGS, settled } from '../../scripts/dashboard-screenshots.js';
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

/** Hostile values in a finding: markup and a javascript: URL, as a log could hold them in a key or a principal. */
const XSS = '<img src=x onerror=alert(1)>';
const HOSTILE_RULE = `id: hostile-values
title: "A finding of <img src=x onerror=alert(2)>"
description: A finding whose key and principal are markup.
severity: critical
sources: [access_log]
sql: |
  SELECT event_time, source, 'xss-bucket' AS bucket, '${XSS}' AS "key", 'javascript:alert(3)' AS principal, '"><script>alert(4)</script>' AS source_ip,
    request_id, CAST(NULL AS VARCHAR) AS event_id, source_file, source_line
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

const SHOT_DIR = new URL('../../test-output/', import.meta.url).pathname;

/** The page's view in its address, as parameters. */
const view = (page: Page): URLSearchParams => new URLSearchParams(new URL(page.url()).hash.slice(1));
const rowsShown = (page: Page) => page.$$eval('#findings table.findings tbody tr', (rs) => rs.map((r) => r.getAttribute('data-finding') ?? ''));
const showing = (page: Page) => page.textContent('#showing');

describe.skipIf(!CHROMIUM)(`the dashboard page in headless Chromium${CHROMIUM ? '' : ' (skipped: no Chromium at /usr/bin/chromium; apt-get install chromium, as .ci/run does)'}`, () => {
  let tmp: { dir: string; cleanup: () => void };
  let server: Listening;
  let untimed: Listening;
  let browser: Browser;
  /** Every finding the API gives for the page's default filter (not resolved). */
  let open: Array<Record<string, unknown>>;
  beforeAll(async () => {
    tmp = tempDir();
    const data = join(tmp.dir, 'data');
    await ingest([new URL('.', SAMPLES).pathname], { data, format: 'auto', force: false, strict: false });
    server = await serve({ data, host: '127.0.0.1', port: 0 });
    // A detection whose one finding has no event time (a malformed record's), and one whose values are markup.
    const rules = join(tmp.dir, 'rules');
    mkdirSync(rules);
    writeFileSync(join(rules, 'untimed-finding.yaml'), UNTIMED_RULE);
    writeFileSync(join(rules, 'hostile-values.yaml'), HOSTILE_RULE);
    untimed = await serve({ data, host: '127.0.0.1', port: 0, rules: [rules] });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    open = ((await (await fetch(`${server.url}/api/findings?status=open,acknowledged&limit=1000`)).json()) as { rows: Array<Record<string, unknown>> }).rows;
    mkdirSync(SHOT_DIR, { recursive: true });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await untimed?.close();
    tmp?.cleanup();
  });

  /** A page that records script errors, failed requests and dialogs (a dialog would be a script run from the data). */
  async function newPage(height = 1100): Promise<{ page: Page; problems: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1400, height } });
    const problems: string[] = [];
    page.on('requestfailed', (r) => problems.push(`failed ${r.url()}`));
    page.on('pageerror', (e) => problems.push(String(e)));
    page.on('dialog', (d) => {
      problems.push(`dialog ${d.message()}`);
      void d.dismiss();
    });
    return { page, problems };
  }

  it('draws every chart with data, offers the buckets, lists the findings, and the bucket filter reaches every query', async () => {
    const { page, problems } = await newPage();
    const asked: string[] = [];
    page.on('request', (r) => asked.push(r.url()));
    await page.goto(`${server.url}/`);
    await settled(page);
    expect(await page.textContent('#status')).toBe('ready');
    // The page records on each canvas how many points it drew.
    const points = await page.$$eval('#list-view canvas', (cs) => cs.map((c) => [c.id, Number(c.getAttribute('data-points') ?? 0)] as const));
    expect(points.map(([id]) => id)).toEqual(['requests_over_time', 'findings_over_time', 'top_detections', 'top_principals', 'top_addresses', 'tls_versions', 'signature_versions', 'presigned_use']);
    for (const [id, n] of points) expect([id, n > 0]).toEqual([id, true]);
    const buckets = await page.$$eval('#bucket option', (os) => os.map((o) => o.getAttribute('value') ?? ''));
    expect(buckets).toEqual(expect.arrayContaining(['', 'prod-data', 'web-assets']));
    // The findings table: the samples' findings not resolved, newest first, with the total.
    expect(open.length).toBeGreaterThan(20);
    expect(await showing(page)).toBe(`showing 1\u2013${open.length} of ${open.length}`);
    expect(await rowsShown(page)).toEqual(open.map((f) => f.finding_id));
    expect(await page.$$eval('#findings tbody .status', (ss) => [...new Set(ss.map((x) => x.textContent))])).toEqual(['open']);
    // The posture view: a settings table per bucket, with its exposure windows.
    const postureBuckets = await page.$$eval('#posture table.settings', (ts) => ts.map((t) => t.getAttribute('data-bucket')));
    expect(postureBuckets).toEqual(expect.arrayContaining(['prod-data', 'web-assets']));
    expect(await page.$$eval('#posture table.windows tr', (rs) => rs.length)).toBeGreaterThan(1);
    await page.screenshot({ path: join(SHOT_DIR, 'dashboard.png'), fullPage: true });
    // The bucket filter reaches every query, and the findings.
    asked.length = 0;
    await page.selectOption('#bucket', 'web-assets');
    await page.click('#apply');
    await page.waitForFunction('location.hash.includes("bucket=web-assets")');
    await settled(page);
    expect(await page.textContent('#status')).toBe('ready');
    const queried = asked.filter((u) => u.includes('/api/queries/') || u.includes('/api/findings'));
    expect(queried.length).toBeGreaterThanOrEqual(9);
    for (const u of queried) expect([u, new URL(u).searchParams.get('bucket')]).toEqual([u, 'web-assets']);
    const buckets2 = await page.$$eval('#findings table.findings tbody tr a.pivot[data-kind="bucket"]', (as) => [...new Set(as.map((a) => a.textContent))]);
    expect(buckets2).toEqual(['web-assets']);
    expect(problems).toEqual([]);
  }, 90_000);

  it('filters by severity, sorts by a column and pages, each in the address', async () => {
    const { page, problems } = await newPage();
    await page.goto(`${server.url}/`);
    await settled(page);
    await page.selectOption('#f-severity', 'high');
    await page.waitForFunction('location.hash.includes("severity=high")');
    await settled(page);
    const high = open.filter((f) => f.severity === 'high' || f.severity === 'critical');
    expect(await showing(page)).toBe(`showing 1\u2013${high.length} of ${high.length}`);
    const sevs = await page.$$eval('#findings tbody tr .sev', (ss) => [...new Set(ss.map((s) => s.textContent))].sort());
    expect(sevs).toEqual(['critical', 'high']);
    // Sort by severity: most severe first; again: least severe first.
    await page.click('#findings th[data-sort="severity"]');
    await page.waitForFunction('location.hash.includes("sort=severity")');
    await settled(page);
    expect(view(page).get('order')).toBe('desc');
    expect(await page.textContent('#findings tbody tr .sev')).toBe('critical');
    await page.click('#findings th[data-sort="severity"]');
    await page.waitForFunction('location.hash.includes("order=asc")');
    await settled(page);
    expect(await page.textContent('#findings tbody tr .sev')).toBe('high');
    // A principal (exact) and a status: the table follows, the count is the server's.
    const alice = 'arn:aws:iam::111122223333:user/alice';
    await page.goto(`${server.url}/`);
    await settled(page);
    await page.fill('#f-principal', alice);
    await page.click('#list-filters button');
    await page.waitForFunction('location.hash.includes("principal=")');
    await settled(page);
    const hers = open.filter((f) => f.principal === alice);
    expect(hers.length).toBeGreaterThan(0);
    expect(await rowsShown(page)).toEqual(hers.map((f) => f.finding_id));
    await page.selectOption('#f-status', 'resolved');
    await page.waitForFunction('location.hash.includes("status=resolved")');
    await settled(page);
    expect(await showing(page)).toBe('no finding matches these filters (checked)');
    // Pages of 10 (limit in the address): next and previous.
    await page.goto(`${server.url}/#limit=10`);
    await settled(page);
    expect(await showing(page)).toBe(`showing 1\u201310 of ${open.length}`);
    const first = await rowsShown(page);
    await page.click('#next');
    await page.waitForFunction('location.hash.includes("offset=10")');
    await settled(page);
    expect(await showing(page)).toBe(`showing 11\u201320 of ${open.length}`);
    const second = await rowsShown(page);
    expect(second).toEqual(open.slice(10, 20).map((f) => f.finding_id));
    expect(second.filter((id) => first.includes(id))).toEqual([]);
    await page.click('#prev');
    await page.waitForFunction('!location.hash.includes("offset=")');
    await settled(page);
    expect(await rowsShown(page)).toEqual(first);
    expect(problems).toEqual([]);
  }, 90_000);

  it('opens a finding\'s evidence (both sources, the raw lines, its description and posture), and back keeps the filters and scroll', async () => {
    const { page, problems } = await newPage(700);
    await page.goto(`${server.url}/#detection=plaintext-http-request`);
    await settled(page);
    const wanted = open.filter((f) => f.detection_id === 'plaintext-http-request');
    expect(wanted.length).toBeGreaterThan(0);
    expect(await rowsShown(page)).toEqual(wanted.map((f) => f.finding_id));
    await page.evaluate('window.scrollTo(0, 400)');
    const scrolled = await page.evaluate('window.scrollY');
    expect(scrolled).toBeGreaterThan(0);
    await page.click('a.finding-link');
    await page.waitForFunction('location.hash.includes("view=finding")');
    await settled(page);
    expect(view(page).get('id')).toBe(wanted[0]?.finding_id);
    // The events behind it from both sources, each with the request ID the finding names.
    for (const source of ['access_log', 'cloudtrail']) {
      const cells = await page.$$eval(`table.events[data-source="${source}"] td`, (ts) => ts.map((t) => t.textContent));
      expect([source, cells]).toEqual([source, expect.arrayContaining([wanted[0]?.request_id])]);
    }
    // Every column on demand.
    const compact = await page.$$eval('table.events[data-source="access_log"] th', (ts) => ts.length);
    await page.check('#all-columns');
    await page.waitForFunction('location.hash.includes("columns=all")');
    await settled(page);
    const all = await page.$$eval('table.events[data-source="access_log"] th', (ts) => ts.map((t) => t.textContent));
    expect(all.length).toBeGreaterThan(compact);
    expect(all).toEqual(expect.arrayContaining(['user_agent', 'tls_version', 'source_file', 'source_line']));
    // The lines as logged, with file and line.
    const raw = await page.$$eval('#raw .raw', (rs) => rs.map((r) => [r.querySelector('.where')?.textContent ?? '', r.querySelector('pre')?.textContent ?? '']));
    expect(raw.some(([where, text]) => /prod-data\/2025-03-10\.log:\d+$/.test(where as string) && (text as string).includes('REST.GET.OBJECT'))).toBe(true);
    expect(raw.some(([where, text]) => /\.json\.gz:\d+$/.test(where as string) && (text as string).includes('"eventName":"GetObject"'))).toBe(true);
    // What it means, and the bucket's posture then.
    expect(await page.textContent('#about .description')).toContain('aws:SecureTransport');
    expect(await page.$$eval('#about .tag', (ts) => ts.length)).toBeGreaterThan(0);
    expect(await page.$$eval('#finding-posture table.settings tr', (rs) => rs.length)).toBeGreaterThan(5);
    await page.screenshot({ path: join(SHOT_DIR, 'dashboard-evidence.png'), fullPage: true });
    // Back (the column toggle replaced its entry, not added one): the list as it was, filter and scroll.
    await page.goBack();
    await settled(page);
    expect(await page.getAttribute('body', 'data-view')).toBe('list');
    expect(view(page).get('detection')).toBe('plaintext-http-request');
    expect(await page.inputValue('#f-detection')).toBe('plaintext-http-request');
    expect(await rowsShown(page)).toEqual(wanted.map((f) => f.finding_id));
    expect(await page.evaluate('window.scrollY')).toBe(scrolled);
    expect(problems).toEqual([]);
  }, 90_000);

  it('pivots from a principal (activity, tops, findings), and a reload gives the same view from the address', async () => {
    const { page, problems } = await newPage();
    const f = open.find((x) => x.detection_id === 'plaintext-http-request') as Record<string, string>;
    await page.goto(`${server.url}/#view=finding&id=${f.finding_id}`);
    await settled(page);
    await page.click('#fields a.pivot[data-kind="principal"]');
    await page.waitForFunction('location.hash.includes("view=pivot")');
    await settled(page);
    expect(view(page).get('kind')).toBe('principal');
    expect(view(page).get('value')).toBe(f.principal);
    expect(await page.textContent('#pivot-title .pivot-value')).toBe(f.principal);
    expect(Number(await page.getAttribute('#pivot_activity', 'data-points'))).toBeGreaterThan(0);
    expect(await page.$$eval('.top[data-top="operations"] tr', (rs) => rs.length)).toBeGreaterThan(0);
    expect(await page.$$eval('#pivot-findings tbody tr', (rs) => rs.map((r) => r.getAttribute('data-finding')))).toContain(f.finding_id);
    const title = await page.textContent('#pivot-detail .seen');
    await page.screenshot({ path: join(SHOT_DIR, 'dashboard-pivot.png'), fullPage: true });
    await page.reload();
    await settled(page);
    expect(await page.textContent('#pivot-title .pivot-value')).toBe(f.principal);
    expect(await page.textContent('#pivot-detail .seen')).toBe(title);
    // From the pivot to another: an address it used.
    await page.click('.top[data-top="source_ips"] a.pivot');
    await page.waitForFunction('location.hash.includes("kind=source_ip")');
    await settled(page);
    expect(await page.$$eval('.top[data-top="principals"] a.pivot', (as) => as.map((a) => a.getAttribute('title')))).toContain(f.principal);
    // A key pivots within its bucket.
    await page.goto(`${server.url}/#detection=plaintext-http-request`);
    await settled(page);
    await page.click('#findings a.pivot[data-kind="key"]');
    await page.waitForFunction('location.hash.includes("kind=key")');
    await settled(page);
    expect(view(page).get('value')).toBe(f.key);
    expect(view(page).get('pbucket')).toBe(f.bucket);
    expect(Number(await page.getAttribute('#pivot_activity', 'data-points'))).toBeGreaterThan(0);
    expect(await page.$$eval('#pivot-findings tbody tr', (rs) => rs.map((r) => r.getAttribute('data-finding')))).toContain(f.finding_id);
    await page.goBack();
    await settled(page);
    await page.goBack();
    await settled(page);
    // And from a pivot's finding to its evidence.
    await page.goBack();
    await page.waitForFunction('location.hash.includes("kind=principal")');
    await settled(page);
    await page.click(`#pivot-findings tr[data-finding="${f.finding_id}"] a.finding-link`);
    await page.waitForFunction('location.hash.includes("view=finding")');
    await settled(page);
    expect(await page.$$eval('table.events', (ts) => ts.length)).toBe(2);
    expect(problems).toEqual([]);
  }, 90_000);

  it('zooms on the timeline with a drag (since/until in the address, smaller bins) and resets', async () => {
    const { page, problems } = await newPage();
    await page.goto(`${server.url}/#since=2025-03-10T00:00:00Z&until=2025-03-13T00:00:00Z`);
    await settled(page);
    const before = Number(await page.getAttribute('#findings_over_time', 'data-bin'));
    const box = await (await page.$('#findings_over_time'))?.boundingBox();
    if (!box) throw new Error('no timeline canvas');
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.5);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.4, box.y + box.height * 0.5, { steps: 5 });
    await page.mouse.up();
    await page.waitForFunction('!location.hash.includes("2025-03-13T00")');
    await settled(page);
    const since = Date.parse(view(page).get('since') ?? '');
    const until = Date.parse(view(page).get('until') ?? '');
    expect(since).toBeGreaterThanOrEqual(Date.parse('2025-03-10T00:00:00Z'));
    expect(until).toBeGreaterThan(since);
    expect(until).toBeLessThanOrEqual(Date.parse('2025-03-13T00:00:00Z'));
    expect(until - since).toBeLessThan(3 * 86_400_000 / 2);
    // The bins follow the range: a narrower range, smaller bins.
    expect(Number(await page.getAttribute('#findings_over_time', 'data-bin'))).toBeLessThan(before);
    // The list follows too: every finding shown is in the range.
    const times = await page.$$eval('#findings tbody td.time', (ts) => ts.map((t) => t.getAttribute('title') ?? ''));
    for (const t of times) expect(Date.parse(t.split(' to ')[0] as string)).toBeGreaterThanOrEqual(since);
    await page.click('#reset-zoom');
    await page.waitForFunction('!location.hash.includes("since=")');
    await settled(page);
    expect(view(page).get('until')).toBeNull();
    // A click (no drag) does not zoom.
    const hash = new URL(page.url()).hash;
    await page.mouse.click(box.x + box.width * 0.5, box.y + box.height * 0.5);
    expect(new URL(page.url()).hash).toBe(hash);
    expect(problems).toEqual([]);
  }, 90_000);

  it('a range wider than the bins can show (a shared link since 2000) draws every request and finding in wider bins, none dropped', async () => {
    const { page, problems } = await newPage();
    /** What each timeline adds up to, and its bin in minutes. */
    const totals = () =>
      page.evaluate(() =>
        ['requests_over_time', 'findings_over_time', 'presigned_use'].map((id) => {
          const c = (globalThis as unknown as { Chart: { getChart(id: string): { data: { datasets: Array<{ data: number[] }> } } } }).Chart.getChart(id);
          return [id, c.data.datasets.reduce((n, d) => n + d.data.reduce((a, x) => a + x, 0), 0)] as const;
        }),
      );
    await page.goto(`${server.url}/`);
    await settled(page);
    const all = await totals();
    for (const [id, n] of all) expect([id, n > 0]).toEqual([id, true]);
    // 26 years: at one day a bin, more bins than the page draws.
    await page.goto(`${server.url}/#since=2000-01-01T00:00:00Z&until=2026-01-01T00:00:00Z`);
    await settled(page);
    expect(await page.textContent('#status')).toBe('ready');
    expect(await totals()).toEqual(all);
    expect(Number(await page.getAttribute('#requests_over_time', 'data-bin'))).toBeGreaterThan(1440);
    expect(problems).toEqual([]);
  }, 90_000);

  it('shows markup and javascript: from the logs as text: no script runs, links are encoded', async () => {
    const { page, problems } = await newPage();
    await page.goto(`${untimed.url}/#detection=hostile-values`);
    await settled(page);
    expect(await page.$$('img')).toEqual([]);
    expect(await page.$$('#findings script')).toEqual([]);
    const key = await page.$('#findings a.pivot[data-kind="key"]');
    expect(await key?.getAttribute('title')).toBe(XSS);
    expect(await key?.textContent()).toBe(XSS);
    const principal = await page.$('#findings a.pivot[data-kind="principal"]');
    expect(await principal?.textContent()).toBe('javascript:alert(3)');
    const hrefs = await page.$$eval('a', (as) => as.map((a) => a.getAttribute('href') ?? ''));
    for (const h of hrefs) expect([h, h.startsWith('#') || /^https?:\/\//.test(h)]).toEqual([h, true]);
    expect(await principal?.getAttribute('href')).toContain('value=javascript%3Aalert(3)');
    expect(await page.getAttribute('#findings a.finding-link', 'title')).toBe('A finding of <img src=x onerror=alert(2)>');
    // Its evidence and its pivot show the values literally too.
    await page.click('#findings a.finding-link');
    await page.waitForFunction('location.hash.includes("view=finding")');
    await settled(page);
    expect(await page.textContent('#fields')).toContain(XSS);
    expect(await page.textContent('#fields')).toContain('"><script>alert(4)</script>');
    await page.click('#fields a.pivot[data-kind="principal"]');
    await page.waitForFunction('location.hash.includes("view=pivot")');
    await settled(page);
    expect(await page.textContent('#pivot-title .pivot-value')).toBe('javascript:alert(3)');
    expect(await page.$$('img')).toEqual([]);
    expect(problems).toEqual([]);
  }, 90_000);

  it('says so when the finding in the address no longer exists, and when a pivot is refused', async () => {
    const { page, problems } = await newPage();
    await page.goto(`${server.url}/#view=finding&id=00000000000000000000`);
    await settled(page);
    expect(await page.textContent('#finding-detail p.err')).toMatch(/^No current finding has the ID 00000000000000000000/);
    expect(await page.textContent('#status')).not.toBe('ready');
    // A key without its bucket: the server's 400, shown.
    await page.goto(`${server.url}/#view=pivot&kind=key&value=legacy%2Fexport.csv`);
    await settled(page);
    expect(await page.textContent('#pivot-detail p.err')).toMatch(/bucket/);
    expect(problems).toEqual([]);
  }, 60_000);

    it('draws every chart when a finding has no event time (a "no time" bar), instead of stopping the page', async () => {
    const { page, problems } = await newPage();
    await page.goto(`${untimed.url}/`);
    await settled(page);
    expect(await page.textContent('#status')).toBe('ready');
    const points = await page.$$eval('#list-view canvas', (cs) => cs.map((c) => [c.id, Number(c.getAttribute('data-points') ?? 0) > 0] as const));
    expect(points.filter(([, drawn]) => !drawn)).toEqual([]);
    expect(await page.$$eval('#posture table.settings', (ts) => ts.length)).toBeGreaterThan(0);
    expect(await page.$$eval('#findings td.time', (ts) => ts.map((t) => t.textContent))).toContain('no time');
    const days = (await (await fetch(`${untimed.url}/api/queries/findings_over_time`)).json()) as { rows: Array<{ day: string | null }> };
    expect(days.rows.some((r) => r.day === null)).toBe(true);
    expect(problems).toEqual([]);
  }, 60_000);
});

