/**
 * The time limit on the whole of a query (preparing included), fairness
 * between user SQL and the dashboard, and the byte cap. Bounds on time are
 * generous: the point is the status and the order of answers.
 */
import { tableFromIPC } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../server/app.js';
import { samplesDataset } from './samples.js';

let tmp: { dir: string; data: string; cleanup: () => void };
let data: string;
let app: App;
let capped: App;
beforeAll(async () => {
  tmp = await samplesDataset();
  data = tmp.data;
  app = await createApp({ data, timeoutMs: 500, maxConcurrent: 2 });
  capped = await createApp({ data, timeoutMs: 20_000, byteCap: 64 * 1024, rowCap: 1000 });
}, 60_000);
afterAll(async () => {
  // Wait for DuckDB to let go of every connection (folded calls run to their end) before closing.
  await Promise.all([1, 2].map(() => post(app, 'SELECT 1')));
  app?.close();
  capped?.close();
  tmp?.cleanup();
}, 120_000);

function post(a: App, sql: string, headers: Record<string, string> = {}): Promise<Response> {
  return Promise.resolve(a.app.request('/api/query', { method: 'POST', body: JSON.stringify({ sql }), headers: { 'content-type': 'application/json', ...headers } }));
}

/** Work DuckDB does while it prepares the statement (constant folding): seconds, and interrupt() cannot stop it. */
const FOLDED = "SELECT levenshtein(repeat('a', 40000), repeat('b', 40000)) AS d";

describe('the time limit', () => {
  it('covers preparing: a statement whose constant folding runs for seconds is a 408 at the limit', async () => {
    const t0 = Date.now();
    const r = await post(app, FOLDED);
    expect(r.status).toBe(408);
    expect(await r.json()).toEqual({ ok: false, error: 'the query ran longer than 500 ms and was stopped', status: 408 });
    // Unbounded, the statement takes several seconds; the answer comes at the limit (bound generous for a loaded machine).
    expect(Date.now() - t0).toBeLessThan(4000);
  });

  it('keeps /health and the saved queries answering while user queries hold every user connection', async () => {
    const heavy = [1, 2, 3, 4].map(() => post(app, FOLDED));
    // Queued behind the folded statements: it runs only once DuckDB lets go of one of them.
    const queued = post(app, 'SELECT 42 AS answer').then((r) => ({ r, at: 'queued user query' }));
    const order: string[] = [];
    void queued.then(() => order.push('queued user query'));
    const health = await app.app.request('/health');
    order.push('health');
    const saved = await app.app.request('/api/queries/tls_versions?bucket=prod-data');
    order.push('saved query');
    const tables = await app.app.request('/api/tables');
    order.push('tables');
    expect([health.status, saved.status, tables.status]).toEqual([200, 200, 200]);
    expect(((await saved.json()) as { rows: unknown[] }).rows.length).toBeGreaterThan(0);
    const statuses = (await Promise.all(heavy)).map((r) => r.status);
    expect(statuses.every((s) => s === 408)).toBe(true);
    expect((await (await queued).r.json()) as unknown).toMatchObject({ ok: true, rows: [{ answer: 42 }] });
    // The dashboard's answers came while DuckDB was still busy with the user queries.
    expect(order.slice(0, 3)).toEqual(['health', 'saved query', 'tables']);
  }, 120_000);

  it('stops a query whose every row is slow (md5 of a long text per row) with a 408, never an empty success', async () => {
    const r = await post(app, "SELECT md5(repeat(i::VARCHAR, 5000)) AS h FROM range(100000000) t(i)");
    expect(r.status).toBe(408);
  }, 60_000);

  it('a saved query stopped at the time limit is a 408, and never an empty answer kept for the next caller', async () => {
    const tight = await createApp({ data, timeoutMs: 1 });
    try {
      for (let i = 0; i < 3; i++) {
        const r = await tight.app.request('/api/queries/buckets');
        const j = (await r.json()) as { ok: boolean; rows?: unknown[] };
        // Either stopped (408), or the whole answer: the samples have buckets.
        if (r.status === 408) expect(j.ok).toBe(false);
        else expect([r.status, (j.rows ?? []).length > 0]).toEqual([200, true]);
      }
    } finally {
      // The saved queries' connection comes back once DuckDB let go of it: then close.
      await tight.sandbox.withConnection(async () => {});
      tight.close();
    }
  });
});

