/** Buckets' security settings at a time, read from CloudTrail (`/api/posture`). */
import { Hono } from 'hono';
import { datasetReadError } from '../../query/dataset.js';
import { posture, SETTINGS } from '../../query/posture.js';
import { respond } from '../answer.js';
import { onlyParams, timeParam, type Ctx } from '../context.js';

const COLUMNS = [
  ['bucket', 'VARCHAR'], ['setting', 'VARCHAR'], ['value', 'VARCHAR'], ['known', 'BOOLEAN'], ['since', 'TIMESTAMP'], ['by', 'VARCHAR'], ['event_name', 'VARCHAR'], ['detail', 'JSON'],
  ['life', 'INTEGER'], ['deleted', 'TIMESTAMP'], ['deleted_by', 'VARCHAR'],
].map(([name, type]) => ({ name: name as string, type: type as string }));

export function postureRoutes({ sandbox, cfg, findings }: Ctx): Hono {
  const app = new Hono();

  app.get('/api/posture', async (c) => {
    const q = c.req.query();
    onlyParams(q, ['bucket', 'at', 'csv'], '/api/posture');
    const atMs = timeParam('at', q.at);
    const at = atMs === null ? new Date() : new Date(atMs);
    // The findings follow the dataset: CloudTrail ingested for the first time since the start is read.
    await findings.get();
    // A Parquet file that cannot be read is named (a DatasetError: 503), not an internal error.
    const buckets = await sandbox.withConnection((conn) => posture({ conn }, { bucket: q.bucket || undefined, at }).catch(async (err: unknown) => {
      throw (await datasetReadError({ conn, dir: cfg.data }, err)) ?? err;
    }));
    // Rows: one per bucket and setting (what CSV, NDJSON and Arrow carry), of the bucket's current life (for a deleted
    // bucket, as they were when it was deleted: `deleted` says when); the JSON adds the timeline, the windows and the lives.
    const rows = buckets.flatMap((b) => SETTINGS.map((n) => {
      const st = b.settings[n];
      return {
        bucket: b.bucket, setting: n, value: st?.value ?? null, known: st !== null, since: st?.since ?? null, by: st?.by ?? null, event_name: st?.event_name ?? null, detail: st?.detail ?? null,
        life: b.lives[b.lives.length - 1]?.life ?? null, deleted: b.deleted?.time ?? null, deleted_by: b.deleted?.principal ?? null,
      };
    }));
    const accept = c.req.header('accept') ?? '';
    if (/text\/csv|x-ndjson|arrow/.test(accept)) return respond(c, { columns: COLUMNS, rows, truncated: false });
    return c.json({
      ok: true, at: at.toISOString(), columns: COLUMNS, rows, truncated: false, windows: buckets.flatMap((b) => b.windows), timeline: buckets.flatMap((b) => b.timeline),
      lives: buckets.flatMap((b) => b.lives.map((l) => ({ bucket: b.bucket, ...l }))),
    });
  });

  return app;
}
