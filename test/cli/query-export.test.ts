/**
 * `s3sift query` at any size (query/export.ts): every format on more rows
 * than the old table could hold, the same values as query/format.ts writes
 * (DuckDB's COPY path and the JavaScript path), hostile cells, binary
 * formats, --output, and the refusals.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { tableFromIPC } from 'apache-arrow';
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import { sqlString } from '../../common/sql.js';
import { exportQuery, sqlCsvSafe, tableFooter } from '../../query/export.js';
import { csvSafeText, formatRows } from '../../query/format.js';
import { rowsOf } from '../../query/rows.js';
import { emptyDataset, tempDir } from '../helpers/dataset.js';
import { captureIo } from '../helpers/io.js';

let tmp: { dir: string; cleanup: () => void };
let data: string;
let instance: DuckDBInstance;
let conn: DuckDBConnection;

beforeAll(async () => {
  tmp = tempDir();
  data = await emptyDataset(join(tmp.dir, 'data'));
  instance = await DuckDBInstance.create(':memory:');
  conn = await instance.connect();
});
afterAll(() => {
  conn.closeSync();
  tmp.cleanup();
});

async function run(args: string[], tty = false): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo();
  if (tty) (io.stdout as PassThrough & { isTTY?: boolean }).isTTY = true;
  const code = await main(args, io);
  return { code, out: io.out(), err: io.err() };
}

/** exportQuery into memory. */
async function exported(sql: string, format: Parameters<typeof exportQuery>[2], opts: Parameters<typeof exportQuery>[4] = {}): Promise<{ bytes: Buffer; rows: number; shown?: number }> {
  const stream = new PassThrough();
  const parts: Buffer[] = [];
  stream.on('data', (b: Buffer) => parts.push(b));
  const r = await exportQuery(conn, sql, format, { stream, isTTY: false }, opts);
  return { bytes: Buffer.concat(parts), ...r };
}

/** What query/format.ts wrote from the whole result: the reference. */
async function reference(sql: string, format: 'csv' | 'json' | 'ndjson', raw = false): Promise<string> {
  return (await formatRows(rowsOf(await conn.runAndReadAll(sql)), format, { raw })) as string;
}

const HOSTILE = ['=cmd', ' +1', '-1', '-0.5', '- 1', '＝x', '\tx', '\rx', 'a\nb', 'say "hi", then', '', "'quoted'", '@SUM(A1)', '\u00a0=1', '\u200b+1', '\u2003-x', 'plain', 'NULL', 'é😀', '\u001b[31mred'];
const hostileValues = HOSTILE.map((s) => `(${sqlString(s)})`).join(', ');

/** Every kind of cell the dataset has, and hostile text, NULLs among them. */
const MIXED = `SELECT s, NULL::VARCHAR AS n, i::BIGINT AS big, (i * 1e17)::HUGEINT AS huge, i::INTEGER AS int, 1.250::DECIMAL(9,3) AS dec, i / 3 AS dbl, i % 2 = 0 AS flag,
  TIMESTAMP '2025-03-10 08:00:01.5' + to_seconds(i) AS ts, TIMESTAMPTZ '2025-03-10 08:00:01+02' AS tstz, DATE '2025-01-02' AS d,
  ['a', s, NULL] AS list, {'k': s, 'n': i} AS struct,
  json_object('s', s, 'i', i) AS j, CASE WHEN i % 3 = 0 THEN 'null'::JSON WHEN i % 3 = 1 THEN to_json(s) ELSE '[1, {"a": 2}]'::JSON END AS j2,
  CASE i % 7 WHEN 0 THEN ' null '::JSON WHEN 1 THEN ' "=x" '::JSON WHEN 2 THEN '"=a b"'::JSON WHEN 3 THEN '-1'::JSON WHEN 4 THEN '{"k":"=v"}'::JSON
    WHEN 5 THEN '"@x"'::JSON ELSE '"\\u003dy"'::JSON END AS j3
  FROM (SELECT s, row_number() OVER () AS i FROM (VALUES ${hostileValues}) AS t(s))`;
