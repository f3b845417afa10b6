import { spawnSync } from 'node:child_process';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paramNames, replaceParams, sqlDate, sqlIdentifier, sqlString, sqlTimestamp } from '../../common/sql.js';
import { dayText, timestampText } from '../../common/time.js';

const HOSTILE = [
  '', "'", "''", "it's", "'; DROP TABLE access_log; --", 'back\\slash', "\\'", 'tab\tnew\nline\r', '"double"', '$name',
  'héllo wörld', '日本語のキー', '🙂 emoji (surrogate pair)', 'a\u2028b', '\x01SOH', "x'".repeat(50),
];

describe('SQL text', () => {
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
  const one = async (sql: string): Promise<unknown> => (await conn.runAndReadAll(sql)).getRows()[0]?.[0];

  it('quotes strings the way SQL does: quotes doubled, nothing else touched', () => {
    expect(sqlString("it's")).toBe("'it''s'");
    expect(sqlString('back\\slash')).toBe("'back\\slash'");
    expect(sqlString('')).toBe("''");
  });

  it('gives back every hostile string unchanged through DuckDB', async () => {
    for (const s of HOSTILE) expect(await one(`SELECT ${sqlString(s)}`)).toBe(s);
  });

  it('spells a NUL chr(0), which SQL text cannot hold, so a value with one (a planted bucket name) still round-trips', async () => {
    for (const s of ['\u0000', 'evil\u0000', '\u0000evil', "a\u0000'b\u0000\u0000c", 'evil\u001b]0;pwned\u0007\u001b[2J\u0000']) {
      expect(await one(`SELECT ${sqlString(s)}`)).toBe(s);
      expect(await one(`SELECT count(*) FROM (VALUES (1, ${sqlString(s)})) t(i, b) WHERE b = ${sqlString(s)}`)).toBe(1n);
    }
    expect(sqlString('a\u0000b')).toBe("('a' || chr(0) || 'b')");
  });

  it('quotes identifiers: a table and a column named with hostile text work', async () => {
    expect(sqlIdentifier('key')).toBe('"key"');
    expect(sqlIdentifier('a"b')).toBe('"a""b"');
    for (const s of HOSTILE.filter(Boolean)) {
      await conn.run(`CREATE OR REPLACE TABLE ${sqlIdentifier(s)} (${sqlIdentifier(s)} VARCHAR)`);
      await conn.run(`INSERT INTO ${sqlIdentifier(s)} VALUES (${sqlString(s)})`);
      expect(await one(`SELECT ${sqlIdentifier(s)} FROM ${sqlIdentifier(s)}`)).toBe(s);
      expect((await conn.runAndReadAll(`SELECT ${sqlIdentifier(s)} FROM ${sqlIdentifier(s)}`)).columnNames()).toEqual([s]);
      await conn.run(`DROP TABLE ${sqlIdentifier(s)}`);
    }
  });

  it('writes instants as UTC TIMESTAMP and DATE literals, milliseconds kept', async () => {
    const d = new Date(Date.UTC(2025, 2, 10, 23, 59, 58, 7));
    expect(timestampText(d)).toBe('2025-03-10 23:59:58.007');
    expect(sqlTimestamp(d)).toBe("TIMESTAMP '2025-03-10 23:59:58.007'");
    expect(dayText(d)).toBe('2025-03-10');
    expect(sqlDate(d)).toBe("DATE '2025-03-10'");
    expect(sqlTimestamp(new Date(Date.UTC(2025, 0, 1)))).toBe("TIMESTAMP '2025-01-01 00:00:00.000'");
    // DuckDB reads them back to the same instant and day.
    expect(Number(await one(`SELECT epoch_ms(${sqlTimestamp(d)})`))).toBe(d.getTime());
    expect(String(await one(`SELECT CAST(${sqlDate(d)} AS VARCHAR)`))).toBe('2025-03-10');
  });

  it('finds and replaces $name parameters (snake_case, digits after the first letter)', () => {
    const sql = 'SELECT * FROM t WHERE a > $min_bytes AND b IN $names2 AND c = $min_bytes AND d = $1 AND e = $Upper';
    expect(paramNames(sql)).toEqual(['min_bytes', 'names2', 'min_bytes']);
    expect(replaceParams(sql, (n) => `<${n}>`)).toBe('SELECT * FROM t WHERE a > <min_bytes> AND b IN <names2> AND c = <min_bytes> AND d = $1 AND e = $Upper');
    expect(paramNames('SELECT 1')).toEqual([]);
  });

  it('loads no native code: the schema and the Athena DDL quote without starting DuckDB', () => {
    // The compiled modules (npm test builds dist/ first); every native addon goes through process.dlopen.
    const dist = new URL('../../dist/', import.meta.url).href;
    const script = `const loaded = []; const dlopen = process.dlopen; process.dlopen = (m, f, ...r) => (loaded.push(f), dlopen(m, f, ...r));
      for (const m of ['common/sql.js', 'ingest/schema.js', 'query/views.js', 'query/athena/ddl.js']) await import(new URL(m, ${JSON.stringify(dist)}));
      process.stdout.write(JSON.stringify(loaded));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual([]);
  });
});
