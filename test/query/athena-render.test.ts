import { nativeFunctionIn } from '../../query/dialect.js';
import { TrinoSQL } from 'dt-sql-parser';
import { describe, expect, it } from 'vitest';
import { renderForAthena, windowQueries } from '../../query/athena/render.js';
import { athenaCoverageStatements, athenaStatements } from '../../query/athena/run.js';
import { paramsFor } from '../../query/detect.js';
import { loadDetections, type Detection, type ParamValue } from '../../query/detection.js';
import { s3RequestsSql } from '../../query/views.js';

const library = await loadDetections();
const trino = new TrinoSQL();

/**
 * Functions of Athena engine v3 (Trino) that s3sift's SQL may call.
 * https://docs.aws.amazon.com/athena/latest/ug/functions-env3.html, https://trino.io/docs/current/functions/list.html
 */
const ATHENA_FUNCTIONS = new Set([
  'abs', 'any_match', 'approx_distinct', 'arbitrary', 'array_agg', 'array_join', 'array_sort', 'avg', 'cardinality', 'coalesce', 'concat',
  'contains', 'count', 'date_add', 'date_diff', 'date_format', 'date_parse', 'date_trunc', 'element_at', 'floor', 'format',
  'from_iso8601_timestamp', 'from_unixtime', 'greatest', 'if', 'json_array_length', 'json_extract', 'json_extract_scalar',
  'json_format', 'json_parse', 'lag', 'lead', 'least', 'length', 'lower', 'max', 'max_by', 'min', 'min_by', 'nullif', 'regexp_extract',
  'regexp_extract_all', 'regexp_like', 'regexp_replace', 'replace', 'round', 'row_number', 'slice', 'split', 'split_part', 'strpos',
  'substr', 'sum', 'to_unixtime', 'trim', 'upper', 'url_decode',
]);
/** Words followed by `(` that are syntax, not functions. */
const SYNTAX = new Set(['cast', 'try_cast', 'in', 'as', 'exists', 'unnest', 'array', 'values', 'over', 'and', 'or', 'not', 'from', 'join', 'on', 'where', 'select', 'with', 'filter', 'when', 'then', 'else', 'by', 'lateral', 'row', 'interval']);

/** The SQL without string literals, quoted identifiers and comments. */
const bare = (sql: string): string => sql.replace(/'(?:[^']|'')*'/g, "''").replace(/"[^"]*"/g, '""').replace(/--[^\n]*/g, '');

function functionsOf(sql: string): string[] {
  const s = bare(sql)
    .replace(/\bAS\s+[a-zA-Z_]\w*\s*\(/gi, 'AS alias ') // AS s (stmt): a table alias with its columns
    .replace(/\b[a-zA-Z_]\w*\s*\([^()]*\)\s+AS\s*\(/gi, 'cte AS ('); // ops (op, ...) AS (: a CTE with its columns
  return [...new Set([...s.matchAll(/\b([a-zA-Z_][a-zA-Z0-9_]*)\s*\(/g)].map((m) => (m[1] as string).toLowerCase()))].filter((f) => !SYNTAX.has(f));
}

/** A value of each parameter other than its default, of the same type (an empty list where the default has items). */
function otherParams(d: Detection): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, spec] of Object.entries(d.params)) {
    const v = spec.default as ParamValue;
    const key = `${d.id}.${name}`;
    if (typeof v === 'number') out[key] = String(Number.isInteger(v) ? v * 2 + 1 : v / 2);
    else if (typeof v === 'boolean') out[key] = String(!v);
    else if (Array.isArray(v)) out[key] = v.length ? '' : '111122223333,444455556666';
    else out[key] = `${v}'x`;
  }
  return out;
}

const WINDOW = { database: 'sec_db', since: new Date('2025-03-10T00:00:00Z'), until: new Date('2025-03-12T12:00:00Z') };
const runnable = library.filter((x) => !nativeFunctionIn(x.sql));
const variants: Array<[string, Map<string, string | Error>]> = [
  ['defaults, no window', await athenaStatements(runnable, { database: 'sec_db' })],
  ['a window', await athenaStatements(runnable, WINDOW)],
  ['other parameter values and a window', await athenaStatements(runnable, WINDOW, Object.assign({}, ...runnable.map(otherParams)) as Record<string, string>)],
];

// The coverage queries of the same runs (athenaCoverageStatements): which tables hold rows, each detection's coverage SQL.
const coverageVariants = [
  ['defaults, no window', await athenaCoverageStatements(runnable, { database: 'sec_db' })],
  ['a window', await athenaCoverageStatements(runnable, WINDOW)],
  ['other parameter values and a window', await athenaCoverageStatements(runnable, WINDOW, Object.assign({}, ...runnable.map(otherParams)) as Record<string, string>)],
] as const;

