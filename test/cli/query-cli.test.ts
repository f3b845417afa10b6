/**
 * `s3sift query`: SQL from --file and stdin, several statements split by
 * DuckDB's parser (each result shown, or refused in a format that holds
 * one), the interactive shell fed through a stream, and --print-views
 * read back by a fresh DuckDB.
 */
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import { TEST_BASES } from '../../query/test-records.js';
import { tempDir } from '../helpers/dataset.js';
import { captureIo } from '../helpers/io.js';

/** An object key that would turn a terminal's text red and set its title. */
const HOSTILE = 'x\u001b[31mred\u001b]0;owned\u0007';

let tmp: { dir: string; cleanup: () => void };
let data: string;

async function run(args: string[], stdin = '', env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo(stdin);
  io.env = env;
  const code = await main(args, io);
  return { code, out: io.out(), err: io.err() };
}

beforeAll(async () => {
  tmp = tempDir();
  data = join(tmp.dir, 'data');
  const logs = join(tmp.dir, 'logs');
  mkdirSync(logs);
  const event = TEST_BASES['s3-data-event'];
  const records = [1, 2, 3].map((i) => ({ ...event, eventID: `e${i}`, requestParameters: { ...event.requestParameters, key: i === 1 ? HOSTILE : `k${i}` } }));
  writeFileSync(join(logs, 'trail.json'), JSON.stringify({ Records: records }));
  expect((await run(['ingest', logs, '--data', data])).code).toBe(0);
});
afterAll(() => tmp.cleanup());

describe('where the SQL comes from', () => {
  it('reads --file and -f', async () => {
    const file = join(tmp.dir, 'q.sql');
    writeFileSync(file, 'SELECT count(*) AS n FROM cloudtrail\n');
    for (const flag of ['--file', '-f']) {
      const r = await run(['query', '--data', data, '--format', 'json', flag, file]);
      expect([r.code, JSON.parse(r.out).rows]).toEqual([0, [{ n: 3 }]]);
    }
  });

  it('refuses a file it cannot read with one line naming it, exit 2', async () => {
    const r = await run(['query', '--data', data, '-f', join(tmp.dir, 'missing.sql')]);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toContain('cannot read the SQL file');
    expect(r.err).toContain('missing.sql');
  });

  it('refuses SQL both as an argument and with --file, and an empty file', async () => {
    const empty = join(tmp.dir, 'empty.sql');
    writeFileSync(empty, ' \n');
    expect((await run(['query', '--data', data, '-f', empty, 'SELECT 1'])).code).toBe(2);
    const r = await run(['query', '--data', data, '-f', empty]);
    expect([r.code, r.err.split('\n')[0]]).toEqual([2, `error: query needs the SQL to run: as one argument (quote it), with --file (${empty} is empty), or on stdin`]);
  });

  it('reads stdin for - and when no SQL is given and stdin is not a terminal', async () => {
    for (const args of [['-'], []]) {
      const r = await run(['query', '--data', data, '--format', 'ndjson', ...args], 'SELECT 7 AS seven;\n');
      expect([r.code, r.out]).toEqual([0, '{"seven":7}\n']);
    }
  });

  it('refuses SQL of comments alone: nothing checked is no answer', async () => {
    const r = await run(['query', '--data', data, '/* nothing */ ; -- here']);
    expect([r.code, r.out, r.err.split('\n')[0]]).toEqual([2, '', 'error: the SQL holds no statement (only blanks, comments or ;)']);
  });

  it('says so when stdin holds no SQL', async () => {
    const r = await run(['query', '--data', data], '');
    expect(r.code).toBe(2);
    expect(r.err).toContain('query needs the SQL to run');
  });
});

