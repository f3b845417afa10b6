/**
 * Detection SQL as Athena engine v3 (Trino) runs it. Detections are written
 * in what both engines share plus Trino's own function names (DuckDB gets
 * those as macros, see ../dialect.ts), so what is left to change is small
 * and all here:
 * - `$name` parameters become positional `?` (Athena's ExecutionParameters),
 *   lists are written inline as ARRAY[...] literals (Athena binds no arrays);
 * - `json_items(j)` (a JSON array's items, or a lone value as one item)
 *   becomes a CASE over `CAST(j AS ARRAY(JSON))`;
 * - `CAST(json AS VARCHAR)` becomes `json_format(json)` (Trino casts only JSON
 *   scalars to text);
 * - `x IS NOT FALSE` becomes `x IS DISTINCT FROM false`.
 * DuckDB-only syntax (`QUALIFY`, `strptime`, `regexp_matches`,
 * `json_extract_string`, `//`) is kept out of detections; a test checks it.
 */
import { replaceParams, sqlString } from '../../common/sql.js';
import { nativeFunctionIn } from '../dialect.js';
import { DetectionError } from '../../common/errors.js';
import type { ParamValue } from '../detection.js';

export interface AthenaSql {
  sql: string;
  /** Values for the `?` placeholders, in order, as Athena wants them (SQL literals). */
  parameters: string[];
}

/** A value as a Trino SQL literal. */
export function literal(v: ParamValue): string {
  if (Array.isArray(v)) return `ARRAY[${(v as Array<string | number>).map((x) => literal(x)).join(', ')}]`;
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : `DOUBLE '${v}'`;
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

/** Render a detection's SQL (with its parameter values) for Athena. */
export function renderForAthena(sql: string, params: Record<string, ParamValue>): AthenaSql {
  const native = nativeFunctionIn(sql);
  if (native) throw new DetectionError(`runs on DuckDB only: it calls ${native}, s3sift's own policy evaluator, which Athena does not have`);
  let s = rewrite(sql).replace(/\bIS\s+NOT\s+FALSE\b/gi, 'IS DISTINCT FROM false');
  const parameters: string[] = [];
  s = replaceParams(s, (name) => {
    const v = params[name];
    if (v === undefined) throw new Error(`no value for $${name}`);
    if (Array.isArray(v)) return literal(v);
    parameters.push(literal(v));
    return '?';
  });
  return { sql: s, parameters };
}