/**
 * `sql`, rendered from `source` for one variant, is what Athena takes: valid
 * Trino, its functions only, values written in, and with a window every table
 * `source` reads shadowed by a WITH query over the qualified table.
 */
function expectAthenaSql(variant: string, sql: string | Error | undefined, source: string): void {
  expect(typeof sql, `${variant}: ${String(sql)}`).toBe('string');
  const text = sql as string;
  expect([variant, trino.validate(text).map((e) => e.message)]).toEqual([variant, []]);
  expect([variant, functionsOf(text).filter((f) => !ATHENA_FUNCTIONS.has(f))]).toEqual([variant, []]);
  expect(text).not.toMatch(/\$[a-z_]|\bQUALIFY\b|\bregexp_matches\b|\bjson_extract_string\b|\bstrptime\b|\/\/|\bjson_items\b|IS NOT FALSE/i);
  // Athena takes ? only in WHERE, and Trino compares two ? by position: values are written in.
  expect(bare(text)).not.toContain('?');
  // An UNNEST item is JSON on Trino, whose CAST to VARCHAR takes scalars only: json_format it.
  for (const [, alias, column] of text.matchAll(/\bUNNEST\([^]*?\)\s+AS\s+(\w+)\s*\((\w+)\)/gi)) {
    expect([variant, text]).not.toEqual([variant, expect.stringMatching(new RegExp(`CAST\\(\\s*${alias}\\.${column}\\s+AS\\s+VARCHAR\\)`, 'i'))]);
  }
  // 1.0 is a DECIMAL on Trino, whose avg() and division keep its scale (avg of 1.0s and 0.0s: 0.8 for 0.75),
  // where DuckDB computes a DOUBLE: detections write doubles as 1e0.
  expect(bare(source)).not.toMatch(/(?<![\w.])\d+\.\d+(?![\d.e])/i);
  if (variant !== 'defaults, no window') {
    // Every table it reads is shadowed by a WITH query over the qualified table, restricted to the window and its date partitions.
    for (const t of ['access_log', 'cloudtrail', 's3_requests'].filter((x) => new RegExp(`\\b${x}\\b`).test(bare(source)))) {
      expect(text).toContain(`${t} AS (SELECT * FROM "sec_db"."${t}" WHERE event_time >= TIMESTAMP '2025-03-10 00:00:00.000' AND event_time < TIMESTAMP '2025-03-12 12:00:00.000' AND "date" >= '2025-03-10' AND "date" <= '2025-03-12')`);
    }
    expect(bare(text)).not.toMatch(/\)\s+(access_log|cloudtrail|s3_requests)\s+[a-z]\b/); // no FROM (...) t alias: a double alias
  }
}

