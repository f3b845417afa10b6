import { nativeFunctionIn } from '../../query/dialect.js';
import { TrinoSQL } from 'dt-sql-parser';
import { describe, expect, it } from 'vitest';
import { renderForAthena } from '../../query/athena/render.js';
import { paramsFor } from '../../query/detect.js';
import { loadDetections } from '../../query/detection.js';
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
  'json_format', 'json_parse', 'least', 'length', 'lower', 'max', 'max_by', 'min', 'min_by', 'nullif', 'regexp_extract',
  'regexp_extract_all', 'regexp_like', 'regexp_replace', 'replace', 'round', 'slice', 'split', 'split_part', 'strpos',
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

describe('detections rendered for Athena (Trino)', () => {
  for (const d of library.filter((x) => !nativeFunctionIn(x.sql))) {
    it(`${d.id}: parses as Trino SQL and calls only Athena's functions`, () => {
      const { sql, parameters } = renderForAthena(d.sql, paramsFor(d));
      expect(trino.validate(sql).map((e) => e.message)).toEqual([]);
      expect(functionsOf(sql).filter((f) => !ATHENA_FUNCTIONS.has(f))).toEqual([]);
      expect(sql).not.toMatch(/\$[a-z_]|\bQUALIFY\b|\bregexp_matches\b|\bjson_extract_string\b|\bstrptime\b|\/\/|\bjson_items\b|IS NOT FALSE/i);
      expect(parameters.length).toBe((bare(sql).match(/\?/g) ?? []).length);
    });
  }

  it('refuses, saying why, a detection that calls s3sift\'s own policy evaluator', () => {
    const d = library.find((x) => x.id === 'bucket-policy-external-account');
    expect(() => renderForAthena(d?.sql as string, paramsFor(d as never))).toThrow(/runs on DuckDB only: it calls s3sift_policy_external_accounts, s3sift's own policy evaluator, which Athena does not have/);
  });

  it('renders the s3_requests view as Trino SQL too', () => {
    const sql = s3RequestsSql();
    expect(trino.validate(sql).map((e) => e.message)).toEqual([]);
    expect(functionsOf(sql).filter((f) => !ATHENA_FUNCTIONS.has(f))).toEqual([]);
  });
});

describe('renderForAthena', () => {
  it('turns parameters into positional ? with literal values, lists inline', () => {
    const r = renderForAthena("SELECT 1 FROM t WHERE a > $n AND b = $s AND contains($l, c) AND d < $n", { n: 5, s: "it's", l: ['x', "y'z"] });
    expect(r.sql).toBe("SELECT 1 FROM t WHERE a > ? AND b = ? AND contains(ARRAY['x', 'y''z'], c) AND d < ?");
    expect(r.parameters).toEqual(['5', "'it''s'", '5']);
  });

  it('rewrites json_items, casts of JSON to text, and IS NOT FALSE', () => {
    const r = renderForAthena("SELECT CAST(json_extract(j, '$.a') AS VARCHAR), CAST(x AS VARCHAR) FROM t CROSS JOIN UNNEST(json_items(json_extract(j, '$.s'))) AS s (v) WHERE m IS NOT FALSE", {});
    expect(r.sql).toContain("json_format(json_extract(j, '$.a'))");
    expect(r.sql).toContain('CAST(x AS VARCHAR)');
    expect(r.sql).toContain("CAST(json_extract(j, '$.s') AS ARRAY(JSON))");
    expect(r.sql).toContain('m IS DISTINCT FROM false');
  });
});
