/**
 * The pivot (`GET /api/pivot`): everything about one principal, address,
 * bucket or key: its requests over time per source, its top operations,
 * buckets, principals, addresses and keys, and the findings that involve
 * it. The value asked about is a bound parameter, never SQL text.
 */
import { BIGINT, DuckDBTimestampValue, TIMESTAMP, VARCHAR, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';
import { sqlIdentifier } from '../common/sql.js';
import { DENIED_SQL } from './queries.js';
import { BIN_STEPS, MAX_BIN_MINUTES, chooseBinMinutes } from './bins.js';
import { FINDINGS_TABLE_COLUMNS, STATUS_COLUMNS, fail, findingStatuses, intParam, onlyParams, timeParam, type Ctx } from './context.js';

export const PIVOT_KINDS = ['principal', 'source_ip', 'bucket', 'key'] as const;
type Kind = (typeof PIVOT_KINDS)[number];

/** The `top` lists: their name in the answer and their column of s3_requests. */
const TOPS: ReadonlyArray<[name: string, column: 'operation' | Kind]> = [
  ['operations', 'operation'], ['buckets', 'bucket'], ['principals', 'principal'], ['source_ips', 'source_ip'], ['keys', 'key'],
];

/** How many of each `top` list, and most findings listed. */
export const PIVOT_TOP = 10;
export const PIVOT_FINDINGS = 200;


export async function pivot(ctx: Ctx, q: Record<string, string>): Promise<Record<string, unknown>> {
  onlyParams(q, ['kind', 'value', 'bucket', 'since', 'until', 'bin_minutes'], '/api/pivot');
  const kind = q.kind as Kind;
  if (!kind) fail(400, `kind: give one of ${PIVOT_KINDS.join(', ')}`);
  if (!PIVOT_KINDS.includes(kind)) fail(400, `kind must be one of ${PIVOT_KINDS.join(', ')} (got ${JSON.stringify(kind.slice(0, 40))})`);
  if (q.value === undefined || q.value === '') fail(400, `value: give the ${kind} to pivot on`);
  if (kind === 'key' && !q.bucket) fail(400, 'kind=key needs bucket= too: a key names an object only within its bucket');
  if (kind === 'bucket' && q.bucket && q.bucket !== q.value) fail(400, 'kind=bucket takes the bucket as value; bucket= would be another bucket');
  const since = timeParam('since', q.since);
  const until = timeParam('until', q.until);
  const binGiven = q.bin_minutes ? intParam('bin_minutes', q.bin_minutes, 0, 1, MAX_BIN_MINUTES) : null;

  // First the findings: they follow the dataset (a table ingested into for the first time since the start is read).
  const all = await ctx.findings.get();
  // The filter: column names are ours, every value a bound parameter.
  const params: Record<string, DuckDBValue> = { value: q.value };
  const types: Record<string, DuckDBType> = { value: VARCHAR };
  const where = [`${sqlIdentifier(kind)} = $value`];
  if (q.bucket) {
    params.bucket = q.bucket;
    types.bucket = VARCHAR;
    where.push('bucket = $bucket');
  }
  if (since !== null) {
    params.since = new DuckDBTimestampValue(BigInt(since) * 1000n);
    types.since = TIMESTAMP;
    where.push('event_time >= $since');
  }
  if (until !== null) {
    params.until = new DuckDBTimestampValue(BigInt(until) * 1000n);
    types.until = TIMESTAMP;
    where.push('event_time < $until');
  }
  const w = where.join(' AND ');
  const run = (sql: string, extra: Record<string, DuckDBValue> = {}, extraTypes: Record<string, DuckDBType> = {}) =>
    ctx.sandbox.query(sql, { ...params, ...extra }, { types: { ...types, ...extraTypes }, pool: 'internal' });

  const span = (await run(`SELECT min(event_time) AS first_seen, max(event_time) AS last_seen, count(*) AS requests FROM s3_requests WHERE ${w}`)).rows[0] ?? {};
  const first = typeof span.first_seen === 'string' ? Date.parse(span.first_seen) : null;
  const last = typeof span.last_seen === 'string' ? Date.parse(span.last_seen) : null;
  // Bins follow the range asked about, else the pivot's own span.
  const from = since ?? first;
  const to = until ?? last;
  const binMinutes = binGiven ?? (from !== null && to !== null ? chooseBinMinutes(to - from) : (BIN_STEPS[BIN_STEPS.length - 1] as number));

  const activity = await run(
    `SELECT time_bucket(to_minutes($bin), event_time) AS time, source, count(*) AS requests, count(error_code) AS errors, count(*) FILTER (WHERE ${DENIED_SQL}) AS denied
     FROM s3_requests WHERE ${w} AND event_time IS NOT NULL GROUP BY ALL ORDER BY time, source`, { bin: binMinutes }, { bin: BIGINT });
  const top: Record<string, unknown> = {};
  for (const [name, column] of TOPS) {
    if (column === kind) continue;
    const col = sqlIdentifier(column);
    // A key names an object only within its bucket: top keys are (bucket, key) pairs, so each links to its own pivot.
    const cols = column === 'key' ? `bucket, ${col}` : `${col} AS ${col}`;
    top[name] = (await run(`SELECT ${cols}, count(*) AS requests FROM s3_requests WHERE ${w} GROUP BY ALL ORDER BY requests DESC, ${col} NULLS LAST, 1 NULLS LAST LIMIT ${PIVOT_TOP}`)).rows;
  }

  const involved = all.filter((f) => {
    const t = f.event_time ? Date.parse(f.event_time) : null;
    return f[kind] === q.value && (!q.bucket || f.bucket === q.bucket) && (since === null || (t !== null && t >= since)) && (until === null || (t !== null && t < until));
  }).sort((a, b) => (b.event_time ?? '').localeCompare(a.event_time ?? '') || a.finding_id.localeCompare(b.finding_id));
  const { rows } = await findingStatuses(ctx.cfg.data, involved.slice(0, PIVOT_FINDINGS));
  return {
    kind, value: q.value, ...(q.bucket ? { bucket: q.bucket } : {}),
    activity: { columns: activity.columns, rows: activity.rows, truncated: activity.truncated },
    bin_minutes: binMinutes,
    top,
    findings: { columns: [...FINDINGS_TABLE_COLUMNS, ...STATUS_COLUMNS], rows, total: involved.length, truncated: involved.length > PIVOT_FINDINGS },
    requests: Number(span.requests ?? 0),
    first_seen: span.first_seen ?? null,
    last_seen: span.last_seen ?? null,
  };
}
