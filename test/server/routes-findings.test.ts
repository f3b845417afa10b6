/**
 * The findings routes (server/routes/findings.ts): /api/findings filters and
 * paging, one finding's evidence, and the pivot, through `app.request()`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../server/app.js';
import { readdirSync, readFileSync, renameSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Finding } from '../../query/finding.js';
import { mergeFindings, setStatus, updateState } from '../../query/findings-state.js';
import { samplesDataset } from './samples.js';
import { ingest } from '../../ingest/ingest.js';
import { compact } from '../../ingest/compact.js';
import { SAMPLES, tempDir } from '../helpers/dataset.js';

let tmp: { dir: string; data: string; cleanup: () => void };
let open: App;
let locked: App;
beforeAll(async () => {
  tmp = await samplesDataset();
  open = await createApp({ data: tmp.data, rowCap: 50 });
  locked = await createApp({ data: tmp.data, token: 's3cret' });
});
afterAll(() => {
  open.close();
  locked.close();
  tmp.cleanup();
});

type Row = Record<string, unknown> & { finding_id: string; detection_id: string; severity: string; event_time: string | null; bucket: string | null; principal: string | null; source_ip: string | null; status: string | null };
type List = { ok: boolean; rows: Row[]; total: number; offset: number; limit: number; more: boolean; next_offset: number | null; truncated: boolean; truncated_by?: string; error?: string; as_of: string };
const get = (path: string, headers: Record<string, string> = {}, app = open): Promise<Response> => Promise.resolve(app.app.request(path, { headers }));
const json = async <T = List>(path: string, app = open, headers: Record<string, string> = {}): Promise<T> => (await (await get(path, headers, app)).json()) as T;

describe('GET /api/findings: filters and paging', () => {
  it('pages through every finding with limit and offset: total, more, next_offset, x-total-count and link', async () => {
    const first = await get('/api/findings?limit=30');
    const a = (await first.json()) as List;
    expect([a.rows.length, a.total, a.offset, a.limit, a.more, a.next_offset, a.truncated]).toEqual([30, 79, 0, 30, true, 30, true]);
    expect(first.headers.get('x-total-count')).toBe('79');
    expect(first.headers.get('link')).toBe(`</api/findings?limit=30&offset=30&as_of=${encodeURIComponent(a.as_of)}>; rel="next"`);
    const seen = new Set(a.rows.map((r) => r.finding_id));
    let next: number | null = a.next_offset;
    while (next !== null) {
      const p = await json(`/api/findings?limit=30&offset=${next}`);
      for (const r of p.rows) seen.add(r.finding_id);
      next = p.next_offset;
      if (next === null) expect([p.more, p.truncated]).toEqual([false, false]);
    }
    // Every finding once: the order is total (event time, then ID), so pages neither repeat nor skip.
    expect(seen.size).toBe(79);
    const last = await get('/api/findings?limit=30&offset=60');
    expect([last.headers.get('link'), ((await last.json()) as List).rows.length]).toEqual([null, 19]);
    // Past the end: an empty page that says so, not an error.
    expect(await json('/api/findings?offset=500')).toMatchObject({ rows: [], total: 79, more: false, next_offset: null });
  });

  it('refuses (409) a next page asked for with the as_of of findings that changed since (an ingest): pages would skip or repeat', async () => {
    const a = await json('/api/findings?limit=30');
    expect(a.as_of).toMatch(/./);
    // The same findings: the next page with as_of is served.
    expect((await get(`/api/findings?limit=30&offset=30&as_of=${encodeURIComponent(a.as_of)}`)).status).toBe(200);
    // The dataset changes (its manifest is written again): the findings are recomputed and the old as_of is refused.
    const manifest = join(tmp.data, '_manifest.json');
    writeFileSync(manifest, readFileSync(manifest, 'utf8') + ' ');
    const r = await get(`/api/findings?limit=30&offset=30&as_of=${encodeURIComponent(a.as_of)}`);
    expect([r.status, ((await r.json()) as List).error]).toEqual([409, expect.stringMatching(/^as_of: the findings changed since that page.*offset 0/)]);
    // Without as_of, or with the new one, it answers.
    const b = await json('/api/findings?limit=30');
    expect(b.as_of).not.toBe(a.as_of);
    expect((await get(`/api/findings?limit=30&offset=30&as_of=${encodeURIComponent(b.as_of)}`)).status).toBe(200);
  });

  it('recomputes the findings after a commit that leaves the manifest head the same size with the same mtime (a coarse file-system clock)', async () => {
    const manifest = join(tmp.data, '_manifest.json');
    utimesSync(manifest, 1_700_000_000, 1_700_000_000);
    const a = await json('/api/findings?limit=30');
    const before = statSync(manifest);
    // A commit rewrites the head by a rename: another file; a version 2 head often keeps its size.
    const text = readFileSync(manifest, 'utf8');
    const next = text.replace(/("run": "[^"]*)(.)"/, (_, run: string, c: string) => `${run}${c === '0' ? '1' : '0'}"`);
    expect(next).not.toBe(text);
    writeFileSync(`${manifest}.new`, next);
    utimesSync(`${manifest}.new`, 1_700_000_000, 1_700_000_000);
    renameSync(`${manifest}.new`, manifest);
    expect([statSync(manifest).size, statSync(manifest).mtimeMs]).toEqual([before.size, before.mtimeMs]);
    const r = await get(`/api/findings?limit=30&offset=30&as_of=${encodeURIComponent(a.as_of)}`);
    expect(r.status).toBe(409);
  });

  it('defaults to the newest first, at most 100 (here the row cap, 50), and says more remain', async () => {
    const d = await json('/api/findings');
    expect([d.rows.length, d.limit, d.more, d.next_offset, d.truncated_by]).toEqual([50, 50, true, 50, 'row_cap']);
    const times = d.rows.map((r) => r.event_time ?? '');
    expect([...times].sort().reverse()).toEqual(times);
  });

  it('refuses a limit past the row cap (naming it), a bad limit or offset, an unknown parameter, sort or order', async () => {
    const over = await get('/api/findings?limit=51');
    expect(over.status).toBe(400);
    expect(((await over.json()) as List).error).toMatch(/limit must be from 1 to 50 .*row cap/);
    for (const bad of ['limit=0', 'limit=-1', 'limit=1.5', 'limit=ten', 'offset=-1', 'offset=x', 'sort=title', 'order=up', 'status=closed', 'status=open,nope', 'bukket=x', 'severity=dire']) {
      const r = await get(`/api/findings?${bad}`);
      expect([bad, r.status]).toEqual([bad, 400]);
    }
    expect(((await json('/api/findings?bukket=x&limit=3')) as List).error).toMatch(/unknown parameter "bukket"/);
  });

  it('refuses a parameter given twice (the second value was dropped: status=open&status=resolved answered open only), on every route', async () => {
    const acked = '/api/findings?status=open&status=acknowledged';
    for (const p of [acked, '/api/findings?bucket=a&bucket=b', '/api/pivot?kind=bucket&value=a&value=b', '/api/posture?bucket=a&bucket=b', '/api/queries/requests_over_time?bin_minutes=5&bin_minutes=60']) {
      const r = await get(p);
      expect([p, r.status]).toEqual([p, 400]);
    }
    expect(((await json(acked)) as List).error).toMatch(/parameter "status" given more than once: .*comma-separated/);
  });

  it('filters by bucket, principal, source_ip and text, exactly', async () => {
    const all = (await json('/api/findings?limit=50')).rows.concat((await json('/api/findings?limit=50&offset=50')).rows);
    const count = (pred: (r: Row) => boolean): number => all.filter(pred).length;
    const bucket = await json('/api/findings?bucket=prod-data&limit=50');
    expect(bucket.total).toBe(count((r) => r.bucket === 'prod-data'));
    expect(bucket.total).toBeGreaterThan(0);
    expect(bucket.rows.every((r) => r.bucket === 'prod-data')).toBe(true);
    // Near misses: a prefix or another case is another bucket.
    expect((await json('/api/findings?bucket=prod-dat')).total).toBe(0);
    expect((await json('/api/findings?bucket=PROD-DATA')).total).toBe(0);
    const principal = 'arn:aws:iam::111122223333:user/ci-deployer';
    const p = await json(`/api/findings?principal=${encodeURIComponent(principal)}&limit=50`);
    expect([p.total > 0, p.total]).toEqual([true, count((r) => r.principal === principal)]);
    const ip = all.find((r) => r.source_ip)?.source_ip as string;
    const byIp = await json(`/api/findings?source_ip=${encodeURIComponent(ip)}&limit=50`);
    expect(byIp.total).toBe(count((r) => r.source_ip === ip));
    expect((await json(`/api/findings?source_ip=${encodeURIComponent(`${ip}0`)}`)).total).toBe(0);
    const q = await json('/api/findings?q=MASS-DELETE&limit=50');
    expect(q.rows.map((r) => r.detection_id)).toContain('mass-delete');
    // Filters combine (AND).
    expect((await json(`/api/findings?bucket=prod-data&principal=${encodeURIComponent(principal)}&limit=50`)).total).toBe(count((r) => r.bucket === 'prod-data' && r.principal === principal));
  });

  it('sorts by the column asked, both ways, with nulls last', async () => {
    const asc = (await json('/api/findings?sort=severity&order=asc&limit=50')).rows.map((r) => r.severity);
    expect(asc[0]).toBe('info');
    const desc = (await json('/api/findings?sort=severity&limit=50')).rows.map((r) => r.severity);
    expect(desc[0]).toBe('critical');
    const byBucket = (await json('/api/findings?sort=bucket&order=asc&limit=50&offset=50')).rows.map((r) => r.bucket);
    const named = byBucket.filter((b) => b !== null) as string[];
    expect(named).toEqual([...named].sort());
    expect(byBucket.slice(named.length).every((b) => b === null)).toBe(true);
  });

  it('filters by status from the findings state', async () => {
    const some = (await json('/api/findings?limit=2&sort=event_time&order=asc')).rows;
    const [a, b] = some as [Row, Row];
    await updateState(tmp.data, (s) => mergeFindings(s, some as unknown as Finding[], new Date()));
    await setStatus(tmp.data, a.finding_id, 'acknowledged', 'tester', 'looked');
    await setStatus(tmp.data, b.finding_id, 'resolved', 'tester', 'fixed');
    const ack = await json('/api/findings?status=acknowledged');
    expect(ack.rows.map((r) => [r.finding_id, r.status, r.status_by])).toEqual([[a.finding_id, 'acknowledged', 'tester']]);
    expect((await json('/api/findings?status=acknowledged,resolved')).total).toBe(2);
    expect((await json('/api/findings?status=open')).total).toBe(77);
    // A state that cannot be read: asking by status is refused (503), not answered "none"; without status, status is null.
    const state = join(tmp.data, 'findings', 'state.json');
    const kept = readFileSync(state);
    writeFileSync(state, '{not json');
    try {
      const r = await get('/api/findings?status=open');
      expect([r.status, ((await r.json()) as List).error]).toEqual([503, expect.stringMatching(/findings state .* cannot be read/)]);
      expect((await json('/api/findings?limit=1')).rows[0]?.status).toBeNull();
    } finally {
      writeFileSync(state, kept);
    }
  });

  it('takes hostile values as values: quotes, %, unicode and a 1 MB string match nothing and break nothing', async () => {
    for (const v of ["x' OR '1'='1", '%', '_%', '💥\u202e', '\\', 'a'.repeat(1024 * 1024)]) {
      const r = await get(`/api/findings?principal=${encodeURIComponent(v)}&bucket=${encodeURIComponent(v)}&q=${encodeURIComponent(v)}`);
      expect([v.slice(0, 20), r.status, ((await r.json()) as List).total]).toEqual([v.slice(0, 20), 200, 0]);
    }
  });

  it('gives the paging headers in CSV and NDJSON too', async () => {
    const csv = await get('/api/findings?limit=5&offset=5', { accept: 'text/csv' });
    expect([csv.headers.get('x-total-count'), csv.headers.get('link')]).toEqual(['79', expect.stringMatching(/^<\/api\/findings\?limit=5&offset=10&as_of=[^>&]+>; rel="next"$/)]);
    expect((await csv.text()).trim().split('\n')).toHaveLength(6);
    const nd = await get('/api/findings?limit=5&offset=75', { accept: 'application/x-ndjson' });
    expect([nd.headers.get('x-total-count'), nd.headers.get('link'), (await nd.text()).trim().split('\n').length]).toEqual(['79', null, 4]);
  });

  it('needs the token: 401 without, 200 with', async () => {
    expect((await get('/api/findings', {}, locked)).status).toBe(401);
    expect((await get('/api/findings?limit=1', { authorization: 'Bearer s3cret' }, locked)).status).toBe(200);
  });
});

type Evidence = {
  ok: boolean; error?: string;
  finding: Row & { status: string };
  detection: { id: string; title: string; severity: string };
  events: { access_log: { columns: Array<{ name: string }>; rows: Array<Record<string, unknown>> }; cloudtrail: { columns: Array<{ name: string }>; rows: Array<Record<string, unknown>> }; truncated: boolean };
  raw: Array<{ source_file: string; source_line: number; source: string; text: string | null; note: string | null }>;
  posture: { bucket: string; at: string; settings: Record<string, { value: string } | null> } | null;
};

describe('GET /api/findings/:finding_id: the evidence', () => {
  it('gives the finding, its detection, its records from both tables with every column, the raw lines, and the posture then', async () => {
    const [mass] = (await json('/api/findings?detection=mass-delete')).rows as [Row];
    const e = await json<Evidence>(`/api/findings/${mass.finding_id}`);
    expect(e.ok).toBe(true);
    expect(e.finding).toMatchObject({ finding_id: mass.finding_id, detection_id: 'mass-delete', status: 'open' });
    expect(e.detection).toMatchObject({ id: 'mass-delete' });
    // Every column of each table.
    expect(e.events.access_log.columns.map((c) => c.name)).toEqual(expect.arrayContaining(['request_id', 'remote_ip', 'operation', 'source_file', 'source_line', 'user_agent']));
    expect(e.events.cloudtrail.columns.map((c) => c.name)).toEqual(expect.arrayContaining(['event_id', 'event_name', 'request_parameters', 'source_file', 'source_line']));
    expect(e.events.access_log.rows.length).toBeGreaterThan(0);
    expect(e.events.cloudtrail.rows.length).toBeGreaterThan(0);
    // The same request in both sources: matched by request ID.
    const ids = new Set(e.events.access_log.rows.map((r) => r.request_id));
    expect(e.events.cloudtrail.rows.some((r) => ids.has(r.request_id))).toBe(true);
    // The raw access-log line is the file's own, at its line; the CloudTrail record is read out of its .json.gz Records file.
    const line = e.raw.find((r) => r.source === 'access_log');
    expect(line?.text).toMatch(/^[0-9a-f]{64} prod-data \[11\/Mar\/2025:02:30:/);
    const ct = e.raw.find((r) => r.source === 'cloudtrail');
    expect(ct?.source_file).toMatch(/\.json\.gz$/);
    const record = JSON.parse(ct?.text as string) as { eventID: string };
    expect(e.events.cloudtrail.rows.map((r) => r.event_id)).toContain(record.eventID);
    expect(e.posture).toMatchObject({ bucket: 'prod-data', at: mass.event_time, settings: { versioning: { value: 'Suspended' } } });
  });

  it('answers 404 for an ID no current finding has, hostile or not; 400 for a parameter; 401 without the token', async () => {
    for (const id of ['00000000000000000000', "x'%20OR%201=1", '%F0%9F%92%A5', 'a'.repeat(5000)]) {
      const r = await get(`/api/findings/${id}`);
      expect([id.slice(0, 20), r.status]).toEqual([id.slice(0, 20), 404]);
      expect(((await r.json()) as Evidence).error).toMatch(/^no current finding has the ID/);
    }
    const [one] = (await json('/api/findings?limit=1')).rows as [Row];
    expect((await get(`/api/findings/${one.finding_id}?x=1`)).status).toBe(400);
    expect((await get(`/api/findings/${one.finding_id}`, {}, locked)).status).toBe(401);
    expect((await get(`/api/findings/${one.finding_id}`, { authorization: 'Bearer s3cret' }, locked)).status).toBe(200);
  });
});

type Pivot = {
  ok: boolean; error?: string; kind: string; value: string; bin_minutes: number; requests: number; first_seen: string | null; last_seen: string | null;
  activity: { rows: Array<{ time: string; source: string; requests: number; errors: number; denied: number }> };
  top: Record<string, Array<Record<string, unknown>>>;
  findings: { rows: Row[]; total: number };
};

describe('GET /api/pivot', () => {
  const who = 'arn:aws:iam::111122223333:user/ci-deployer';

  it('gives a principal\'s activity per bin and source, its tops (not its own kind) and its findings, newest first', async () => {
    const p = await json<Pivot>(`/api/pivot?kind=principal&value=${encodeURIComponent(who)}`);
    expect(p).toMatchObject({ ok: true, kind: 'principal', value: who });
    expect(Object.keys(p.top).sort()).toEqual(['buckets', 'keys', 'operations', 'source_ips']);
    expect(p.top.operations?.[0]).toEqual({ operation: 'DeleteObject', requests: 50 });
    // Top keys carry their bucket: a key names an object only within it, and each links to its own pivot.
    expect(p.top.keys?.length).toBeGreaterThan(0);
    for (const k of p.top.keys ?? []) expect(Object.keys(k)).toEqual(['bucket', 'key', 'requests']);
    // A request without a key (bucket calls) counts under a null key.
    const first = p.top.keys?.find((k) => k.key !== null) as { bucket: string; key: string; requests: number };
    const keyPivot = await json<Pivot>(`/api/pivot?kind=key&value=${encodeURIComponent(first.key)}&bucket=${encodeURIComponent(first.bucket)}`);
    expect(keyPivot.requests).toBeGreaterThanOrEqual(first.requests);
    expect(keyPivot.requests).toBeGreaterThan(0);
    // The bins hold every timed request of the principal.
    expect(p.activity.rows.reduce((n, r) => n + r.requests, 0)).toBe(p.requests);
    expect(p.activity.rows.some((r) => r.denied > 0)).toBe(true);
    expect(p.findings.rows.length).toBeGreaterThan(0);
    expect(p.findings.rows.every((f) => f.principal === who)).toBe(true);
    const times = p.findings.rows.map((f) => f.event_time ?? '');
    expect([...times].sort().reverse()).toEqual(times);
    expect(p.first_seen! <= p.last_seen!).toBe(true);
  });

  it('chooses the bin from the range asked, else the data\'s span; takes bin_minutes', async () => {
    const day = await json<Pivot>(`/api/pivot?kind=bucket&value=prod-data&since=2025-03-11T00:00:00Z&until=2025-03-12T00:00:00Z`);
    expect(day.bin_minutes).toBe(15);
    const hour = await json<Pivot>(`/api/pivot?kind=bucket&value=prod-data&since=2025-03-11T02:00:00Z&until=2025-03-11T03:00:00Z`);
    expect(hour.bin_minutes).toBe(1);
    const month = await json<Pivot>(`/api/pivot?kind=bucket&value=prod-data&since=2025-03-01T00:00:00Z&until=2025-04-01T00:00:00Z`);
    expect(month.bin_minutes).toBe(360);
    const year = await json<Pivot>(`/api/pivot?kind=bucket&value=prod-data&since=2025-01-01T00:00:00Z&until=2026-01-01T00:00:00Z`);
    expect(year.bin_minutes).toBe(1440);
    const given = await json<Pivot>(`/api/pivot?kind=bucket&value=prod-data&bin_minutes=1440`);
    expect([given.bin_minutes, given.activity.rows.every((r) => r.time.endsWith('T00:00:00.000Z'))]).toEqual([1440, true]);
    expect((await json<Pivot>('/api/pivot?kind=bucket&value=prod-data&until=2025-03-11T00:00:00Z')).activity.rows.every((r) => r.time < '2025-03-11')).toBe(true);
  });

  it('pivots on a key within its bucket, and on an address', async () => {
    const [f] = (await json('/api/findings?detection=mass-delete')).rows as [Row];
    const keyed = (await json<Evidence>(`/api/findings/${f.finding_id}`)).events.access_log.rows[0];
    const key = keyed?.key as string;
    const p = await json<Pivot>(`/api/pivot?kind=key&bucket=prod-data&value=${encodeURIComponent(key)}`);
    expect([p.ok, p.requests > 0, 'keys' in p.top]).toEqual([true, true, false]);
    expect((await json<Pivot>(`/api/pivot?kind=key&bucket=web-assets&value=${encodeURIComponent(key)}`)).requests).toBe(0);
    const ip = (await json<Pivot>(`/api/pivot?kind=source_ip&value=185.220.101.4`));
    expect([ip.requests > 0, 'source_ips' in ip.top]).toEqual([true, false]);
  });

  it('refuses an unknown kind, a missing value, kind=key without bucket, a bad bin, an unknown parameter (400)', async () => {
    for (const bad of ['kind=user&value=x', 'value=x', 'kind=principal', 'kind=key&value=a', 'kind=bucket&value=a&bin_minutes=0', 'kind=bucket&value=a&bin_minutes=x',
      'kind=bucket&value=a&since=yesterday', 'kind=bucket&value=a&foo=1', 'kind=bucket&value=a&bucket=b']) {
      const r = await get(`/api/pivot?${bad}`);
      expect([bad, r.status]).toEqual([bad, 400]);
    }
    expect(((await json<Pivot>('/api/pivot?kind=key&value=a')).error)).toMatch(/kind=key needs bucket=/);
  });

  it('takes hostile values as values, and needs the token', async () => {
    for (const v of ["x' OR '1'='1", '%', '💥', 'a'.repeat(1024 * 1024)]) {
      const p = await json<Pivot>(`/api/pivot?kind=key&bucket=${encodeURIComponent(v)}&value=${encodeURIComponent(v)}`);
      expect([v.slice(0, 10), p.ok, p.requests, p.activity.rows, p.findings.total]).toEqual([v.slice(0, 10), true, 0, [], 0]);
    }
    expect((await get('/api/pivot?kind=bucket&value=prod-data', {}, locked)).status).toBe(401);
    expect((await get('/api/pivot?kind=bucket&value=prod-data', { authorization: 'Bearer s3cret' }, locked)).status).toBe(200);
  });
});

describe('a table ingested into for the first time while the server runs', () => {
  it('is read: its findings and rows appear, as on a server started after the ingest (it stayed the empty table of the start)', async () => {
    const t = tempDir();
    const data = join(t.dir, 'data');
    await ingest([new URL('access-logs/', SAMPLES).pathname], { data, format: 'auto', force: false, strict: false });
    const running = await createApp({ data });
    try {
      const before = await json('/api/findings?limit=1', running);
      const rows = async (a: App): Promise<Record<string, number>> =>
        Object.fromEntries(((await (await a.app.request('/api/tables')).json()) as { tables: Array<{ name: string; rows: number }> }).tables.map((x) => [x.name, x.rows]));
      expect((await rows(running)).cloudtrail).toBe(0);
      await ingest([new URL('cloudtrail/', SAMPLES).pathname], { data, format: 'auto', force: false, strict: false });
      const fresh = await createApp({ data });
      try {
        // Asked first of the tables, the posture and user SQL (no findings request yet): each reads the new table.
        expect((await rows(running)).cloudtrail).toBeGreaterThan(0);
        const posture = async (a: App): Promise<unknown> => ((await (await a.app.request('/api/posture')).json()) as { rows: unknown[] }).rows;
        expect(await posture(running)).toEqual(await posture(fresh));
        const after = await json('/api/findings?limit=1', running);
        expect(after.total).toBe((await json('/api/findings?limit=1', fresh)).total);
        expect(after.total).toBeGreaterThan(before.total);
        expect((await rows(running)).cloudtrail).toBe((await rows(fresh)).cloudtrail);
        expect((await rows(running)).cloudtrail).toBeGreaterThan(0);
        // User SQL sees it too.
        const r = await running.app.request('/api/query', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sql: 'SELECT count(*) AS n FROM cloudtrail' }) });
        expect(Number(((await r.json()) as { rows: Array<{ n: number }> }).rows[0]?.n)).toBe((await rows(fresh)).cloudtrail);
      } finally {
        fresh.close();
      }
    } finally {
      running.close();
      t.cleanup();
    }
  }, 120_000);

  it('reads the merged files after a compact, and every count stays the same (the merged-away files, still on disk, are not read)', async () => {
    const t = tempDir();
    const data = join(t.dir, 'data');
    const logs = readdirSync(new URL('access-logs/', SAMPLES).pathname, { recursive: true }).map(String).filter((f) => f.endsWith('.log')).sort();
    // A run per file: several small files in a partition.
    for (const f of logs) await ingest([join(new URL('access-logs/', SAMPLES).pathname, f)], { data, format: 'auto', force: false, strict: false });
    const running = await createApp({ data });
    try {
      const count = async (): Promise<number> => {
        const r = await running.app.request('/api/query', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sql: 'SELECT count(*) AS n FROM access_log' }) });
        return Number(((await r.json()) as { rows: Array<{ n: number }> }).rows[0]?.n);
      };
      const before = { n: await count(), findings: (await json('/api/findings?limit=1', running)).total };
      const s = await compact({ data });
      expect(s.merges.length).toBeGreaterThan(0);
      expect({ n: await count(), findings: (await json('/api/findings?limit=1', running)).total }).toEqual(before);
    } finally {
      running.close();
      t.cleanup();
    }
  }, 120_000);
});