describe('the byte cap', () => {
  it('stops an answer of large rows at the byte cap and says why, in every format', async () => {
    const sql = "SELECT i, repeat('x', 10000) AS s FROM range(400) t(i)";
    const r = await post(capped, sql);
    const text = await r.text();
    expect(Buffer.byteLength(text)).toBeLessThan(64 * 1024 + 1024);
    const j = JSON.parse(text) as { rows: Array<{ i: number }>; truncated: boolean; truncated_by: string };
    expect([j.truncated, j.truncated_by, j.rows.length]).toEqual([true, 'byte_cap', 6]);
    for (const accept of ['text/csv', 'application/x-ndjson', 'application/vnd.apache.arrow.stream']) {
      const f = await post(capped, sql, { accept });
      const body = new Uint8Array(await f.arrayBuffer());
      expect([accept, body.length < 64 * 1024 + 4096, f.headers.get('x-truncated'), f.headers.get('x-truncated-by')]).toEqual([accept, true, 'true', 'byte_cap']);
      if (accept.includes('arrow')) expect(tableFromIPC(body).numRows).toBe(6);
    }
  });

  it('says row_cap when the rows ran out first, and nothing when the answer is whole', async () => {
    const rows = (await (await post(capped, 'SELECT * FROM range(5000) t(i)')).json()) as { rows: unknown[]; truncated: boolean; truncated_by: string };
    expect([rows.rows.length, rows.truncated, rows.truncated_by]).toEqual([1000, true, 'row_cap']);
    const whole = (await (await post(capped, 'SELECT * FROM range(10) t(i)')).json()) as Record<string, unknown>;
    expect([whole.truncated, 'truncated_by' in whole]).toEqual([false, false]);
  });

  it('caps findings by bytes too', async () => {
    const small = await createApp({ data, byteCap: 2048 });
    try {
      const j = (await (await small.app.request('/api/findings')).json()) as { rows: unknown[]; truncated: boolean; truncated_by: string };
      expect([j.truncated, j.truncated_by]).toEqual([true, 'byte_cap']);
      expect(Buffer.byteLength(JSON.stringify(j.rows))).toBeLessThanOrEqual(2048);
    } finally {
      small.close();
    }
  });

  it('never answers two concurrent queries of 500 MB each with an empty success', async () => {
    const big = await createApp({ data, timeoutMs: 1000 });
    try {
      const sql = "SELECT repeat('x', 500000) AS s FROM range(1000)";
      const answers = await Promise.all([1, 2].map(() => post(big, sql)));
      for (const r of answers) {
        const j = (await r.json()) as { ok: boolean; rows?: unknown[]; truncated_by?: string; status?: number };
        // The whole first rows up to the default 4 MiB, or stopped at the limit: never `"rows":[]` with ok.
        if (r.status === 200) expect([j.rows?.length, j.truncated_by]).toEqual([8, 'byte_cap']);
        else expect([r.status, j.ok]).toEqual([408, false]);
      }
    } finally {
      await Promise.all([1, 2].map(() => post(big, 'SELECT 1')));
      big.close();
    }
  }, 60_000);

  it('bounds DuckDB\'s memory (--memory-limit-mb): a query whose rows take gigabytes stays within it, and the server answers on', async () => {
    const lean = await createApp({ data, timeoutMs: 20_000, memoryLimitMb: 256 });
    try {
      const limit = (await (await post(lean, "SELECT current_setting('memory_limit') AS m")).json()) as { rows: Array<{ m: string }> };
      expect(limit.rows[0]?.m).toMatch(/^(256\.0 MiB|268\.4 MB)$/);
      // Gigabytes of rows: DuckDB works within the limit (the answer stops at the byte cap) or fails for want of memory.
      const r = await post(lean, "SELECT repeat('x', 1000000) AS a FROM range(2048)");
      const j = (await r.json()) as { ok: boolean; error?: string; truncated_by?: string };
      if (r.status === 200) expect(j.truncated_by).toBe('byte_cap');
      else expect([r.status, j.ok, j.error]).toEqual([400, false, expect.stringMatching(/memory/i)]);
      expect((await lean.app.request('/health')).status).toBe(200);
      expect((await post(lean, 'SELECT 42 AS answer')).status).toBe(200);
    } finally {
      lean.close();
    }
  }, 60_000);
});
