/**
 * `s3sift query`'s interactive shell: SQL over the opened dataset, typed a
 * statement at a time (a statement ends with `;` as DuckDB's parser sees
 * it, and may span lines), plus a few dot-commands. It takes its input and
 * output as streams, so a test drives it without a terminal. Everything it
 * prints is for a person at a terminal: all of it, results in any format
 * too, is escaped (log content is hostile).
 */
import { open, readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { DuckDBConnection } from '@duckdb/node-api';
import { UsageError, describe } from '../common/errors.js';
import { terminalSafe } from '../common/terminal.js';
import { TABLES } from '../ingest/schema.js';
import { EXPORT_FORMATS, type ExportFormat } from '../query/finding.js';
import type { Out, TextOut } from './command.js';
import { runStatements, type ExportQuery } from './query-run.js';
import { escapingOut, textOut } from './terminal-io.js';

const PROMPT = 's3sift> ';
const CONTINUE = '   ...> ';
/** Lines of history kept. */
const HISTORY_SIZE = 1000;
/** The formats `.mode` offers: text a terminal can show (arrow and parquet are binary). */
export const SHELL_FORMATS: readonly ExportFormat[] = EXPORT_FORMATS.filter((f) => ['table', 'line', 'csv', 'json', 'ndjson'].includes(f));

export interface ShellOptions {
  conn: DuckDBConnection;
  input: Readable;
  output: Out;
  format: ExportFormat;
  csvRaw?: boolean;
  /** The history file; none: no history kept. One that cannot be read or written is passed over. */
  historyFile?: string;
  exportQuery: ExportQuery;
}

const HELP = `Type SQL (DuckDB's dialect); a statement ends with ; and may span lines.
Tables: access_log, cloudtrail, s3_requests (docs/dataset.md).
  .tables          the tables and views
  .schema [TABLE]  columns, their types and meaning
  .mode FORMAT     how results are shown: ${SHELL_FORMATS.join(', ')}
  .help            this help
  .quit, .exit     leave (Ctrl-D too)
Ctrl-C cancels the statement running or being typed.`;

/** What the shell reads: a line, a Ctrl-C, or the end of its input (Ctrl-D). */
type ShellEvent = { line: string } | 'interrupt' | 'end';

/** Run the shell until its input ends or `.quit`. */
export async function runShell(o: ShellOptions): Promise<void> {
  if (!SHELL_FORMATS.includes(o.format)) throw new UsageError(`the shell shows ${SHELL_FORMATS.join(', ')} (got --format ${o.format}): give the SQL to write ${o.format}`);
  const text = textOut(o.output);
  const terminal = o.output.isTTY === true && (o.input as { isTTY?: boolean }).isTTY === true;
  const history = await loadHistory(o.historyFile);
  const rl = createInterface({ input: o.input, output: o.output as NodeJS.WritableStream, terminal, history, historySize: HISTORY_SIZE, removeHistoryDuplicates: true, prompt: PROMPT });
  let format = o.format;
  let buffer = '';
  let running = false;
  // A Ctrl-C while a run is on, also one that comes between two of its statements (DuckDB then has nothing to interrupt).
  let interrupted = false;
  // Lines and Ctrl-C in the order they came: a Ctrl-C drops the lines typed before it, not after.
  const events: ShellEvent[] = [];
  let wake: (() => void) | undefined;
  const push = (e: ShellEvent): void => {
    events.push(e);
    wake?.();
  };
  rl.on('line', (line) => push({ line }));
  rl.on('close', () => push('end'));
  // Ctrl-C stops the statement running at once; else it drops what is typed. It never leaves.
  rl.on('SIGINT', () => {
    if (running) {
      interrupted = true;
      return o.conn.interrupt();
    }
    // The part of a line typed so far goes too (the end, then delete to its start).
    rl.write(null, { ctrl: true, name: 'e' });
    rl.write(null, { ctrl: true, name: 'u' });
    push('interrupt');
  });
  const next = async (): Promise<ShellEvent> => {
    while (!events.length) await new Promise<void>((resolve) => (wake = resolve));
    return events.shift() as ShellEvent;
  };
  text.write(`s3sift query shell: .help for help, .quit or Ctrl-D to leave\n`);
  rl.prompt();
  for (let e = await next(); e !== 'end'; e = await next()) {
    if (e === 'interrupt') {
      buffer = '';
      text.write('^C\n');
    } else if (!buffer && e.line.trim().startsWith('.')) {
      const line = e.line.trim();
      await remember(o.historyFile, line);
      const word = line.split(/\s+/)[0];
      if (word === '.quit' || word === '.exit') break;
      format = await dotCommand(o.conn, line, format, text);
    } else if (buffer || e.line.trim()) {
      buffer += (buffer ? '\n' : '') + e.line;
      // The history holds lines as typed, as readline recalls them: joined, a line comment would swallow the lines after it.
      if (e.line.trim()) await remember(o.historyFile, e.line);
      const { inputComplete } = await import('../query/statements.js');
      if (await inputComplete(o.conn, buffer)) {
        const sql = buffer;
        buffer = '';
        running = true;
        interrupted = false;
        try {
          await runStatements(o.conn, sql, { text, out: { stream: escapingOut(o.output), isTTY: terminal }, format, csvRaw: o.csvRaw, exportQuery: o.exportQuery, interrupted: () => interrupted });
        } catch (err) {
          text.line(`error: ${describe(err)}`);
        } finally {
          running = false;
        }
      }
    }
    rl.setPrompt(buffer ? CONTINUE : PROMPT);
    rl.prompt();
  }
  rl.close();
  // The input ended inside a statement (a piped script whose last statement has no ;, Ctrl-D): it did not run, and that is said.
  if (buffer.trim()) {
    const { firstWords, holdsStatement } = await import('../query/statements.js');
    if (await holdsStatement(o.conn, buffer)) {
      text.write('\n');
      text.line(`not run: it has no ; at its end (${firstWords(buffer)})`);
    }
  }
  text.write('\n');
}

/** Run a dot-command; returns the output format (`.mode` changes it). */
async function dotCommand(conn: DuckDBConnection, line: string, format: ExportFormat, text: TextOut): Promise<ExportFormat> {
  const [word, ...args] = line.split(/\s+/);
  try {
    switch (word) {
      case '.help':
        text.write(HELP + '\n');
        break;
      case '.tables':
        // A name may hold a line break (a table made by a PIVOT of values): one line per name, escaped.
        text.write((await tableNames(conn)).map(terminalSafe).join('\n') + '\n');
        break;
      case '.schema':
        text.write(await schema(conn, args[0]));
        break;
      case '.mode':
        if (args[0] === undefined) text.line(`mode: ${format}`);
        else {
          const chosen = SHELL_FORMATS.find((f) => f === args[0]);
          if (chosen) return chosen;
          text.line(`error: .mode takes one of ${SHELL_FORMATS.join(', ')} (got ${args[0]})`);
        }
        break;
      default:
        text.line(`error: unknown command ${word ?? ''}: .help lists them`);
    }
  } catch (err) {
    text.line(`error: ${describe(err)}`);
  }
  return format;
}

/** The tables and views to query: the dataset's and those made in this session; the internal ones (`_all_...`) left out. */
async function tableNames(conn: DuckDBConnection): Promise<string[]> {
  const r = await conn.runAndReadAll(`SELECT DISTINCT table_name FROM information_schema.tables WHERE NOT starts_with(table_name, '_') ORDER BY 1`);
  return r.getRows().map((row) => String(row[0]));
}

/** `.schema`: every table's columns, or one table's; the dataset's tables with what each column means. */
async function schema(conn: DuckDBConnection, table?: string): Promise<string> {
  const names = table === undefined ? await tableNames(conn) : [table];
  const parts: string[] = [];
  for (const name of names) {
    const spec = TABLES.find((t) => t.name === name);
    if (spec) {
      const width = Math.max(...spec.columns.map((c) => c.name.length));
      parts.push(`${spec.name}: ${spec.doc}\n${spec.columns.map((c) => `  ${c.name.padEnd(width)}  ${c.type.padEnd(9)}  ${c.doc}`).join('\n')}\n  ${'date'.padEnd(width)}  DATE       the date partition (UTC)`);
      continue;
    }
    // Names may come from data (a PIVOT's columns are its values): each escaped before it is padded, so a line break cannot forge a line.
    const cols = (await columnsOf(conn, name)).map(([c, t]) => [terminalSafe(c), terminalSafe(t)] as const);
    if (!cols.length) throw new Error(`no table or view named ${name} (.tables lists them)`);
    const width = Math.max(...cols.map(([c]) => c.length));
    parts.push(`${terminalSafe(name)}\n${cols.map(([c, t]) => `  ${c.padEnd(width)}  ${t}`).join('\n')}`);
  }
  return parts.join('\n\n') + '\n';
}

async function columnsOf(conn: DuckDBConnection, table: string): Promise<Array<[string, string]>> {
  const r = await conn.runAndReadAll('SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $name ORDER BY ordinal_position', { name: table });
  return r.getRows().map((row) => [String(row[0]), String(row[1])]);
}

/** The history, newest first (as readline takes it); none when the file is missing or unreadable. */
async function loadHistory(file?: string): Promise<string[]> {
  if (!file) return [];
  try {
    return (await readFile(file, 'utf8')).split('\n').filter(Boolean).slice(-HISTORY_SIZE).reverse();
  } catch {
    return [];
  }
}

/**
 * Add an entry to the history file, readable by its owner alone: SQL typed here may hold a secret (CREATE SECRET), so
 * a history others can read (made before, or by hand) is made 0600 too. One that cannot be written is passed over.
 */
async function remember(file: string | undefined, entry: string): Promise<void> {
  if (!file) return;
  try {
    const fh = await open(file, 'a', 0o600);
    try {
      if ((await fh.stat()).mode & 0o077) await fh.chmod(0o600);
      await fh.appendFile(entry + '\n');
    } finally {
      await fh.close();
    }
  } catch {
    // No history then: a read-only home is no reason to stop.
  }
}
