/** Saved queries (`/api/queries`, `/api/queries/:name`): the dashboard's and Grafana's, answers kept until the dataset changes. */
import { Hono } from 'hono';
import type { DuckDBType, DuckDBValue } from '@duckdb/node-api';
import { respond } from '../answer.js';
import { MAX_BIN_MINUTES } from '../bins.js';
import { fail, intParam, paramValue, type Ctx } from '../context.js';
import { PARAM_TYPES, SAVED_QUERIES } from '../queries.js';
import type { QueryResult } from '../sandbox.js';

/** Most saved answers kept. */
const KEPT = 1000;

export function queriesRoutes({ sandbox, findings }: Ctx): Hono {
  const app = new Hono();
  // Saved queries answer the same thing until the dataset changes: keep their answers.
  const saved = new Map<string, QueryResult>();
  let savedStamp = findings.stamp;

  app.get('/api/queries', (c) => c.json({ ok: true, queries: SAVED_QUERIES.map(({ name, description, params }) => ({ name, description, params })) }));

  app.get('/api/queries/:name', async (c) => {
    const q = SAVED_QUERIES.find((x) => x.name === c.req.param('name'));
    if (!q) fail(404, `no saved query ${JSON.stringify(c.req.param('name').slice(0, 80))} (GET /api/queries lists them)`);
    const given = c.req.query();
    const unknown = Object.keys(given).filter((k) => !(k in q.params) && k !== 'csv');
    if (unknown.length) fail(400, `unknown parameter ${unknown.map((k) => JSON.stringify(k.slice(0, 60))).join(', ')} for ${q.name} (it takes ${Object.keys(q.params).join(', ') || 'none'})`);
    if ('bin_minutes' in q.params) intParam('bin_minutes', given.bin_minutes, 0, 1, MAX_BIN_MINUTES);
    await findings.get();
    if (findings.stamp !== savedStamp) {
      saved.clear();
      savedStamp = findings.stamp;
    }
    const values: Record<string, DuckDBValue> = {};
    const types: Record<string, DuckDBType> = {};
    for (const [k, p] of Object.entries(q.params)) {
      values[k] = paramValue(k, given[k], p.type);
      types[k] = PARAM_TYPES[p.type];
    }
    const key = `${q.name}?${Object.keys(q.params).map((k) => `${k}=${given[k] ?? ''}`).join('&')}`;
    let result = saved.get(key);
    if (!result) {
      // A 408 or an error throws past this line: only whole answers are kept.
      result = await sandbox.query(q.sql, values, { types, pool: 'internal' });
      if (saved.size >= KEPT) saved.delete(saved.keys().next().value as string);
      saved.set(key, result);
    }
    return respond(c, result);
  });

  return app;
}
