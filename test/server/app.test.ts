import { setTimeout as sleep } from 'node:timers/promises';
import { tableFromIPC } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../server/app.js';
import { serve } from '../../server/serve.js';
import { samplesDataset } from './samples.js';

let tmp: { dir: string; data: string; cleanup: () => void };
let data: string;
let open: App;
let locked: App;
beforeAll(async () => {
  tmp = await samplesDataset();
  data = tmp.data;
  open = await createApp({ data, timeoutMs: 1500, rowCap: 50, maxConcurrent: 2 });
  locked = await createApp({ data, token: 's3cret', bodyLimit: 200, maxConcurrent: 1, maxQueued: 1 });
});
afterAll(() => {
  open.close();
  locked.close();
  tmp.cleanup();
});

const get = (path: string, headers: Record<string, string> = {}, app = open): Promise<Response> => Promise.resolve(app.app.request(path, { headers }));
const post = (sql: unknown, app = open, headers: Record<string, string> = {}): Promise<Response> =>
  Promise.resolve(app.app.request('/api/query', { method: 'POST', body: JSON.stringify(sql), headers: { 'content-type': 'application/json', ...headers } }));

describe('routes', () => {
  it('GET /health answers ok', async () => {
    expect(await (await get('/health')).json()).toEqual({ ok: true });
  });

  it('GET /api/tables lists tables, columns, types and row counts', async () => {
    const j = (await (await get('/api/tables')).json()) as { tables: Array<{ name: string; rows: number; columns?: Array<{ name: string; type: string }> }> };
    expect(j.tables.map((t) => [t.name, t.rows])).toEqual([['access_log', 216], ['cloudtrail', 164], ['s3_requests', 375]]);
    expect(j.tables[0]?.columns?.find((c) => c.name === 'event_time')?.type).toBe('TIMESTAMP');
  });

  it('GET /api/detections gives the library', async () => {
    const j = (await (await get('/api/detections')).json()) as { detections: Array<{ id: string }> };
    expect(j.detections).toHaveLength(50);
  });

  it('GET /api/findings filters by detection, time and severity', async () => {
    const all = (await (await get('/api/findings')).json()) as { rows: Array<{ severity: string; event_time: string }>; truncated: boolean };
    // 79 findings, capped at this app's 50 rows.
    expect(all.rows).toHaveLength(50);
    expect(all.truncated).toBe(true);
    const crit = (await (await get('/api/findings?severity=critical')).json()) as { rows: Array<{ detection_id: string }> };
    expect(crit.rows.map((r) => r.detection_id).sort()).toEqual(['bucket-policy-public']);
    // A finding's own severity counts: the denied StopLogging of the samples is a medium one of a critical detection.
    const medium = (await (await get('/api/findings?severity=medium&detection=cloudtrail-tampering')).json()) as { rows: Array<{ severity: string; details: Record<string, unknown> }> };
    expect(medium.rows.map((r) => [r.severity, r.details.denied])).toEqual([['medium', true]]);
    const one = (await (await get('/api/findings?detection=mass-delete,versioning-suspended&since=2025-03-11&until=2025-03-12')).json()) as { rows: Array<{ detection_id: string; details: Record<string, unknown> }> };
    expect(one.rows.map((r) => r.detection_id).sort()).toEqual(['mass-delete', 'versioning-suspended']);
    expect(one.rows.find((r) => r.detection_id === 'mass-delete')?.details).toMatchObject({ deleted: 25 });
    // The findings table has every finding field, typed as query/finding.ts declares them.
    const grouped = (await (await post({ sql: "SELECT finding_id, count, sources, evidence, last_time FROM findings WHERE detection_id = 'permanent-delete-without-mfa'" })).json()) as { columns: Array<{ type: string }>; rows: Array<Record<string, unknown>> };
    expect(grouped.columns.map((c) => c.type)).toEqual(['VARCHAR', 'BIGINT', 'VARCHAR[]', 'JSON', 'TIMESTAMP']);
    expect(grouped.rows).toMatchObject([{ finding_id: expect.stringMatching(/^[0-9a-f]{20}$/), count: 25, sources: ['cloudtrail'], last_time: '2025-03-11T02:30:48.000Z' }]);
    expect((grouped.rows[0]?.evidence as unknown[]).length).toBe(5);
    expect((await get('/api/findings?severity=dire')).status).toBe(400);
    expect((await get('/api/findings?detection=nope')).status).toBe(400);
  });

  it('GET /api/findings says what the detections could not judge, for the detections asked for', async () => {
    type Answer = { rows: unknown[]; coverage: Array<{ detection_id: string; scope: string; reason: string; records?: number }> };
    const res = await get('/api/findings');
    const all = (await res.json()) as Answer;
    // The samples' 2019 access-log records of prod-backups predate the TLS field; writes only the access log saw keep no headers.
    expect(all.coverage).toEqual(expect.arrayContaining([
      { detection_id: 'plaintext-http-request', scope: 'prod-backups', reason: expect.stringMatching(/^access-log records with under 24 fields .* do not say whether the request used TLS$/), records: 2 },
      { detection_id: 'weak-tls-request', scope: 'prod-backups', reason: expect.stringMatching(/^access-log records with under 24 fields .* do not say which TLS version the request used$/), records: 2 },
      { detection_id: 'unencrypted-object-write', scope: 'logs-archive', reason: expect.stringMatching(/^object writes only the access log recorded/), records: 12 },
    ]));
    const gaps = [...new Set(all.coverage.map((c) => c.detection_id))];
    expect(gaps).toEqual([
      'first-access-to-bucket', 'foreign-kms-key-write', 'new-network-for-principal', 'plaintext-http-request', 'read-volume-over-baseline', 'sse-c-object-write',
      'threat-intel-address', 'unencrypted-object-write', 'vpc-endpoint-bypass', 'weak-tls-request',
    ]);
    expect(res.headers.get('x-not-checked')).toBe(String(gaps.length));
    // Only the detections asked for (by id, by severity); no finding of them does not hide what they could not check.
    const weak = (await (await get('/api/findings?detection=weak-tls-request,sigv2-request')).json()) as Answer;
    expect(weak.coverage.map((c) => c.detection_id)).toEqual(['weak-tls-request']);
    expect(((await (await get('/api/findings?severity=critical')).json()) as Answer).coverage).toEqual([]);
    expect([...new Set(((await (await get('/api/findings?severity=high')).json()) as Answer).coverage.map((c) => c.detection_id))]).toEqual(['foreign-kms-key-write', 'sse-c-object-write']);
    const none = (await (await get('/api/findings?detection=plaintext-http-request&since=2030-01-01')).json()) as Answer;
    expect([none.rows, none.coverage.map((c) => c.scope)]).toEqual([[], ['prod-backups']]);
    // The per-row formats keep their rows; the header says how many detections could not judge some data.
    const csv = await get('/api/findings?detection=weak-tls-request', { accept: 'text/csv' });
    expect([(await csv.text()).split('\n')[0]?.startsWith('finding_id,detection_id,severity,title,'), csv.headers.get('x-not-checked')]).toEqual([true, '1']);
  });

  it('GET /api/posture gives each bucket\'s settings at a time, its changes and exposure windows', async () => {
    const j = (await (await get('/api/posture?bucket=web-assets&at=2025-03-12T00:00:00Z')).json()) as {
      at: string; rows: Array<{ setting: string; value: string | null; known: boolean; since: string | null }>; windows: Array<{ exposure: string; from: string; until: string | null; requests: number }>; timeline: unknown[];
    };
    expect(j.at).toBe('2025-03-12T00:00:00.000Z');
    expect(j.rows.find((r) => r.setting === 'bucket_policy')).toMatchObject({ value: 'public (s3:GetObject); does not enforce encryption; allows plain HTTP', known: true, since: '2025-03-10T07:35:00.000Z' });
    expect(j.rows.find((r) => r.setting === 'versioning')).toMatchObject({ value: null, known: false });
    expect(j.windows.map((w) => [w.exposure, w.from, w.until])).toEqual([['public', '2025-03-10T07:35:00.000Z', null], ['no_encryption_policy', '2025-03-10T07:35:00.000Z', null]]);
    expect(j.windows[0]?.requests).toBeGreaterThan(0);
    const csv = await (await get('/api/posture?bucket=web-assets', { accept: 'text/csv' })).text();
    expect(csv.split('\n')[0]).toBe('bucket,setting,value,known,since,by,event_name,detail,life,deleted,deleted_by');
    expect((await get('/api/posture?at=yesterday')).status).toBe(400);
    expect((await get('/api/posture?buckt=x')).status).toBe(400);
  });

  it('runs the policy evaluator in SQL on the server\'s connections too', async () => {
    const policy = JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::444455556666:root' }, Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' }] });
    const j = (await (await post({ sql: 'SELECT s3sift_policy_external_accounts($p, \'b\', \'111122223333\') AS a', params: { p: policy } })).json()) as { rows: Array<{ a: string[] }> };
    expect(j.rows).toEqual([{ a: ['444455556666'] }]);
  });

  it('POST /api/query answers with the contract envelope: RFC 3339 times, numbers as numbers', async () => {
    const r = await post({ sql: 'SELECT source, count(*) AS n, min(event_time) AS first FROM s3_requests WHERE bucket = $b GROUP BY ALL ORDER BY 1', params: { b: 'prod-data' } });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({
      ok: true,
      columns: [{ name: 'source', type: 'VARCHAR' }, { name: 'n', type: 'BIGINT' }, { name: 'first', type: 'TIMESTAMP' }],
      rows: [{ source: 'access_log', n: 143, first: '2025-03-10T01:00:00.000Z' }, { source: 'cloudtrail', n: 151, first: '2025-03-10T01:00:00.000Z' }],
      truncated: false,
    });
  });

  it('gives CSV, NDJSON and Arrow IPC by the Accept header', async () => {
    const sql = { sql: 'SELECT source, count(*) AS n FROM s3_requests GROUP BY ALL ORDER BY 1' };
    const csv = await open.app.request('/api/query', { method: 'POST', body: JSON.stringify(sql), headers: { 'content-type': 'application/json', accept: 'text/csv' } });
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(await csv.text()).toBe('source,n\naccess_log,216\ncloudtrail,159\n');
    const nd = await open.app.request('/api/query', { method: 'POST', body: JSON.stringify(sql), headers: { 'content-type': 'application/json', accept: 'application/x-ndjson' } });
    expect(await nd.text()).toBe('{"source":"access_log","n":216}\n{"source":"cloudtrail","n":159}\n');
    const ar = await open.app.request('/api/query', { method: 'POST', body: JSON.stringify(sql), headers: { 'content-type': 'application/json', accept: 'application/vnd.apache.arrow.stream' } });
    const t = tableFromIPC(new Uint8Array(await ar.arrayBuffer()));
    expect(t.numRows).toBe(2);
    expect(t.getChild('source')?.toArray()).toEqual(['access_log', 'cloudtrail']);
  });

  it('neutralises CSV cells a spreadsheet would run as formulas, unless ?csv=raw', async () => {
    const sql = { sql: "SELECT '=HYPERLINK(\"http://x\")' AS f, '@SUM(1)' AS g, -5 AS n, '-5' AS t" };
    const ask = async (q: string): Promise<Response> => open.app.request(`/api/query${q}`, { method: 'POST', body: JSON.stringify(sql), headers: { 'content-type': 'application/json', accept: 'text/csv' } });
    expect(await (await ask('')).text()).toBe('f,g,n,t\n"\'=HYPERLINK(""http://x"")","\'@SUM(1)",-5,-5\n');
    expect(await (await ask('?csv=raw')).text()).toBe('f,g,n,t\n"=HYPERLINK(""http://x"")",@SUM(1),-5,-5\n');
    const bad = await ask('?csv=spreadsheet');
    expect([bad.status, ((await bad.json()) as { error: string }).error]).toEqual([400, expect.stringMatching(/^csv: only csv=raw is known/)]);
  });

  it('lists saved queries with typed parameters and runs them with filters', async () => {
    const list = (await (await get('/api/queries')).json()) as { queries: Array<{ name: string; params: Record<string, { type: string }> }> };
    expect(list.queries.map((q) => q.name)).toContain('findings_over_time');
    expect(list.queries.find((q) => q.name === 'top_principals')?.params.since?.type).toBe('timestamp');
    const all = (await (await get('/api/queries/tls_versions')).json()) as { rows: Array<{ tls_version: string; requests: number }> };
    const day1 = (await (await get('/api/queries/tls_versions?since=2025-03-10&until=2025-03-11&bucket=prod-data')).json()) as { rows: Array<{ requests: number }> };
    expect(day1.rows.reduce((n, r) => n + r.requests, 0)).toBeLessThan(all.rows.reduce((n, r) => n + r.requests, 0));
    const f = (await (await get('/api/queries/findings_over_time')).json()) as { rows: Array<{ day: string; severity: string; findings: number }> };
    expect(f.rows.every((r) => r.day.endsWith('T00:00:00.000Z'))).toBe(true);
    expect((await get('/api/queries/nope')).status).toBe(404);
    expect((await get('/api/queries/top_principals?limit=many')).status).toBe(400);
    expect((await get('/api/queries/top_principals?colour=red')).status).toBe(400);
  });

  it('serves the dashboard page and its chart library locally', async () => {
    const page = await (await get('/')).text();
    expect(page).toContain('<script src="/assets/chart.umd.js"></script>');
    expect(page).not.toMatch(/https?:\/\/(?!www\.w3)/);
    const js = await get('/assets/chart.umd.js');
    expect(js.status).toBe(200);
    expect((await js.text()).length).toBeGreaterThan(100_000);
  });

  it('answers an unknown route with a 404 envelope', async () => {
    expect(await (await get('/api/nope')).json()).toEqual({ ok: false, error: 'no route GET /api/nope', status: 404 });
  });
});

