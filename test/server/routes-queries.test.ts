/** Saved queries' time bins (server/queries.ts, server/bins.ts): bins follow the range asked. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../server/app.js';
import { chooseBinMinutes } from '../../server/bins.js';
import { samplesDataset } from './samples.js';

let tmp: { dir: string; data: string; cleanup: () => void };
let open: App;
let locked: App;
beforeAll(async () => {
  tmp = await samplesDataset();
  open = await createApp({ data: tmp.data });
  locked = await createApp({ data: tmp.data, token: 's3cret' });
});
afterAll(() => {
  open.close();
  locked.close();
  tmp.cleanup();
});

type Answer = { ok: boolean; error?: string; columns: Array<{ name: string; type: string }>; rows: Array<Record<string, unknown> & { time: string | null; bin_minutes: number }> };
const get = async (path: string, app = open, headers: Record<string, string> = {}): Promise<{ status: number; body: Answer }> => {
  const r = await app.app.request(path, { headers });
  return { status: r.status, body: (await r.json()) as Answer };
};
const sql = async (text: string): Promise<number> => {
  const r = await open.app.request('/api/query', { method: 'POST', body: JSON.stringify({ sql: text }), headers: { 'content-type': 'application/json' } });
  return Number(((await r.json()) as { rows: Array<{ n: number }> }).rows[0]?.n);
};

describe('chooseBinMinutes', () => {
  it('aims at about 100 bins from 1 minute to a day', () => {
    const h = 3_600_000;
    expect([0, h, 6 * h, 24 * h, 7 * 24 * h, 31 * 24 * h, 365 * 24 * h].map(chooseBinMinutes)).toEqual([1, 1, 5, 15, 60, 360, 1440]);
  });
});

describe('findings_over_time', () => {
  it('has time (the bin start) and day, with bin_minutes chosen from since/until', async () => {
    const { body } = await get('/api/queries/findings_over_time?since=2025-03-11T00:00:00Z&until=2025-03-12T00:00:00Z');
    expect(body.columns.map((c) => [c.name, c.type])).toEqual([['day', 'TIMESTAMP'], ['time', 'TIMESTAMP'], ['severity', 'VARCHAR'], ['findings', 'BIGINT'], ['bin_minutes', 'INTEGER']]);
    expect(body.rows.length).toBeGreaterThan(0);
    expect(body.rows.every((r) => r.bin_minutes === 15 && /T\d\d:(00|15|30|45):00\.000Z$/.test(r.time as string) && r.day === `${(r.time as string).slice(0, 10)}T00:00:00.000Z`)).toBe(true);
    const total = body.rows.reduce((n, r) => n + (r.findings as number), 0);
    expect(total).toBe(await sql("SELECT count(*) AS n FROM findings WHERE event_time >= '2025-03-11' AND event_time < '2025-03-12'"));
  });

  it('takes bin_minutes; without a range, bins follow the data\'s span', async () => {
    const days = (await get('/api/queries/findings_over_time?bin_minutes=1440')).body.rows;
    expect(days.every((r) => r.bin_minutes === 1440 && r.time === r.day)).toBe(true);
    const all = (await get('/api/queries/findings_over_time')).body.rows;
    expect(new Set(all.map((r) => r.bin_minutes)).size).toBe(1);
    expect(all.reduce((n, r) => n + (r.findings as number), 0)).toBe(await sql('SELECT count(*) AS n FROM findings'));
  });

  it('refuses a bin that is not a whole number from 1 to a year (400)', async () => {
    for (const b of ['0', '-5', '1.5', 'x', '525601']) expect([b, (await get(`/api/queries/findings_over_time?bin_minutes=${b}`)).status]).toEqual([b, 400]);
  });
});

describe('requests_over_time', () => {
  it('gives requests, errors and denied per bin and source: every timed request in the range once', async () => {
    const { status, body } = await get('/api/queries/requests_over_time?since=2025-03-10T00:00:00Z&until=2025-03-12T00:00:00Z&bucket=prod-data');
    expect(status).toBe(200);
    expect(body.columns.map((c) => c.name)).toEqual(['time', 'source', 'requests', 'errors', 'denied', 'bin_minutes']);
    expect(body.rows[0]?.bin_minutes).toBe(15);
    expect(body.rows.reduce((n, r) => n + (r.requests as number), 0)).toBe(await sql("SELECT count(*) AS n FROM s3_requests WHERE bucket = 'prod-data' AND event_time >= '2025-03-10' AND event_time < '2025-03-12'"));
    expect(body.rows.some((r) => (r.denied as number) > 0 && (r.errors as number) >= (r.denied as number))).toBe(true);
    expect(new Set(body.rows.map((r) => r.source))).toEqual(new Set(['access_log', 'cloudtrail']));
  });

  it('takes hostile values as values; refuses an unknown parameter; needs the token', async () => {
    for (const v of ["x' OR '1'='1", '%', '💥', 'a'.repeat(100_000)]) expect((await get(`/api/queries/requests_over_time?bucket=${encodeURIComponent(v)}`)).body.rows).toEqual([]);
    expect((await get('/api/queries/requests_over_time?bins=5')).status).toBe(400);
    expect((await get('/api/queries/requests_over_time', locked)).status).toBe(401);
    expect((await get('/api/queries/requests_over_time', locked, { authorization: 'Bearer s3cret' })).status).toBe(200);
  });
});

describe('presigned_use', () => {
  it('bins pre-signed requests as the timelines do: every one in the range once, with the longest expiry', async () => {
    const n = await sql("SELECT count(*) AS n FROM s3_requests WHERE auth_type = 'QueryString'");
    expect(n).toBeGreaterThan(0);
    const { status, body } = await get('/api/queries/presigned_use');
    expect(status).toBe(200);
    expect(body.columns.map((c) => c.name)).toEqual(['day', 'time', 'requests', 'longest_expiry_s', 'bin_minutes']);
    expect(new Set(body.rows.map((r) => r.bin_minutes)).size).toBe(1);
    expect(body.rows.reduce((t, r) => t + (r.requests as number), 0)).toBe(n);
    const longest = await sql("SELECT max(presigned_expires_s) AS n FROM s3_requests WHERE auth_type = 'QueryString'");
    expect(Math.max(...body.rows.map((r) => Number(r.longest_expiry_s ?? 0)))).toBe(longest);
    const narrow = (await get('/api/queries/presigned_use?bin_minutes=5')).body.rows;
    expect(narrow.every((r) => r.bin_minutes === 5 && /T\d\d:\d[05]:00\.000Z$/.test(r.time as string))).toBe(true);
    expect(narrow.reduce((t, r) => t + (r.requests as number), 0)).toBe(n);
  });
});