/** The same, with a column COPY has no exact form for: the export converts it in JavaScript. */
const MIXED_JS = `SELECT *, INTERVAL 1 DAY AS iv FROM (${MIXED})`;

describe('the same values as query/format.ts, whichever path writes them', () => {
  for (const [name, sql] of [['COPY', MIXED], ['JavaScript', MIXED_JS]] as const) {
    it(`CSV (${name}): the same cells, formulas neutralised, NULL apart from empty`, async () => {
      const got = parse((await exported(sql, 'csv')).bytes.toString()) as string[][];
      expect(got).toEqual(parse(await reference(sql, 'csv')) as string[][]);
      const header = got[0] as string[];
      const col = (row: string[], c: string): string | undefined => row[header.indexOf(c)];
      const rows = got.slice(1);
      expect(rows.map((r) => col(r, 's'))).toEqual(HOSTILE.map(csvSafeText));
      expect(rows.map((r) => col(r, 's')).slice(0, 4)).toEqual(["'=cmd", "' +1", '-1', '-0.5']);
    });

    it(`CSV --csv-raw (${name}): every cell as it is`, async () => {
      const got = parse((await exported(sql, 'csv', { csvRaw: true })).bytes.toString()) as string[][];
      expect(got).toEqual(parse(await reference(sql, 'csv', true)) as string[][]);
      expect(got.slice(1).map((r) => r[0])).toEqual(HOSTILE);
    });

    it(`CSV (${name}): NULL is an empty field, empty text a quoted one`, async () => {
      const text = (await exported(`SELECT * FROM (${sql}) WHERE s = ''`, 'csv')).bytes.toString();
      expect(text.split('\n')[1]).toMatch(/^"",,/);
    });

    it(`JSON and NDJSON (${name}): the same values`, async () => {
      expect(JSON.parse((await exported(sql, 'json')).bytes.toString())).toEqual(JSON.parse(await reference(sql, 'json')));
      const nd = (await exported(sql, 'ndjson')).bytes.toString();
      expect(nd.endsWith('\n')).toBe(true);
      const lines = nd.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown);
      expect(lines).toEqual((await reference(sql, 'ndjson')).trimEnd().split('\n').map((l) => JSON.parse(l) as unknown));
      expect(lines[0]).toMatchObject({ s: '=cmd', n: null, ts: '2025-03-10T08:00:02.500Z', tstz: '2025-03-10T06:00:01.000Z', huge: '100000000000000000' });
    });
  }

  it('writes a JSON cell the same whether its text had whitespace or not (numbers aside: the same value, spelt as given or as DuckDB does)', async () => {
    const texts = ['{"a":"\\u00e9"}', '"\\u00e9"', '"\\/"', '{"b":1,"a":[-5,2]}', 'true', '"=1"', '"\\t=1"', '{"k":"a:1.5"}', '"2025-03-10"', 'null', '[]'];
    for (const t of texts) {
      const csvOf = async (text: string): Promise<string> => (await exported(`SELECT ${sqlString(text)}::JSON AS j`, 'csv')).bytes.toString();
      expect([t, await csvOf(t)]).toEqual([t, await csvOf(` ${t} `)]);
    }
    // Escapes are spelt out as parsing gives them, as the JavaScript path writes them.
    expect((await exported(`SELECT '{"a":"\\u00e9"}'::JSON AS j`, 'csv')).bytes.toString()).toBe('"j"\n"{""a"":""é""}"\n');
    // A number keeps its spelling in text without whitespace, and takes DuckDB's in text with it: the same value.
    const cells = [];
    for (const t of ['{"a":1e2}', ' {"a":1e2} ']) cells.push((parse((await exported(`SELECT ${sqlString(t)}::JSON AS j`, 'csv')).bytes.toString()) as string[][])[1]?.[0]);
    expect(cells).toEqual(['{"a":1e2}', '{"a":100.0}']);
    expect(cells.map((c) => JSON.parse(c as string) as unknown)).toEqual([{ a: 100 }, { a: 100 }]);
  });

  it('neutralises in SQL exactly as csvSafeText does (any text)', async () => {
    const chars = ['=', '+', '-', '@', '\t', '\r', '\n', ' ', '\u00a0', '\u200b', '\u3000', '\ufeff', '\u2028', '\u000b', '\uff1d', '\uff0b', '\uff0d', '\uff20', '0', '1', '.', 'a', "'", '"',
      // Either side of the byte comparisons that let most cells through unchecked.
      '/', ':', '<', '>', '?', 'A', '~', '\u007f', '\u0080', '\u0085', 'é', '😀'];
    const texts = fc.sample(fc.array(fc.constantFrom(...chars), { maxLength: 6 }).map((a) => a.join('')), 2000);
    // Each text built from code points: DuckDB's parser drops a byte-order mark inside a literal.
    const literal = (t: string): string => (t ? [...t].map((c) => `chr(${c.codePointAt(0) as number})`).join(' || ') : "''");
    const values = texts.map((t, i) => `(${i}, ${literal(t)})`).join(', ');
    // Compared as bytes: a text handed to JavaScript loses a leading byte-order mark on the way.
    const r = await conn.runAndReadAll(`SELECT hex(encode(${sqlCsvSafe('t')})) FROM (VALUES ${values}) AS v(i, t) ORDER BY i`);
    expect(r.getRows().map((row) => row[0])).toEqual(texts.map((t) => Buffer.from(csvSafeText(t)).toString('hex').toUpperCase()));
  });
});

