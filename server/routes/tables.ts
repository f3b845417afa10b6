/** The tables and their row counts (`/api/tables`), and user SQL in the sandbox (`POST /api/query`). */
import { Hono } from 'hono';
import type { DuckDBValue } from '@duckdb/node-api';
import { TABLES } from '../../ingest/schema.js';
import { respond } from '../answer.js';
import { fail, type Ctx } from '../context.js';

export function tablesRoutes({ sandbox, findings }: Ctx): Hono {
  const app = new Hono();

  app.get('/api/tables', async (c) => {
    // The findings follow the dataset: a table ingested into for the first time since the start is read (and the findings table is current).
    await findings.get();
    const counts = await sandbox.withConnection(async (conn) => {
      const out: Record<string, number> = {};
      for (const t of [...TABLES.map((x) => x.name), 's3_requests']) {
        out[t] = Number((await conn.runAndReadAll(`SELECT count(*)::DOUBLE FROM ${t}`)).getRows()[0]?.[0] ?? 0);
      }
      return out;
    });
    const tables = TABLES.map((t) => ({ name: t.name, doc: t.doc, rows: counts[t.name], columns: t.columns.map((x) => ({ name: x.name, type: x.type, doc: x.doc })) }));
    return c.json({ ok: true, tables: [...tables, { name: 's3_requests', doc: 'Both sources in one shape (a view).', rows: counts.s3_requests }] });
  });

  app.post('/api/query', async (c) => {
    // Not a form's type: a page of another site cannot send JSON here without a CORS preflight, which this server never grants.
    const type = (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/json') fail(415, `send the query as Content-Type: application/json (got ${type ? type : 'none'})`);
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      fail(400, 'the body must be JSON: {"sql": "SELECT ...", "params": {...}}');
    }
    const { sql, params } = (body ?? {}) as { sql?: unknown; params?: unknown };
    if (typeof sql !== 'string') fail(400, 'sql: give one SELECT statement as text');
    if (params !== undefined && (typeof params !== 'object' || params === null || Array.isArray(params))) fail(400, 'params must be an object of name: value');
    const values: Record<string, DuckDBValue> = {};
    for (const [k, v] of Object.entries((params ?? {}) as Record<string, unknown>)) {
      if (!(v === null || ['string', 'number', 'boolean'].includes(typeof v))) fail(400, `params.${k}: a text, number, boolean or null`);
      values[k] = v as DuckDBValue;
    }
    await findings.get();
    return respond(c, await sandbox.query(sql, values));
  });

  return app;
}