describe('the SQL sandbox', () => {
  const refused: Array<[string, RegExp]> = [
    ["COPY access_log TO '/tmp/s3sift-escape.csv'", /only a read-only SELECT/],
    ["ATTACH '/tmp/s3sift-escape.db'", /only a read-only SELECT/],
    ['INSTALL httpfs', /only a read-only SELECT/],
    ['LOAD httpfs', /only a read-only SELECT/],
    ['SET threads = 1', /only a read-only SELECT/],
    ["SET VARIABLE x = 'y'", /only a read-only SELECT/],
    ['CREATE TABLE t AS SELECT 1', /only a read-only SELECT/],
    ['DROP VIEW access_log', /only a read-only SELECT/],
    ['PRAGMA database_list', /only a read-only SELECT/],
    ['CALL pragma_version()', /only a read-only SELECT/],
    ["EXPORT DATABASE '/tmp/s3sift-export'", /only a read-only SELECT/],
    ["SELECT * FROM read_csv('/etc/passwd')", /Permission Error/],
    ["SELECT * FROM read_text('/etc/hostname')", /Permission Error/],
    ["SELECT * FROM read_blob('/etc/hostname')", /Permission Error/],
    ["SELECT * FROM glob('/etc/*')", /Permission Error/],
    ["SELECT * FROM read_json_auto('https://example.com/x.json')", /Permission Error|disabled|not allowed|extension/i],
    ["SELECT * FROM read_parquet(getvariable('x'))", /./],
    ['SELECT 1; SELECT 2', /one statement per request, got 2/],
    ['SELEC 1', /does not parse/],
    ['', /give one SELECT/],
  ];
  for (const [sql, msg] of refused) {
    it(`refuses ${JSON.stringify(sql)} with a 400 and a message`, async () => {
      const r = await post({ sql });
      expect(r.status).toBe(400);
      const j = (await r.json()) as { ok: boolean; error: string; status: number };
      expect(j).toMatchObject({ ok: false, status: 400 });
      expect(j.error).toMatch(msg);
      expect(j.error).not.toMatch(/at .*\.js:\d+/); // no stack traces
    });
  }

  it('still answers after every refusal', async () => {
    expect((await post({ sql: 'SELECT count(*) AS n FROM access_log' })).status).toBe(200);
  });

  it('stops a query past the time limit (408) and stays healthy', async () => {
    const t0 = Date.now();
    const r = await post({ sql: 'SELECT count(*) FROM range(1000000000000) a' });
    expect(r.status).toBe(408);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(((await r.json()) as { error: string }).error).toMatch(/longer than 1500 ms and was stopped/);
    expect((await post({ sql: 'SELECT 42 AS answer' })).status).toBe(200);
  });

  it('caps the rows and says so', async () => {
    const j = (await (await post({ sql: 'SELECT * FROM range(1000) r(i)' })).json()) as { rows: unknown[]; truncated: boolean };
    expect(j.rows).toHaveLength(50);
    expect(j.truncated).toBe(true);
  });

  it('queues past the concurrency limit and answers 429 when the line is full', async () => {
    const auth = { authorization: 'Bearer s3cret' };
    const slow = post({ sql: 'SELECT count(*) FROM range(1000000000000) a' }, locked, auth);
    await sleep(100);
    const queued = post({ sql: 'SELECT 1 AS one' }, locked, auth);
    await sleep(50);
    const third = await post({ sql: 'SELECT 2' }, locked, auth);
    expect(third.status).toBe(429);
    expect(((await third.json()) as { error: string }).error).toMatch(/too many queries at once \(1 running, 1 waiting\)/);
    expect((await slow).status).toBe(408);
    expect((await queued).status).toBe(200);
  });

  it('refuses bad request bodies with a 400', async () => {
    const r = await open.app.request('/api/query', { method: 'POST', body: 'not json', headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(400);
    expect((await post({ sql: 'SELECT $x AS v', params: { x: { nested: 1 } } })).status).toBe(400);
  });
});

describe('access control', () => {
  it('asks for the bearer token (401) on every route but /health', async () => {
    expect((await get('/health', {}, locked)).status).toBe(200);
    expect((await get('/api/detections', {}, locked)).status).toBe(401);
    expect((await get('/api/detections', { authorization: 'Bearer wrong' }, locked)).status).toBe(401);
    expect((await get('/api/detections', { authorization: 'Bearer s3cret' }, locked)).status).toBe(200);
  });

  it('limits the request body (413)', async () => {
    const r = await post({ sql: `SELECT '${'x'.repeat(500)}'` }, locked, { authorization: 'Bearer s3cret' });
    expect(r.status).toBe(413);
  });

  it('refuses to listen on a non-loopback address without a token', async () => {
    await expect(serve({ data, host: '0.0.0.0', port: 0 })).rejects.toThrow(/refusing to listen on 0\.0\.0\.0 without a token/);
  });

  it('listens on loopback and answers over HTTP', async () => {
    const s = await serve({ data, host: '127.0.0.1', port: 0 });
    try {
      expect(await (await fetch(`${s.url}/health`)).json()).toEqual({ ok: true });
    } finally {
      await s.close();
    }
  });
});