describe('several statements', () => {
  it('runs each in order and shows each result under a header (a ; in a string, a comment or a $$ body is no boundary)', async () => {
    const sql = `CREATE TEMP TABLE t AS SELECT 'a;b' AS s; -- a comment; with a semicolon
SELECT s FROM t /* ; */; SELECT $$x;y$$ AS d, "odd;name" FROM (SELECT 1 AS "odd;name");`;
    const r = await run(['query', '--data', data, sql]);
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines.filter((l) => l.startsWith('-- statement'))).toEqual([
      "-- statement 1 of 3: CREATE TEMP TABLE t AS SELECT 'a;b' AS s; (done)",
      '-- statement 2 of 3: SELECT s FROM t /* ; */;',
      // The first words only: a header stays on one line.
      '-- statement 3 of 3: SELECT $$x;y$$ AS d, "odd;name" FROM (SELECT 1 AS "odd;name…',
    ]);
    expect(lines).toContain('a;b');
    expect(r.out).toMatch(/x;y +1/);
  });

  it('a PIVOT, which DuckDB expands into several statements, is one', async () => {
    const r = await run(['query', '--data', data, '--format', 'json', 'CREATE TEMP TABLE p AS PIVOT (SELECT "key" FROM cloudtrail) ON "key" USING count(*); SELECT count(*) AS n FROM p']);
    expect([r.code, JSON.parse(r.out).rows]).toEqual([0, [{ n: 1 }]]);
  });

  it('shows the rows of INSERT/UPDATE/DELETE ... RETURNING and of EXECUTE (alone they could not run: what they need was made before them)', async () => {
    const r = await run(['query', '--data', data, 'CREATE TEMP TABLE z (a INTEGER); INSERT INTO z VALUES (6) RETURNING a; UPDATE z SET a = 7 RETURNING a * 10 AS b; PREPARE p AS SELECT 42 AS answer; EXECUTE p; INSERT INTO z VALUES (8); DELETE FROM z RETURNING a']);
    expect(r.code).toBe(0);
    expect(r.out).not.toContain('run it alone');
    expect(r.out).toMatch(/-- statement 2 of 7: INSERT INTO z VALUES \(6\) RETURNING a;\na\n-\n6\n/);
    expect(r.out).toMatch(/-- statement 3 of 7: UPDATE z SET a = 7 RETURNING a \* 10 AS b;\nb\n-+\n70\n/);
    expect(r.out).toMatch(/-- statement 5 of 7: EXECUTE p;\nanswer\n-+\n42\n/);
    expect(r.out).toContain('-- statement 6 of 7: INSERT INTO z VALUES (8); (done)');
    expect(r.out).toMatch(/-- statement 7 of 7: DELETE FROM z RETURNING a\na\n-\n7\n8\n/);
    const json = await run(['query', '--data', data, '--format', 'json', 'CREATE TEMP TABLE z (a INTEGER); INSERT INTO z VALUES (6) RETURNING a']);
    expect(JSON.parse(json.out).rows).toEqual([{ a: 6 }]);
  });

  it('keeps one statement as before: no header', async () => {
    const r = await run(['query', '--data', data, "SELECT ';' AS semi; -- the end"]);
    expect(r.code).toBe(0);
    expect(r.out).not.toContain('-- statement');
    expect(r.out.split('\n')[2]).toBe(';');
  });

  it('a machine format takes statements before the last that return no rows', async () => {
    const r = await run(['query', '--data', data, '--format', 'json', 'CREATE TEMP TABLE t AS SELECT 5 AS a; SELECT a FROM t']);
    expect([r.code, JSON.parse(r.out).rows]).toEqual([0, [{ a: 5 }]]);
  });

  it('a machine format refuses a second result before writing anything, naming the statement', async () => {
    for (const format of ['json', 'ndjson', 'csv', 'arrow']) {
      const r = await run(['query', '--data', data, '--format', format, 'CREATE TEMP TABLE t AS SELECT 1 AS a; SELECT 1; SELECT 2']);
      expect([r.code, r.out]).toEqual([2, '']);
      expect(r.err.split('\n')[0]).toBe(
        `error: --format ${format} holds one result, so only the last statement may return rows: statement 2 of 3 (SELECT 1;) returns rows; nothing was written: run the queries one at a time, or use --format table`,
      );
    }
  });

  it('--output holds one result in any format: the table too takes only the last statement\'s rows, and a second result is refused', async () => {
    const file = join(tmp.dir, 'out.txt');
    const ok = await run(['query', '--data', data, '--output', file, 'CREATE TEMP TABLE t AS SELECT 5 AS a; SELECT a FROM t']);
    expect([ok.code, ok.out]).toEqual([0, '']);
    expect(readFileSync(file, 'utf8')).toContain('5');
    const two = await run(['query', '--data', data, '--output', join(tmp.dir, 'two.txt'), 'SELECT 1 AS first; SELECT 2 AS second']);
    expect(two.code).toBe(2);
    expect(two.err.split('\n')[0]).toBe(
      'error: --output holds one result, so only the last statement may return rows: statement 1 of 2 (SELECT 1 AS first;) returns rows; nothing was written: run the queries one at a time',
    );
  });

  it('a failing statement stops the run, naming its number and how many ran', async () => {
    const r = await run(['query', '--data', data, 'SELECT 1 AS one; SELECT 2 AS two; SELECT nope; SELECT 4 AS never']);
    expect(r.code).toBe(2);
    expect(r.out).toContain('-- statement 2 of 4');
    expect(r.out).not.toContain('never');
    expect(r.err.split('\n')[0]).toMatch(/^error: statement 3 of 4 \(SELECT nope;\) failed, 2 statements before it ran: Binder Error: .*nope/);
  });

  it('SQL that does not parse runs nothing', async () => {
    const r = await run(['query', '--data', data, "CREATE TEMP TABLE t AS SELECT 1; SELEC 2"]);
    expect([r.code, r.out]).toEqual([2, '']);
    expect(r.err.split('\n')[0]).toMatch(/^error: the SQL does not parse \(nothing was run\): Parser Error: syntax error at or near "SELEC"/);
  });
});