describe("detections rendered for Athena (Trino), checked against Athena's and Trino's documented rules", () => {
  for (const d of runnable) {
    it(`${d.id}: valid Trino, Athena's functions only, no placeholders, windows over qualified tables`, () => {
      for (const [variant, statements] of variants) {
        expectAthenaSql(variant, statements.get(d.id), d.sql);
      }
    });
  }

  for (const d of runnable.filter((x) => x.coverage !== undefined)) {
    it(`${d.id}: its coverage SQL too`, () => {
      for (const [variant, statements] of coverageVariants) {
        expectAthenaSql(variant, statements.detections.get(d.id), d.coverage as string);
      }
    });
  }

  it('asks which tables hold rows in valid Trino, over the window', () => {
    for (const [variant, statements] of coverageVariants) {
      const text = statements.sources as string;
      expect([variant, trino.validate(text).map((e) => e.message)]).toEqual([variant, []]);
      expect([variant, functionsOf(text).filter((f) => !ATHENA_FUNCTIONS.has(f))]).toEqual([variant, []]);
      if (variant !== 'defaults, no window') expect(text).toMatch(/^WITH access_log AS \(SELECT \* FROM "sec_db"\."access_log" WHERE event_time >= /);
    }
  });

  it('names every result column plainly, so Trino and DuckDB call it the same (no count_star() against _col0)', async () => {
    const { resultShapes } = await import('../../query/athena/shape.js');
    const shapes = await resultShapes(runnable, (d) => paramsFor(d), () => ({}));
    for (const d of runnable) {
      const cols = shapes.get(d.id);
      expect(Array.isArray(cols), d.id).toBe(true);
      expect([d.id, (cols as Array<{ name: string }>).map((c) => c.name).filter((n) => !/^[a-z_][a-z0-9_]*$/.test(n))]).toEqual([d.id, []]);
    }
  });

  it('refuses, saying why, a detection that calls s3sift\'s own policy evaluator', async () => {
    const d = library.find((x) => x.id === 'bucket-policy-external-account') as Detection;
    expect(() => renderForAthena(d.sql, paramsFor(d))).toThrow(/runs on DuckDB only: it calls s3sift_policy_external_accounts, s3sift's own policy evaluator, which Athena does not have/);
    expect(String((await athenaStatements([d], { database: 'x' })).get(d.id))).toMatch(/runs on DuckDB only/);
  });

  it('renders the s3_requests view as Trino SQL too', () => {
    for (const sql of [s3RequestsSql(), s3RequestsSql('sec_db')]) {
      expect(trino.validate(sql).map((e) => e.message)).toEqual([]);
      expect(functionsOf(sql).filter((f) => !ATHENA_FUNCTIONS.has(f))).toEqual([]);
    }
  });

  it('casts array-valued result columns to JSON, so findings have the same shape on both engines', () => {
    const d = library.find((x) => x.id === 'mass-delete') as Detection;
    const sql = variants[0]?.[1].get(d.id) as string;
    expect(sql).toMatch(/CAST\("buckets" AS JSON\) AS "buckets"/);
    expect(sql).toMatch(/\) AS detection_rows$/);
  });
});

describe('renderForAthena', () => {
  it('writes parameters in as typed, escaped literals', () => {
    const sql = renderForAthena("SELECT $n AS n, $x FROM t WHERE a > $n AND b = $s AND contains($l, c) AND contains($e, c) AND contains($m, d) AND f = $b", {
      n: 5, x: 0.8, s: "it's \\ -- not a comment", l: ['x', "y'z"], e: [], m: [], b: false,
    }, { listTypes: { e: 'VARCHAR', m: 'DOUBLE' } });
    expect(sql).toBe("SELECT 5 AS n, DOUBLE '0.8' FROM t WHERE a > 5 AND b = 'it''s \\ -- not a comment' AND contains(ARRAY['x', 'y''z'], c) AND contains(CAST(ARRAY[] AS ARRAY(VARCHAR)), c) AND contains(CAST(ARRAY[] AS ARRAY(DOUBLE)), d) AND f = false");
    expect(renderForAthena('SELECT contains($l, 2)', { l: [1, 2.5] }, { listTypes: { l: 'DOUBLE' } })).toBe("SELECT contains(ARRAY[DOUBLE '1', DOUBLE '2.5'], 2)");
    expect(renderForAthena('SELECT count(*)-$n FROM t', { n: -5 })).toBe('SELECT count(*)-(-5) FROM t'); // not --5, a comment
    expect(() => renderForAthena('SELECT $missing', {})).toThrow(/no value for \$missing/);
    expect(() => renderForAthena('SELECT $n', { n: Number.NaN })).toThrow(/finite number/);
  });

  it('rewrites json_items, casts of JSON to text, and IS NOT FALSE', () => {
    const sql = renderForAthena("SELECT CAST(json_extract(j, '$.a') AS VARCHAR), CAST(x AS VARCHAR) FROM t CROSS JOIN UNNEST(json_items(json_extract(j, '$.s'))) AS s (v) WHERE m IS NOT FALSE", {});
    expect(sql).toContain("json_format(json_extract(j, '$.a'))");
    expect(sql).toContain('CAST(x AS VARCHAR)');
    expect(sql).toContain("CAST(json_extract(j, '$.s') AS ARRAY(JSON))");
    expect(sql).toContain('m IS DISTINCT FROM false');
  });

  it('keeps a detection with its own WITH and aliased tables valid under a window', () => {
    const sql = renderForAthena('WITH o AS (SELECT bucket FROM cloudtrail c) SELECT r.bucket FROM s3_requests r JOIN o ON o.bucket = r.bucket', {}, { window: { database: 'db', since: new Date('2025-03-11T00:00:00Z') } });
    expect(sql).toBe(`WITH cloudtrail AS (SELECT * FROM "db"."cloudtrail" WHERE event_time >= TIMESTAMP '2025-03-11 00:00:00.000' AND "date" >= '2025-03-11'),
     s3_requests AS (SELECT * FROM "db"."s3_requests" WHERE event_time >= TIMESTAMP '2025-03-11 00:00:00.000' AND "date" >= '2025-03-11')
SELECT * FROM (
WITH o AS (SELECT bucket FROM cloudtrail c) SELECT r.bucket FROM s3_requests r JOIN o ON o.bucket = r.bucket
) AS detection_rows`);
    expect(trino.validate(sql).map((e) => e.message)).toEqual([]);
    expect(windowQueries('SELECT 1 FROM access_log', { database: 'db' })).toEqual([]);
  });
});
