import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DUCKDB_MACROS, installDialect } from '../../query/dialect.js';

/**
 * The Trino functions detections call, on DuckDB through query/dialect.ts,
 * against Trino's documented results (https://trino.io/docs/current/functions.html):
 * the expected values below are what Athena engine v3 returns. NULL on no
 * match, 1-based indexes, JSON scalars versus objects, empty inputs.
 */
const CASES: ReadonlyArray<[sql: string, trino: unknown]> = [
  // regexp_extract: the first match, or a group of it; NULL when nothing matches (DuckDB's own: '').
  ["regexp_extract('1a 2b 14m', '\\d+')", '1'],
  ["regexp_extract('1a 2b 14m', '(\\d+)([a-z]+)', 2)", 'a'],
  ["regexp_extract('AmazonS3', '^arn:aws[a-z-]*:(?:iam|sts)::([0-9]{12}):', 1)", null],
  ["regexp_extract('arn:aws:iam::111122223333:user/a', '^arn:aws[a-z-]*:(?:iam|sts)::([0-9]{12}):', 1)", '111122223333'],
  ["regexp_extract('', 'x')", null],
  ["regexp_extract('', '^$')", ''],
  ["regexp_extract(NULL, 'x')", null],
  // regexp_like: a match anywhere.
  ["regexp_like('1a 2b 14m', '\\d+b')", true],
  ["regexp_like('abc', '^b')", false],
  ["regexp_like(NULL, 'a')", null],
  // regexp_extract_all: every match; an empty array when none.
  ["regexp_extract_all('1a 2b 14m', '\\d+')", ['1', '2', '14']],
  ["regexp_extract_all('abc', '\\d+')", []],
  // json_extract_scalar: scalars only, as text; NULL for objects, arrays, JSON null and missing keys.
  [`json_extract_scalar('{"a":{"b":1}}', '$.a.b')`, '1'],
  [`json_extract_scalar('{"a":{"b":1}}', '$.a')`, null],
  [`json_extract_scalar('{"a":[1,2]}', '$.a')`, null],
  [`json_extract_scalar('{"a":null}', '$.a')`, null],
  [`json_extract_scalar('{"a":true}', '$.a')`, 'true'],
  [`json_extract_scalar('{"a":"x"}', '$.b')`, null],
  [`json_extract_scalar('{"x-amz-acl":"public-read"}', '$["x-amz-acl"]')`, 'public-read'],
  [`json_extract_scalar(NULL, '$.a')`, null],
  // json_array_length: NULL for anything but an array (DuckDB's own: 0).
  [`json_array_length('[1,2,3]')`, 3],
  [`json_array_length('[]')`, 0],
  [`json_array_length('{"a":1}')`, null],
  [`json_array_length('"x"')`, null],
  // json_format: JSON text, strings keep their quotes.
  [`json_format(json_extract('{"a":[1, 2]}', '$.a'))`, '[1,2]'],
  [`json_format(json_extract('{"a":"x"}', '$.a'))`, '"x"'],
  // split_part: 1-based; NULL past the last field (DuckDB's own: '').
  ["split_part('1.08', '.', 1)", '1'],
  ["split_part('1.08', '.', 2)", '08'],
  ["split_part('1', '.', 2)", null],
  ["split_part('', '.', 1)", ''],
  // cardinality and slice (1-based start, then a length).
  ['cardinality(ARRAY[1, 2, 3])', 3],
  ['cardinality(CAST(ARRAY[] AS INTEGER[]))', 0],
  ['slice(ARRAY[1, 2, 3, 4], 2, 2)', [2, 3]],
  ['slice(ARRAY[1, 2, 3, 4], 5, 2)', []],
  ['slice(ARRAY[1, 2, 3, 4], -1, 1)', [4]],
  // Unix time both ways.
  ['from_unixtime(1741593600)', '2025-03-10 08:00:00'],
  ["to_unixtime(TIMESTAMP '1970-01-01 00:00:01.5')", 1.5],
  // TRY_CAST: NULL where a cast would fail.
  ["TRY_CAST('x' AS INTEGER)", null],
  ["TRY_CAST('08' AS INTEGER)", 8],
];

let instance: DuckDBInstance;
let conn: DuckDBConnection;
beforeAll(async () => {
  instance = await DuckDBInstance.create(':memory:');
  conn = await instance.connect();
  await installDialect(conn);
});
afterAll(() => {
  conn.closeSync();
  instance.closeSync();
});

/** Lists item by item, so that their numbers compare as numbers. */
const plain = (v: unknown): unknown => (Array.isArray(v) ? v.map(plain) : v);

describe('Trino functions on DuckDB give Trino\'s results', () => {
  for (const [sql, trino] of CASES) {
    it(`${sql} = ${JSON.stringify(trino)}`, async () => {
      const reader = await conn.runAndReadAll(`SELECT ${sql} AS v`);
      const [row] = reader.getRowsJson();
      let got = plain(row?.[0]);
      const type = reader.columnTypes()[0]?.toString() ?? '';
      if (/INT|DOUBLE|DECIMAL/.test(type) && typeof got === 'string') got = Number(got); // BIGINT comes as text in JSON
      expect(got).toEqual(trino);
    });
  }

  it('every macro of the dialect is exercised here', () => {
    const called = new Set(CASES.map(([sql]) => /^[a-z_]+/.exec(sql)?.[0]));
    expect(DUCKDB_MACROS.map(([name]) => name).filter((n) => n !== 'json_items' && !called.has(n))).toEqual([]);
  });
});