describe('any number of rows', () => {
  const BIG = 'SELECT range AS i, range::VARCHAR AS s FROM range(200000)';

  it('the table shows the first rows and says how many more there are', async () => {
    const r = await exported(BIG, 'table');
    const text = r.bytes.toString();
    expect([r.rows, r.shown]).toEqual([200000, 40]);
    expect(text.trimEnd().split('\n')).toHaveLength(2 + 40 + 1);
    expect(text).toMatch(/\n\(200,000 rows, 40 shown; use --format csv or --max-rows for all\)\n$/);
    expect((await exported(BIG, 'table', { maxRows: 3 })).bytes.toString()).toContain('(200,000 rows, 3 shown;');
    expect((await exported('SELECT 1 AS a', 'table')).bytes.toString()).toMatch(/\n\(1 row\)\n$/);
  });

  it('says the count when every row is shown', () => {
    expect([tableFooter(0, 0), tableFooter(2, 2), tableFooter(41, 40)]).toEqual(['(0 rows)', '(2 rows)', '(41 rows, 40 shown; use --format csv or --max-rows for all)']);
  });

  it('writes every row in CSV, JSON, NDJSON and line', async () => {
    const csv = (await exported(BIG, 'csv')).bytes.toString().trimEnd().split('\n');
    expect([csv.length, csv[0], csv[200000]]).toEqual([200001, 'i,"s"', '199999,"199999"']);
    const json = JSON.parse((await exported(BIG, 'json')).bytes.toString()) as { rows: unknown[] };
    expect([json.rows.length, json.rows[199999]]).toEqual([200000, { i: 199999, s: '199999' }]);
    const nd = (await exported(BIG, 'ndjson')).bytes.toString().trimEnd().split('\n');
    expect([nd.length, JSON.parse(nd[199999] as string)]).toEqual([200000, { i: 199999, s: '199999' }]);
    const line = await exported(BIG, 'line');
    expect(line.rows).toBe(200000);
    expect(line.bytes.toString().endsWith('i = 199999\ns = 199999\n')).toBe(true);
  });

  it('writes Arrow batch by batch that apache-arrow reads back', async () => {
    const r = await exported(BIG, 'arrow');
    const t = tableFromIPC(r.bytes);
    expect([t.numRows, t.batches.length > 1, t.get(199999)?.toJSON()]).toEqual([200000, true, { i: 199999, s: '199999' }]);
    // Batches of a fixed size: the same result gives the same bytes.
    expect(t.batches.map((b) => b.numRows)).toEqual([...Array(12).fill(16384), 200000 - 12 * 16384]);
    expect((await exported(BIG, 'arrow')).bytes.equals(r.bytes)).toBe(true);
    const empty = tableFromIPC((await exported('SELECT 1 AS a WHERE false', 'arrow')).bytes);
    expect([empty.numRows, empty.schema.fields.map((f) => f.name)]).toEqual([0, ['a']]);
  });

  it('writes Arrow with the types and values query/arrow.ts gives, through Parquet or in JavaScript', async () => {
    const { arrowStream } = await import('../../query/arrow.js');
    // MIXED goes through DuckDB's Parquet and parquet-wasm; MIXED_JS (an INTERVAL) is built in JavaScript.
    const cases: Array<[sql: string, same?: string]> = [[MIXED], [MIXED_JS], ['SELECT 1 AS a, 2 AS a', 'SELECT 1 AS a, 2 AS a_1'], [`SELECT * FROM (${MIXED}) WHERE false`],
      // Nanoseconds have no cast to milliseconds in DuckDB: truncated as the JavaScript path does, before 1970 too.
      ["SELECT TIMESTAMP_NS '1969-12-31 23:59:59.999999999' AS a, TIMESTAMP_NS '2025-01-01 00:00:00.123456789' AS b, TIMESTAMP_S '1900-01-01 00:00:01' AS c"]];
    for (const [sql, same = sql] of cases) {
      const got = tableFromIPC((await exported(sql, 'arrow')).bytes);
      const want = tableFromIPC(arrowStream(rowsOf(await conn.runAndReadAll(same))));
      const shape = (t: typeof got) => t.schema.fields.map((f) => `${f.name}: ${String(f.type)} ${f.nullable}`);
      expect([sql, shape(got)]).toEqual([sql, shape(want)]);
      expect(got.toArray().map((r) => r?.toJSON())).toEqual(want.toArray().map((r) => r?.toJSON()));
    }
  });

  it('keeps every column of repeated names in every format, named as DuckDB\'s CSV writer names them (a, a_1; case ignored)', async () => {
    const sql = 'SELECT 1 AS a, 2 AS a, 3 AS A, 4 AS a_1, 5 AS b';
    const names = ['a', 'a_2', 'A_3', 'a_1', 'b'];
    const row = { a: 1, a_2: 2, A_3: 3, a_1: 4, b: 5 };
    expect(JSON.parse((await exported(sql, 'json')).bytes.toString())).toMatchObject({ columns: names.map((name) => ({ name })), rows: [row] });
    expect(JSON.parse((await exported(sql, 'ndjson')).bytes.toString())).toEqual(row);
    expect((await exported(sql, 'csv')).bytes.toString()).toBe('a,a_2,A_3,a_1,b\n1,2,3,4,5\n');
    expect((await exported(sql, 'table')).bytes.toString().split('\n')[0]?.split(/\s+/)).toEqual(names);
    expect((await exported(sql, 'line')).bytes.toString().trim().split('\n').map((l) => l.trim())).toEqual(names.map((n, i) => `${n} = ${i + 1}`));
    const t = tableFromIPC((await exported(sql, 'arrow')).bytes);
    expect([t.schema.fields.map((f) => f.name), t.get(0)?.toJSON()]).toEqual([names, row]);
    // A result COPY has no exact form for (an INTERVAL: read materialised, converted in JavaScript) keeps them too.
    expect(JSON.parse((await exported("SELECT INTERVAL 1 DAY AS a, 2 AS a", 'ndjson')).bytes.toString())).toEqual({ a: { months: 0, days: 1, micros: '0' }, a_1: 2 });
  });

  it('writes Parquet that DuckDB reads back', async () => {
    const file = join(tmp.dir, 'big.parquet');
    const r = await exportQuery(conn, `${BIG}`, 'parquet', { stream: new PassThrough(), isTTY: false, path: file }, {});
    expect(r.rows).toBe(200000);
    const back = await conn.runAndReadAll(`SELECT count(*), max(i), max(s) FROM read_parquet(${sqlString(file)})`);
    expect(back.getRowsJson()).toEqual([['200000', '199999', '99999']]);
  });
});

