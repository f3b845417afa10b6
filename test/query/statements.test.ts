/**
 * Statements split where DuckDB's parser splits them, and the shell's test
 * of whether what was typed is a whole statement.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstWords, inputComplete, splitStatements } from '../../query/statements.js';

let instance: DuckDBInstance;
let conn: DuckDBConnection;

beforeAll(async () => {
  instance = await DuckDBInstance.create(':memory:');
  conn = await instance.connect();
});
afterAll(() => {
  conn.closeSync();
  instance.closeSync();
});

describe('splitStatements', () => {
  it('cuts at each ; that ends a statement', async () => {
    expect(await splitStatements(conn, 'SELECT 1; SELECT 2;\nSELECT 3')).toEqual(['SELECT 1;', 'SELECT 2;', 'SELECT 3']);
  });

  it.each([
    ['a string', "SELECT 'a;b'; SELECT 2", ["SELECT 'a;b';", 'SELECT 2']],
    ["a string with ''", "SELECT 'it''s;'; SELECT 2", ["SELECT 'it''s;';", 'SELECT 2']],
    ['a quoted name', 'SELECT 1 AS "x;y"; SELECT 2', ['SELECT 1 AS "x;y";', 'SELECT 2']],
    ['a block comment', 'SELECT 1 /* ; */; SELECT 2', ['SELECT 1 /* ; */;', 'SELECT 2']],
    ['a line comment', 'SELECT 1 -- ; not here\n, 2; SELECT 3', ['SELECT 1 -- ; not here\n, 2;', 'SELECT 3']],
    ['a dollar-quoted body', 'SELECT $$a;b$$; SELECT $tag$c;d$tag$', ['SELECT $$a;b$$;', 'SELECT $tag$c;d$tag$']],
  ])('a ; inside %s is no boundary', async (_what, sql, pieces) => {
    expect(await splitStatements(conn, sql)).toEqual(pieces);
  });

  it('keeps comments and empty statements with a statement, and counts none alone', async () => {
    expect(await splitStatements(conn, '-- first\nSELECT 1;; ;\n-- the end')).toEqual(['-- first\nSELECT 1;; ;\n-- the end']);
    expect(await splitStatements(conn, 'SELECT 1; -- trailing ; comment')).toEqual(['SELECT 1; -- trailing ; comment']);
  });

  it('a statement DuckDB expands into several (PIVOT) is one piece', async () => {
    await conn.run("CREATE TABLE t AS SELECT 'a' AS k UNION ALL SELECT 'b'");
    expect(await splitStatements(conn, 'PIVOT t ON k USING count(*); SELECT 1')).toEqual(['PIVOT t ON k USING count(*);', 'SELECT 1']);
  });

  it('gives one statement whole, a ; in it untried', async () => {
    expect(await splitStatements(conn, "  SELECT ';' -- ;\n")).toEqual(["SELECT ';' -- ;"]);
  });

  it('refuses text with no statement', async () => {
    for (const sql of [';', ' -- only a comment; \n', ';;'])
      await expect(splitStatements(conn, sql)).rejects.toThrow('the SQL holds no statement (only blanks, comments or ;)');
  });

  it('refuses SQL that does not parse, saying nothing ran', async () => {
    await expect(splitStatements(conn, "SELECT 1; SELECT 'open")).rejects.toThrow(/^the SQL does not parse \(nothing was run\): Parser Error: unterminated quoted string/);
  });
});

describe('inputComplete', () => {
  it.each([
    ['SELECT 1;', true],
    ['SELECT\n1\n;', true],
    ['SELECT 1', false],
    ["SELECT 'a;", false],
    ["SELECT 'a;\nb';", true],
    ['SELECT 1 -- not yet;', false],
    ['SELECT 1 /* ;', false],
    ['SELECT $$a;', false],
    ['SELEC 1;', true], // a syntax error: run, so that it shows
    ['SELECT 1; SELECT 2;', true],
    [';', true], // no statement: run, so that the shell says so
  ])('%j: %s', async (text, complete) => {
    expect(await inputComplete(conn, text)).toBe(complete);
  });
});

describe('firstWords', () => {
  it('puts a statement on one line without its line comments, cut to the length', () => {
    expect(firstWords('-- why\nSELECT  a,\n  b FROM t;')).toBe('SELECT a, b FROM t;');
    expect(firstWords('SELECT ' + 'x'.repeat(100), 20)).toBe('SELECT xxxxxxxxxxxx…');
  });
});
