/**
 * Detection SQL as Athena engine v3 (Trino) runs it. Detections are written
 * in what both engines share plus Trino's own function names (DuckDB gets
 * those as macros, see ../dialect.ts), so what is left to change is small
 * and all here:
 * - `$name` parameters become typed, escaped literals (`10`, `DOUBLE '0.8'`,
 *   `'text'`, `ARRAY['a']`, `CAST(ARRAY[] AS ARRAY(VARCHAR))`). Athena takes
 *   `?` placeholders only in WHERE, and Trino compares two `?` by position,
 *   so the same window expression in SELECT and GROUP BY would not match;
 *   the values come from the library, the config or `--param`, never from
 *   the logs;
 * - `json_items(j)` (a JSON array's items, or a lone value as one item)
 *   becomes a CASE over `CAST(j AS ARRAY(JSON))`;
 * - `CAST(json AS VARCHAR)` becomes `json_format(json)` (Trino casts only JSON
 *   scalars to text);
 * - `x IS NOT FALSE` becomes `x IS DISTINCT FROM false`;
 * - a time window is a WITH clause whose queries shadow the tables
 *   (`access_log AS (SELECT * FROM "db"."access_log" WHERE ...)`), around the
 *   detection as a subquery, so any detection, with its own WITH or aliases,
 *   stays valid;
 * - `s3_requests_history` (the rows before the window) is a WITH query
 *   too, over the qualified table, its date partitions pruned to the
 *   detection's `lookback_days`;
 * - array-valued result columns are cast to JSON, so that findings have the
 *   same shape on both engines (Athena would return `[a, b]` as text).
 * DuckDB-only syntax (`QUALIFY`, `strptime`, `regexp_matches`,
 * `json_extract_string`, `//`) is kept out of detections; a test checks it.
 */
import { replaceParams, sqlIdentifier, sqlString, sqlTimestamp } from '../../common/sql.js';
import { dayText } from '../../common/time.js';
import { nativeFunctionIn } from '../dialect.js';
import { DetectionError } from '../../common/errors.js';
import type { ParamValue } from '../detection.js';
import { HISTORY } from '../views.js';

/** A list's item type where the list alone cannot tell (it is empty). */
export type ListItemType = 'VARCHAR' | 'DOUBLE';

/**
 * A value as a typed Trino literal: the type DuckDB binds it as (an integer
 * as INTEGER or BIGINT, any other number as DOUBLE), text with its quotes
 * doubled (Trino's string literals have no backslash escapes), a list as an
 * ARRAY of such literals (of DOUBLEs for a numeric list, which DuckDB binds
 * as DOUBLE[]), an empty one typed by `itemType`.
 */
export function literal(v: ParamValue, itemType: ListItemType = 'VARCHAR'): string {
  if (Array.isArray(v)) {
    if (v.length === 0) return `CAST(ARRAY[] AS ARRAY(${itemType}))`;
    return `ARRAY[${(v as Array<string | number>).map((x) => (itemType === 'DOUBLE' && typeof x === 'number' ? `DOUBLE ${sqlString(String(x))}` : literal(x))).join(', ')}]`;
  }
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new DetectionError(`a parameter value must be a finite number (got ${v})`);
    // A negative one in parentheses: `count(*)-$n` must not become `count(*)--5`, a comment.
    if (Number.isSafeInteger(v)) return v < 0 ? `(${v})` : String(v);
    return `DOUBLE ${sqlString(String(v))}`;
  }
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return sqlString(String(v));
}