describe('line format', () => {
  it('one column a line, names right-aligned, a blank line between rows, NULL and hostile text escaped', async () => {
    const text = (await exported(`SELECT * FROM (VALUES (1, 'x'), (2, NULL), (3, '\u001b[2Ja\nb')) AS t(id, long_name)`, 'line')).bytes.toString();
    expect(text).toBe('       id = 1\nlong_name = x\n\n       id = 2\nlong_name = NULL\n\n       id = 3\nlong_name = \\u001b[2Ja\\u000ab\n');
  });
});

describe('bin/s3sift query, standard output a pipe or a file', () => {
  const BIN = new URL('../../bin/s3sift', import.meta.url).pathname;
  const SQL = "SELECT range AS i, 'v' || range AS s FROM range(100000)";

  it('a pipe: the header Node writes, the rows DuckDB writes, and the end, in order', () => {
    const r = spawnSync(process.execPath, [BIN, 'query', '--data', data, '--format', 'json', SQL], { encoding: 'utf8', maxBuffer: 2 ** 28 });
    const json = JSON.parse(r.stdout) as { columns: unknown[]; rows: Array<{ i: number }> };
    expect([r.status, json.columns.length, json.rows.length, json.rows[99999]]).toEqual([0, 2, 100000, { i: 99999, s: 'v99999' }]);
  });

  it('a file, appended to (>>): what was there stays, the export follows it', () => {
    const file = join(tmp.dir, 'appended.json');
    writeFileSync(file, 'before\n');
    const fd = openSync(file, 'a');
    try {
      const r = spawnSync(process.execPath, [BIN, 'query', '--data', data, '--format', 'json', SQL], { stdio: ['ignore', fd, 'pipe'] });
      expect(r.status).toBe(0);
    } finally {
      closeSync(fd);
    }
    const text = readFileSync(file, 'utf8');
    expect(text.startsWith('before\n{"columns":')).toBe(true);
    expect((JSON.parse(text.slice('before\n'.length)) as { rows: unknown[] }).rows).toHaveLength(100000);
  });

  // Past the first MiB the worker reading DuckDB's pipe writes standard output itself (query/fifo.ts handOver).
  const CSV_SQL = "SELECT range AS i, 'v' || range AS s, '=x' AS f FROM range(300000) ORDER BY i";

  it('a file written at its offset (>): the same bytes as --output, after what the descriptor had written', () => {
    const expected = join(tmp.dir, 'expected.csv');
    expect(spawnSync(process.execPath, [BIN, 'query', '--data', data, '--format', 'csv', '--output', expected, CSV_SQL]).status).toBe(0);
    const file = join(tmp.dir, 'offset.csv');
    const fd = openSync(file, 'w');
    try {
      writeSync(fd, 'before\n');
      const r = spawnSync(process.execPath, [BIN, 'query', '--data', data, '--format', 'csv', CSV_SQL], { stdio: ['ignore', fd, 'pipe'] });
      expect([r.status, r.stderr.toString()]).toEqual([0, '']);
    } finally {
      closeSync(fd);
    }
    const bytes = readFileSync(file);
    expect(bytes.length).toBeGreaterThan(4 << 20);
    expect(bytes.equals(Buffer.concat([Buffer.from('before\n'), readFileSync(expected)]))).toBe(true);
  });

  it('a pipe: every byte in order, and a reader that goes away early ends the export quietly (exit 0)', () => {
    const r = spawnSync(process.execPath, [BIN, 'query', '--data', data, '--format', 'csv', CSV_SQL], { maxBuffer: 2 ** 28 });
    const lines = r.stdout.toString().trimEnd().split('\n');
    expect([r.status, lines.length, lines[1], lines[300000]]).toEqual([0, 300001, '0,"v0","\'=x"', '299999,"v299999","\'=x"']);
    const cut = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" query --data "${data}" --format csv "${CSV_SQL}" | head -c 2000000 | wc -c; echo "status \${PIPESTATUS[0]}"`], { encoding: 'utf8' });
    expect([cut.stdout.trim().split(/\s+/), cut.stderr]).toEqual([['2000000', 'status', '0'], '']);
  });
});