describe('hostile names from the data', () => {
  it('a column named by an object key is escaped in the table', async () => {
    const r = await run(['query', '--data', data, 'PIVOT (SELECT "key" FROM cloudtrail) ON "key" USING count(*)']);
    expect(r.code).toBe(0);
    expect(r.out).not.toContain('\u001b');
    expect(r.out).not.toContain('\u0007');
    expect(r.out).toContain('x\\u001b[31mred');
  });
});

describe('the shell', () => {
  const shell = (input: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> => run(['query', '--shell', '--data', data], input, env);

  it('runs statements spanning lines, with a continuation prompt, and leaves at the end of input', async () => {
    const r = await shell('SELECT\n  41 + 1\n  AS answer\n;\n');
    expect(r.code).toBe(0);
    expect(r.out).toContain('s3sift> ');
    expect(r.out).toContain('   ...> ');
    expect(r.out).toMatch(/answer\n-+\n42\n/);
  });

  it('a ; inside a string or a line comment does not end the statement', async () => {
    const r = await shell("SELECT 'a;\nb' AS s -- not yet;\n, 2 AS two;\n");
    expect(r.out).toMatch(/a;\\u000ab +2/);
  });

  it('prints an error and goes on', async () => {
    const r = await shell('SELECT nope;\nSELECT 5 AS after;\n');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/error: .*nope/);
    expect(r.out).toMatch(/after\n-+\n5\n/);
  });

  it('.tables lists the tables and views to query, not the internal ones', async () => {
    const r = await shell('CREATE TEMP TABLE mine AS SELECT 1 AS a;\n.tables\n');
    const listed = r.out.split('\n').filter((l) => /^(s3sift> )?[a-z_0-9]+$/.test(l)).map((l) => l.replace('s3sift> ', ''));
    expect(listed).toEqual(expect.arrayContaining(['access_log', 'cloudtrail', 's3_requests', 'mine']));
    expect(r.out).not.toContain('_all_');
  });

  it('.schema shows columns, types and what they mean; another table its columns; an unknown one an error', async () => {
    const r = await shell('.schema cloudtrail\n.schema s3_requests\n.schema nothing_here\nSELECT 1 AS still_here;\n');
    expect(r.out).toMatch(/event_time +TIMESTAMP +\S/);
    expect(r.out).toMatch(/principal_account +VARCHAR/);
    expect(r.out).toContain('error: no table or view named nothing_here');
    expect(r.out).toContain('still_here');
  });

  it('.schema escapes a column name that came from the data', async () => {
    const r = await shell('CREATE TEMP TABLE p AS PIVOT (SELECT "key" FROM cloudtrail) ON "key" USING count(*);\n.schema p\n');
    expect(r.out).toContain('x\\u001b[31mred');
    expect(r.out).not.toContain('\u001b');
  });

  it('.mode changes the format; a bad one is refused; .help lists the commands; .quit leaves', async () => {
    const r = await shell('.mode json\nSELECT 3 AS c;\n.mode xml\n.mode\n.help\n.quit\nSELECT 99 AS never;\n');
    // DuckDB's JSON writer indents rows with a tab, which the shell passes (it cannot command a terminal).
    expect(r.out).toContain('{"columns":[{"name":"c","type":"INTEGER"}],"rows":[\n\t{"c":3}\n]\n}');
    expect(r.out).toContain('error: .mode takes one of table');
    expect(r.out).toContain('mode: json');
    expect(r.out).toContain('.schema [TABLE]');
    expect(r.out).not.toContain('never');
  });

  it('escapes results in every mode', async () => {
    const r = await shell('.mode csv\nSELECT "key" FROM cloudtrail ORDER BY 1;\n');
    expect(r.out).not.toContain('\u001b');
    expect(r.out).toContain('x\\u001b[31mred');
  });

  it('keeps its history, line by line, in $S3SIFT_HISTORY, and works when it cannot be written', async () => {
    const file = join(tmp.dir, 'history');
    await shell('SELECT 1 -- one\n AS h;\n\n.tables\n', { S3SIFT_HISTORY: file });
    expect(readFileSync(file, 'utf8')).toBe('SELECT 1 -- one\n AS h;\n.tables\n');
    const r = await shell('SELECT 8 AS ok;\n', { S3SIFT_HISTORY: join(tmp.dir, 'no-such-folder', 'history') });
    expect([r.code, r.out]).toEqual([0, expect.stringMatching(/ok\n-+\n8\n/)]);
  });

  it('keeps its history readable by you alone (0600): a new file, and one that was readable by others', async () => {
    const fresh = join(tmp.dir, 'history-new');
    await shell('SELECT 1 AS a;\n', { S3SIFT_HISTORY: fresh });
    expect((statSync(fresh).mode & 0o777).toString(8)).toBe('600');
    // A history may hold a CREATE SECRET typed in the shell: one left readable by others is made yours alone.
    const old = join(tmp.dir, 'history-old');
    writeFileSync(old, 'SELECT 0;\n', { mode: 0o644 });
    chmodSync(old, 0o644);
    await shell('SELECT 2 AS b;\n', { S3SIFT_HISTORY: old });
    expect((statSync(old).mode & 0o777).toString(8)).toBe('600');
    expect(readFileSync(old, 'utf8')).toBe('SELECT 0;\nSELECT 2 AS b;\n');
  });

  it('refuses a format a terminal cannot show', async () => {
    const r = await run(['query', '--shell', '--format', 'arrow', '--data', data], 'SELECT 1;\n');
    expect(r.code).toBe(2);
    expect(r.err.split('\n')[0]).toMatch(/^error: the shell shows table, .*json.* \(got --format arrow\): give the SQL to write arrow$/);
  });

  it('says when a statement holds nothing, and goes on', async () => {
    const r = await shell(';\nSELECT 4 AS four;\n');
    expect(r.out).toContain('error: the SQL holds no statement');
    expect(r.out).toMatch(/four\n-+\n4\n/);
  });

  it('refuses --shell with SQL', async () => {
    expect((await run(['query', '--shell', '--data', data, 'SELECT 1'])).code).toBe(2);
  });
});

describe('--print-views', () => {
  it('prints SQL a fresh DuckDB runs to get the same tables, with the same counts', async () => {
    const r = await run(['query', '--print-views', '--data', data]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(join(data, 'cloudtrail'));
    const instance = await DuckDBInstance.create(':memory:');
    const conn = await instance.connect();
    try {
      await conn.run(r.out);
      const sql = "SELECT (SELECT count(*) FROM access_log), (SELECT count(*) FROM cloudtrail), (SELECT count(*) FROM s3_requests), (SELECT count(*) FROM s3_requests WHERE principal_account IS NULL), (SELECT split_part('a', ',', 3) IS NULL)";
      const fresh = (await conn.runAndReadAll(sql)).getRows()[0]?.map(String);
      const ours = await run(['query', '--data', data, '--format', 'csv', sql]);
      expect(ours.out.trim().split('\n')[1]?.split(',')).toEqual(fresh);
      expect(fresh?.slice(0, 3)).toEqual(['0', '3', '3']);
    } finally {
      conn.closeSync();
      instance.closeSync();
    }
  });

  it('refuses SQL with --print-views', async () => {
    expect((await run(['query', '--print-views', '--data', data, 'SELECT 1'])).code).toBe(2);
  });
});