/** Index of the parenthesis closing the one at `open`, skipping string literals. */
function closing(sql: string, open: number): number {
  let depth = 0;
  for (let i = open; i < sql.length; i++) {
    const c = sql[i];
    if (c === "'") {
      i = sql.indexOf("'", i + 1);
      while (sql[i + 1] === "'") i = sql.indexOf("'", i + 2);
      if (i < 0) return -1;
      continue;
    }
    if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  return -1;
}

/** Replace every `name(args)` call by `fn(args)`. */
function rewriteCalls(sql: string, name: string, fn: (args: string) => string): string {
  const re = new RegExp(`\\b${name}\\s*\\(`, 'gi');
  let out = '';
  let last = 0;
  for (let m = re.exec(sql); m; m = re.exec(sql)) {
    const open = m.index + m[0].length - 1;
    const close = closing(sql, open);
    if (close < 0) break;
    out += sql.slice(last, m.index) + fn(rewrite(sql.slice(open + 1, close)));
    last = close + 1;
    re.lastIndex = close + 1;
  }
  return out + sql.slice(last);
}

/** `CAST(<json expr> AS VARCHAR)` where the expression is a json_extract call. */
function rewriteJsonCasts(sql: string): string {
  return rewriteCalls(sql, 'CAST', (args) => {
    const m = /^\s*(json_extract\s*\([\s\S]*\))\s+AS\s+VARCHAR\s*$/i.exec(args);
    return m ? `json_format(${m[1]})` : `CAST(${args})`;
  });
}

function rewrite(sql: string): string {
  let s = rewriteCalls(sql, 'json_items', (j) => `(CASE WHEN (${j}) IS NULL THEN CAST(ARRAY[] AS ARRAY(JSON)) WHEN json_array_length(${j}) IS NOT NULL THEN CAST(${j} AS ARRAY(JSON)) ELSE ARRAY[${j}] END)`);
  s = rewriteJsonCasts(s);
  return s;
}

export interface AthenaWindow {
  /** The database the tables are in: the window's queries read them qualified. */
  database: string;
  since?: Date;
  until?: Date;
}

export interface RenderOptions {
  /** Restrict every table the detection reads to this time window. */
  window?: AthenaWindow;
  /**
   * The detection's result columns, in order, and which of them are arrays
   * (from DuckDB's plan of the same SQL: see shape.ts); those are cast to JSON.
   */
  columns?: ReadonlyArray<{ name: string; array: boolean }>;
  /** Item types of list parameters, for an empty list. */
  listTypes?: Record<string, ListItemType>;
}

const TABLES = ['access_log', 'cloudtrail', 's3_requests'] as const;

/**
 * The WITH queries that restrict each table `sql` reads to the window. The
 * Parquet tables' `date` partition (a string in Athena: see ddl.ts) prunes
 * whole days; s3_requests has the same `date` column, from both tables.
 */
export function windowQueries(sql: string, w: AthenaWindow): string[] {
  if (!w.since && !w.until) return [];
  const cond = [
    w.since ? `event_time >= ${sqlTimestamp(w.since)}` : '', w.until ? `event_time < ${sqlTimestamp(w.until)}` : '',
    w.since ? `"date" >= ${sqlString(dayText(w.since))}` : '', w.until ? `"date" <= ${sqlString(dayText(w.until))}` : '',
  ].filter(Boolean).join(' AND ');
  return TABLES.filter((t) => new RegExp(`\\b${t}\\b`, 'i').test(sql))
    .map((t) => `${t} AS (SELECT * FROM ${sqlIdentifier(w.database)}.${sqlIdentifier(t)} WHERE ${cond})`);
}

/**
 * The WITH query for `s3_requests_history`, when `sql` reads it: the rows
 * before the window's start, none without one (as on DuckDB). Its `date`
 * partitions are pruned to the detection's look-back (`lookback_days`, plus
 * a day: the detection bounds the rows itself), so Athena scans that, not
 * all the history.
 */
export function historyQuery(sql: string, w: Partial<AthenaWindow> | undefined, params: Record<string, ParamValue>): string | undefined {
  if (!new RegExp(`\\b${HISTORY}\\b`, 'i').test(sql)) return undefined;
  // Empty: the view as the query names it (the same text whatever the database, as a detection without a window).
  if (!w?.since) return `${HISTORY} AS (SELECT * FROM s3_requests WHERE false)`;
  const table = w.database ? `${sqlIdentifier(w.database)}.${sqlIdentifier('s3_requests')}` : 's3_requests';
  const days = params.lookback_days;
  const from = typeof days === 'number' && Number.isFinite(days) ? new Date(w.since.getTime() - (Math.max(0, days) + 1) * 86_400_000) : undefined;
  const cond = [`event_time < ${sqlTimestamp(w.since)}`, `"date" <= ${sqlString(dayText(w.since))}`, from ? `"date" >= ${sqlString(dayText(from))}` : ''].filter(Boolean).join(' AND ');
  return `${HISTORY} AS (SELECT * FROM ${table} WHERE ${cond})`;
}

/** Render a detection's SQL, with its parameter values, for Athena: one statement, no placeholders. */
export function renderForAthena(sql: string, params: Record<string, ParamValue>, o: RenderOptions = {}): string {
  const native = nativeFunctionIn(sql);
  if (native) throw new DetectionError(`runs on DuckDB only: it calls ${native}, s3sift's own policy evaluator, which Athena does not have`);
  let s = rewrite(sql).replace(/\bIS\s+NOT\s+FALSE\b/gi, 'IS DISTINCT FROM false');
  s = replaceParams(s, (name) => {
    const v = params[name];
    if (v === undefined) throw new DetectionError(`no value for $${name}`);
    return literal(v, o.listTypes?.[name]);
  });
  const history = historyQuery(sql, o.window, params);
  const withs = [...(o.window ? windowQueries(sql, o.window) : []), ...(history ? [history] : [])];
  const arrays = o.columns?.some((c) => c.array);
  if (!withs.length && !arrays) return s;
  const select = arrays && o.columns
    ? o.columns.map((c) => (c.array ? `CAST(${sqlIdentifier(c.name)} AS JSON) AS ${sqlIdentifier(c.name)}` : sqlIdentifier(c.name))).join(', ')
    : '*';
  return `${withs.length ? `WITH ${withs.join(',\n     ')}\n` : ''}SELECT ${select} FROM (\n${s}\n) AS detection_rows`;
}
