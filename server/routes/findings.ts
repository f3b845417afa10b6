/**
 * The findings: the detection library (`/api/detections`), the findings list
 * with filters and paging (`/api/findings`), one finding's evidence
 * (`/api/findings/:finding_id`) and the pivot on a principal, address,
 * bucket or key (`/api/pivot`).
 */
import { Hono } from 'hono';
import { SEVERITIES, type Finding, type Severity } from '../../query/finding.js';
import { STATUSES } from '../../query/findings-state.js';
import { suppressionJson } from '../../query/suppress.js';
import { respond } from '../answer.js';
import { capRows } from '../budget.js';
import { FINDINGS_TABLE_COLUMNS, STATUS_COLUMNS, fail, findingStatuses, intParam, onlyParams, timeParam, type Ctx } from '../context.js';
import { evidence } from '../evidence.js';
import { pivot } from '../pivot.js';

/** What /api/findings sorts by (a finding field each). */
export const FINDING_SORTS = ['event_time', 'last_time', 'severity', 'detection_id', 'bucket', 'principal', 'count'] as const;
type Sort = (typeof FINDING_SORTS)[number];

/** The query parameters /api/findings takes (`csv` is the answer format's, answer.ts). */
export const FINDINGS_PARAMS = ['detection', 'severity', 'since', 'until', 'bucket', 'principal', 'source_ip', 'status', 'q', 'sort', 'order', 'limit', 'offset', 'as_of', 'csv'] as const;

/** How many findings one page holds when `limit` is not given (at most the row cap). */
export const DEFAULT_FINDINGS_LIMIT = 100;

/** Compare two values of a sort column; null sorts after every value, whatever the order. */
function compareBy(sort: Sort, desc: boolean): (a: Finding, b: Finding) => number {
  const key = (f: Finding): string | number | null => {
    if (sort === 'severity') return SEVERITIES.indexOf(f.severity);
    if (sort === 'event_time' || sort === 'last_time') return f[sort] ? Date.parse(f[sort] as string) : null;
    return (f[sort] as string | number | null) ?? null;
  };
  return (a, b) => {
    const x = key(a);
    const y = key(b);
    if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1;
    const c = x < y ? -1 : x > y ? 1 : 0;
    return desc ? -c : c;
  };
}