describe('s3sift query', () => {
  it('the table on 200,000 rows: no crash, says how many (was a stack overflow, exit 70)', async () => {
    const r = await run(['query', '--data', data, 'SELECT * FROM range(200000)']);
    expect([r.code, r.out.trimEnd().split('\n').pop()]).toEqual([0, '(200,000 rows, 40 shown; use --format csv or --max-rows for all)']);
    const few = await run(['query', '--data', data, '--max-rows', '2', 'SELECT * FROM range(5)']);
    expect(few.out).toBe('range\n-----\n0\n1\n(5 rows, 2 shown; use --format csv or --max-rows for all)\n');
  });

  it('refuses Parquet and Arrow to a terminal, and --max-rows with another format (exit 2)', async () => {
    for (const f of ['parquet', 'arrow']) {
      const r = await run(['query', '--data', data, '--format', f, 'SELECT 1'], true);
      expect([r.code, r.err.split('\n')[0]]).toEqual([2, `error: --format ${f} writes binary data: not to a terminal; use --output FILE or redirect (> FILE)`]);
      expect(r.out).toBe('');
    }
    const m = await run(['query', '--data', data, '--format', 'csv', '--max-rows', '3', 'SELECT 1']);
    expect([m.code, m.err.split('\n')[0]]).toEqual([2, 'error: --max-rows goes with --format table (got --format csv)']);
  });

  it('writes Parquet to a terminal user with --output, and to standard output when it is not a terminal', async () => {
    const file = join(tmp.dir, 'one.parquet');
    const r = await run(['query', '--data', data, '--format', 'parquet', '-o', file, "SELECT 1 AS a, 'x' AS b"], true);
    expect([r.code, r.out]).toEqual([0, '']);
    expect((await conn.runAndReadAll(`SELECT * FROM ${sqlString(file)}`)).getRowsJson()).toEqual([[1, 'x']]);
    const piped = await run(['query', '--data', data, '--format', 'parquet', "SELECT 1 AS a"]);
    expect([piped.code, piped.out.slice(0, 4)]).toEqual([0, 'PAR1']);
  });

  it('--output works for every format and leaves the file as it was when the query fails', async () => {
    for (const f of ['table', 'line', 'csv', 'json', 'ndjson', 'arrow']) {
      const file = join(tmp.dir, `out.${f}`);
      const r = await run(['query', '--data', data, '--format', f, '--output', file, 'SELECT 42 AS answer']);
      expect([f, r.code, r.out]).toEqual([f, 0, '']);
      expect(readFileSync(file).length).toBeGreaterThan(0);
    }
    const dir = join(tmp.dir, 'atomic');
    mkdirSync(dir);
    const file = join(dir, 'keep.csv');
    writeFileSync(file, 'before\n');
    for (const f of ['csv', 'json', 'parquet', 'arrow']) {
      // Fails after many rows were written.
      const r = await run(['query', '--data', data, '--format', f, '-o', file, "SELECT CASE WHEN range < 150000 THEN range ELSE error('boom at ' || range) END AS x FROM range(200000)"]);
      expect([f, r.code, r.err.split('\n')[0]]).toEqual([f, 2, 'error: Invalid Input Error: boom at 150000']);
      expect(readFileSync(file, 'utf8')).toBe('before\n');
      expect(readdirSync(dir)).toEqual(['keep.csv']);
    }
  });

  it('says when --output cannot be written (exit 2), and writes nothing', async () => {
    const file = join(tmp.dir, 'no-such-folder', 'x.csv');
    for (const f of ['csv', 'json']) {
      const r = await run(['query', '--data', data, '--format', f, '-o', file, 'SELECT 1']);
      expect([r.code, r.err.split('\n')[0]]).toEqual([2, `error: --output ${file}: cannot write: its folder does not exist; nothing was written there`]);
    }
    expect(existsSync(file)).toBe(false);
  });

  it('failing SQL is exit 2 with DuckDB\'s message in every format, also when it fails while writing', async () => {
    for (const f of ['table', 'line', 'csv', 'json', 'ndjson', 'arrow', 'parquet']) {
      const r = await run(['query', '--data', data, '--format', f, 'SELECT nope']);
      expect([f, r.code, r.err.split('\n')[0]]).toEqual([f, 2, 'error: Binder Error: Referenced column "nope" was not found because the FROM clause is missing']);
      const late = await run(['query', '--data', data, '--format', f, "SELECT CASE WHEN range < 5000 THEN range ELSE error('late') END FROM range(10000)"]);
      expect([f, late.code, late.err.split('\n')[0]]).toEqual([f, 2, 'error: Invalid Input Error: late']);
    }
  });

  it('writes what a statement that is not a query returns (PRAGMA, EXPLAIN, CREATE), and DESCRIBE and SHOW', async () => {
    for (const f of ['csv', 'table', 'json']) {
      const p = await run(['query', '--data', data, '--format', f, 'PRAGMA version']);
      expect([f, p.code, p.out]).toEqual([f, 0, expect.stringContaining('library_version')]);
      const e = await run(['query', '--data', data, '--format', f, 'EXPLAIN SELECT 1']);
      expect([f, e.code, e.out]).toEqual([f, 0, expect.stringContaining('physical_plan')]);
      const d = await run(['query', '--data', data, '--format', f, 'DESCRIBE SELECT 1 AS a']);
      expect([f, d.code, d.out]).toEqual([f, 0, expect.stringContaining('column_name')]);
    }
    const c = await run(['query', '--data', data, '--format', 'csv', 'CREATE TEMP TABLE t AS SELECT 1 AS a']);
    expect([c.code, c.out]).toEqual([0, 'Count\n1\n']);
    const p = await run(['query', '--data', data, '--format', 'parquet', '-o', join(tmp.dir, 'p.parquet'), 'PRAGMA version']);
    expect([p.code, p.err.split('\n')[0]]).toEqual([2, 'error: --format parquet takes one query (SELECT ...): DuckDB writes it with COPY']);
  });

  it('takes a statement with a trailing semicolon or comment', async () => {
    for (const sql of ['SELECT 1 AS a;', 'SELECT 1 AS a -- one\n', 'SELECT 1 AS a -- one']) {
      const r = await run(['query', '--data', data, '--format', 'csv', sql]);
      expect([r.code, r.out]).toEqual([0, 'a\n1\n']);
    }
  });

  it('escapes what a terminal would act on in CSV, JSON and NDJSON shown on a terminal, and keeps them byte for byte to a pipe', async () => {
    const sql = "SELECT chr(27) || ']0;owned' || chr(7) || 'x' || chr(9) || 'y' AS v";
    for (const format of ['csv', 'json', 'ndjson']) {
      const tty = await run(['query', '--data', data, '--format', format, sql], true);
      expect([format, tty.code, tty.out.includes('\u001b'), tty.out.includes('\u0007')]).toEqual([format, 0, false, false]);
      // JSON writes the escape as \u001b itself; CSV and NDJSON on a terminal as the same text.
      expect(tty.out.toLowerCase()).toContain('\\u001b]0;owned');
    }
    const piped = await run(['query', '--data', data, '--format', 'csv', sql]);
    expect(piped.out).toContain('\u001b]0;owned\u0007x\ty');
  });

  it('runs several statements and exports the last one', async () => {
    const r = await run(['query', '--data', data, '--format', 'csv', "CREATE TEMP TABLE t AS SELECT 'x' AS a; SELECT a, a || 'y' AS b FROM t"]);
    // DuckDB's CSV writer quotes every text cell (docs/contract.md); the header too.
    expect([r.code, r.out]).toEqual([0, '"a","b"\n"x","xy"\n']);
  });

  it('keeps the HTTP API to its formats: parquet and line are the command line\'s', async () => {
    const { QUERY_FORMATS, EXPORT_FORMATS } = await import('../../query/finding.js');
    expect([...QUERY_FORMATS]).toEqual(['table', 'json', 'ndjson', 'csv', 'arrow']);
    expect([...EXPORT_FORMATS]).toEqual(['table', 'json', 'ndjson', 'csv', 'arrow', 'parquet', 'line']);
  });
});
