/**
 * The query shell at a terminal, without one: a stream that says it is a
 * TTY, so readline reads keys (Ctrl-C, Ctrl-D) as it does at a terminal.
 */
import { PassThrough } from 'node:stream';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ExportQuery } from '../../cli/query-run.js';
import { runShell } from '../../cli/query-shell.js';

// The shell needs a connection only (the CLI test runs it over a dataset).
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

/** A stand-in for query/export.ts: each result as JSON rows on a line. */
const exportQuery: ExportQuery = async (conn, sql, _format, out) => {
  const r = await conn.runAndReadAll(sql);
  out.stream.write(`rows ${JSON.stringify(r.getRowsJson())}\n`);
  return { rows: r.currentRowCount };
};

function terminal(exporter: ExportQuery = exportQuery): { input: PassThrough; output: PassThrough; text(): string; done: Promise<void> } {
  const input = Object.assign(new PassThrough(), { isTTY: true });
  const output = Object.assign(new PassThrough(), { isTTY: true, columns: 80 });
  const chunks: string[] = [];
  output.on('data', (b: Buffer) => chunks.push(b.toString('utf8')));
  const done = runShell({ conn, input, output, format: 'table', exportQuery: exporter });
  return { input, output, text: () => chunks.join(''), done };
}

/** Wait until the shell has printed `what` (polled: no time limit of our own). */
async function until(t: { text(): string }, what: string, poke?: () => void): Promise<void> {
  while (!t.text().includes(what)) {
    poke?.();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

it('Ctrl-C drops the statement being typed, lines and all, and the shell goes on; Ctrl-D leaves', async () => {
  const t = terminal();
  t.input.write('SELECT 1\r');
  t.input.write('AS dropped');
  t.input.write('\x03');
  t.input.write('SELECT 2 AS kept;\r');
  await until(t, 'rows [[2]]');
  t.input.write('\x04');
  await t.done;
  expect(t.text()).toContain('^C');
  expect(t.text()).not.toContain('rows [[1]]');
  expect(t.text()).not.toContain('error');
});

it('Ctrl-C stops the statement running, and the shell goes on', async () => {
  const t = terminal();
  t.input.write('SELECT count(*) FROM range(10000000000) a, range(10) b;\r');
  // Ctrl-C until the statement stops: the first may come before it starts.
  await until(t, 'Interrupted', () => t.input.write('\x03'));
  t.input.write('SELECT 3 AS after;\r');
  await until(t, 'rows [[3]]');
  t.input.write('\x04');
  await t.done;
  expect(t.text()).toMatch(/error: statement|error: INTERRUPT/);
});

it('.schema and .tables show names made from data (a PIVOT of hostile values) escaped, on one line each', async () => {
  // A column named by a value (PIVOT), a table named with a line break: neither may act on the terminal or forge a line.
  await conn.run(`CREATE TABLE "made` + '\n' + `up" AS PIVOT (SELECT chr(27) || '[31mRED' || chr(10) || '  forged  VARCHAR' AS a, 1 AS b) ON a USING sum(b)`);
  try {
    const t = terminal();
    t.input.write('.tables\r');
    t.input.write('.schema\r');
    await until(t, 'forged  VARCHAR');
    t.input.write('\x04');
    await t.done;
    const text = t.text();
    expect(text).not.toContain('\x1b[31m');
    expect(text).not.toMatch(/made\r?\nup/);
    expect(text).not.toMatch(/RED\r?\n {2}forged/);
    expect(text).toContain('made\\u000aup');
    expect(text).toContain('\\u001b[31mRED\\u000a  forged  VARCHAR');
  } finally {
    await conn.run(`DROP TABLE "made` + '\n' + `up"`);
  }
});

it('a result streamed in chunks that split a character shows the character whole', async () => {
  // query/export.ts streams: a chunk may end inside a UTF-8 character, and escaping each chunk alone would garble it.
  const bytes = Buffer.from('café ☃\n', 'utf8');
  const split: ExportQuery = async (_conn, _sql, _format, out) => {
    for (let i = 0; i < bytes.length; i++) out.stream.write(bytes.subarray(i, i + 1));
    out.stream.write('END\n');
    return { rows: 1 };
  };
  const t = terminal(split);
  t.input.write('SELECT 1;\r');
  await until(t, 'END');
  t.input.write('\x04');
  await t.done;
  expect(t.text()).toContain('café ☃');
  expect(t.text()).not.toContain('\ufffd');
});

it('a statement left without its ; when the input ends is said not to have run, never dropped in silence', async () => {
  const t = terminal();
  t.input.write('SELECT 5 AS never\r');
  t.input.write('\x04');
  await t.done;
  expect(t.text()).not.toContain('rows [[5]]');
  expect(t.text()).toContain('not run: it has no ; at its end (SELECT 5 AS never)');
});

it('a piped script (no terminal) runs its statements, and says so of one left without its ;', async () => {
  const input = new PassThrough();
  const output = new PassThrough();
  const chunks: string[] = [];
  output.on('data', (b: Buffer) => chunks.push(b.toString('utf8')));
  const done = runShell({ conn, input, output, format: 'table', exportQuery });
  input.end('SELECT 6 AS ran;\nSELECT 7 AS never\n');
  await done;
  expect(chunks.join('')).toContain('rows [[6]]');
  expect(chunks.join('')).not.toContain('rows [[7]]');
  expect(chunks.join('')).toContain('\nnot run: it has no ; at its end (SELECT 7 AS never)');
});

it('input ending in a comment after the last ; ends the shell without a word about it', async () => {
  const input = new PassThrough();
  const output = new PassThrough();
  const chunks: string[] = [];
  output.on('data', (b: Buffer) => chunks.push(b.toString('utf8')));
  const done = runShell({ conn, input, output, format: 'table', exportQuery });
  input.end('SELECT 8 AS ran;\n-- the end\n');
  await done;
  expect(chunks.join('')).toContain('rows [[8]]');
  expect(chunks.join('')).not.toContain('not run');
});

it('Ctrl-C between two statements of one input (none running at that moment) stops the ones after it', async () => {
  let t: ReturnType<typeof terminal> | undefined;
  // The first statement's result is shown, then Ctrl-C comes before the second starts: DuckDB has nothing to interrupt.
  const ctrlCAfterFirst: ExportQuery = async (c, sql, format, out, opts) => {
    const r = await exportQuery(c, sql, format, out, opts);
    const input = t?.input;
    // Readline has seen the key when a listener added after its own hears it.
    if (sql.includes('first') && input) await new Promise<void>((resolve) => (input.once('data', () => setImmediate(resolve)), input.write('\x03')));
    return r;
  };
  t = terminal(ctrlCAfterFirst);
  t.input.write('SELECT 1 AS first; SELECT 2 AS second;\r');
  const shown = t;
  while (!/rows \[\[2\]\]|interrupted/.test(shown.text())) await new Promise((resolve) => setTimeout(resolve, 50));
  t.input.write('\x04');
  await t.done;
  expect(t.text()).toContain('rows [[1]]');
  expect(t.text()).not.toContain('rows [[2]]');
  expect(t.text()).toContain('interrupted: statement 2 of 2 and those after it were not run, 1 statement before it ran');
});