export function findingsRoutes(ctx: Ctx): Hono {
  const { cfg, opts, findings, detections } = ctx;
  const app = new Hono();

  app.get('/api/detections', (c) =>
    c.json({
      ok: true,
      detections: detections.map((d) => ({ id: d.id, title: d.title, description: d.description.trim(), severity: d.severity, sources: d.sources, tags: d.tags, references: d.references, params: d.params })),
    }),
  );

  app.get('/api/findings', async (c) => {
    const q = c.req.query();
    onlyParams(q, FINDINGS_PARAMS, '/api/findings');
    const ids = q.detection ? q.detection.split(',') : [];
    const unknown = ids.filter((id) => !detections.some((d) => d.id === id));
    if (unknown.length) fail(400, `detection: unknown ${unknown.map((x) => JSON.stringify(x.slice(0, 80))).join(', ')}`);
    const since = timeParam('since', q.since);
    const until = timeParam('until', q.until);
    let minSeverity: Severity | null = null;
    if (q.severity) {
      if (!(SEVERITIES as readonly string[]).includes(q.severity)) fail(400, `severity must be one of ${SEVERITIES.join(', ')}`);
      minSeverity = q.severity as Severity;
    }
    const statuses = q.status ? q.status.split(',') : [];
    const badStatus = statuses.filter((s) => !(STATUSES as readonly string[]).includes(s));
    if (badStatus.length) fail(400, `status must be one or more of ${STATUSES.join(', ')} (comma-separated)`);
    const sort = (q.sort || 'event_time') as Sort;
    if (!FINDING_SORTS.includes(sort)) fail(400, `sort must be one of ${FINDING_SORTS.join(', ')}`);
    const order = q.order || 'desc';
    if (order !== 'asc' && order !== 'desc') fail(400, 'order must be asc or desc');
    const limit = intParam('limit', q.limit, Math.min(DEFAULT_FINDINGS_LIMIT, opts.rowCap), 1, opts.rowCap, ` (the server's row cap, --row-cap; page with offset)`);
    const offset = intParam('offset', q.offset, 0, 0, Number.MAX_SAFE_INTEGER);
    const needle = q.q ? q.q.toLowerCase() : null;
    const text = (v: unknown): boolean => typeof v === 'string' && v.toLowerCase().includes(needle as string);

    const all = await findings.get();
    // Which findings these are (the dataset's manifest when they were computed): a page asked for with the as_of of an
    // earlier page, after an ingest changed them, would skip or repeat findings; refuse it instead.
    const asOf = findings.stamp;
    if (q.as_of && q.as_of !== asOf) fail(409, 'as_of: the findings changed since that page (the dataset was ingested into): page again from offset 0');
    // What the filters of the detections' runs judge (time, detection, severity, bucket, principal, address, text):
    // the suppressed events are counted by these too. Status is the state's, not the event's.
    const isAsked = (f: Finding): boolean => {
      const t = f.event_time ? Date.parse(f.event_time) : null;
      return (!ids.length || ids.includes(f.detection_id)) && (since === null || (t !== null && t >= since)) && (until === null || (t !== null && t < until)) &&
        (minSeverity === null || SEVERITIES.indexOf(f.severity) >= SEVERITIES.indexOf(minSeverity)) &&
        (!q.bucket || f.bucket === q.bucket) && (!q.principal || f.principal === q.principal) && (!q.source_ip || f.source_ip === q.source_ip) &&
        (needle === null || [f.title, f.detection_id, f.bucket, f.principal, f.key].some(text));
    };
    const picked = all.filter(isAsked);
    // Each finding's status in the findings state (s3sift findings): open until someone acknowledges or resolves it.
    const { rows: withStatus, stateRead } = await findingStatuses(cfg.data, picked);
    // Asked for a status the state cannot tell: refuse rather than answer "none" (an unreadable state is not "no findings").
    if (statuses.length && !stateRead) fail(503, `status: the findings state (${cfg.data}/findings/state.json) cannot be read, so no finding's status is known; try without status`);
    const matching = (statuses.length ? withStatus.filter((f) => statuses.includes(f.status as string)) : withStatus)
      .sort((a, b) => compareBy(sort, order === 'desc')(a, b) || (a.finding_id < b.finding_id ? -1 : a.finding_id > b.finding_id ? 1 : 0));
    const total = matching.length;
    const page = matching.slice(offset, offset + limit);
    // The byte cap may stop a page short of its limit: `more` and `next_offset` then point at the first row left out.
    const kept = capRows(page as unknown as Array<Record<string, unknown>>, opts.rowCap, opts.byteCap);
    const nextOffset = offset + kept.rows.length < total ? offset + kept.rows.length : null;
    const more = nextOffset !== null;
    // Cut by the byte cap, or by a limit that is the row cap: say which (a smaller limit is the client's own choice; `more` says rows remain).
    const truncatedBy = kept.truncatedBy ?? (more && limit === opts.rowCap ? 'row_cap' : undefined);
    // The config's suppress rules: the events they silenced among those asked for are counted (x-suppressed, and "suppressed" in JSON), not listed.
    const suppression = { ...findings.suppression, suppressed: findings.suppression.suppressed.filter((x) => isAsked(x.finding)) };
    // Coverage is the whole dataset's (no time window), for the detections asked for: by id and severity.
    const coverage = findings.coverage.filter((g) => {
      const d = detections.find((x) => x.id === g.detection_id);
      return (!ids.length || ids.includes(g.detection_id)) && (minSeverity === null || (d !== undefined && SEVERITIES.indexOf(d.severity) >= SEVERITIES.indexOf(minSeverity)));
    });
    const notChecked = String(new Set(coverage.map((g) => g.detection_id)).size);
    const headers: Record<string, string> = { 'x-not-checked': notChecked, 'x-suppressed': String(suppression.suppressed.length), 'x-total-count': String(total) };
    if (nextOffset !== null) {
      const next = new URL(c.req.url);
      next.searchParams.set('offset', String(nextOffset));
      if (!next.searchParams.has('limit')) next.searchParams.set('limit', String(limit));
      next.searchParams.set('as_of', asOf);
      headers.link = `<${next.pathname}${next.search}>; rel="next"`;
    }
    return respond(c, { columns: [...FINDINGS_TABLE_COLUMNS, ...STATUS_COLUMNS], rows: kept.rows, truncated: more, ...(more && truncatedBy ? { truncatedBy } : {}) },
      { json: { coverage, suppressed: suppressionJson(suppression, false), total, offset, limit, more, next_offset: nextOffset, as_of: asOf }, headers });
  });

  app.get('/api/findings/:finding_id', async (c) => {
    onlyParams(c.req.query(), [], `/api/findings/:finding_id`);
    const id = c.req.param('finding_id');
    const f = (await findings.get()).find((x) => x.finding_id === id);
    if (!f) fail(404, `no current finding has the ID ${JSON.stringify(id.slice(0, 80))} (GET /api/findings lists them)`);
    const [withStatus] = (await findingStatuses(cfg.data, [f])).rows;
    const d = detections.find((x) => x.id === f.detection_id);
    return c.json({
      ok: true,
      finding: withStatus,
      detection: d ? { id: d.id, title: d.title, description: d.description.trim(), severity: d.severity, sources: d.sources, tags: d.tags, references: d.references, params: d.params } : null,
      ...(await evidence(ctx, f)),
    });
  });

  app.get('/api/pivot', async (c) => c.json({ ok: true, ...(await pivot(ctx, c.req.query())) }));

  return app;
}
