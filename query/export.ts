/**
 * One SQL statement's result written in a format, at any size, in flat
 * memory: nothing here holds the whole result.
 *
 * - CSV, JSON, NDJSON and Parquet are written by DuckDB's own writers
 *   (`COPY ... TO`), an order of magnitude faster than converting rows in
 *   JavaScript. The query is wrapped so that DuckDB writes what
 *   query/format.ts writes (times as RFC 3339 UTC, integers past 2^53 as
 *   text in JSON, nested values as JSON in CSV, formula cells neutralised);
 *   a result with a type the wrapping does not cover, or a statement that
 *   cannot be a subquery (PRAGMA, EXPLAIN), is converted in JavaScript
 *   instead (same output; DuckDB holds that result whole).
 * - Arrow IPC: DuckDB writes the result to a temporary Parquet file that
 *   parquet-wasm turns into Arrow batches (arrow-parquet.ts); a type
 *   Parquet cannot carry exactly is built batch by batch in JavaScript.
 * - The table and `line` formats are written row by row, and that Arrow
 *   batch by batch, from COPY's NDJSON (rowChunks says why not a streaming
 *   result); the table keeps only the rows it shows.
 * - Repeated column names are made unique (uniqueNames).
 */
import { execFileSync } from 'node:child_process';
import { once, type EventEmitter } from 'node:events';
import { createReadStream, createWriteStream, openSync, closeSync, fstatSync, constants as fsConstants } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { basename, dirname, join } from 'node:path';
import { DuckDBTypeId, StatementType, type DuckDBConnection, type DuckDBPreparedStatement, type DuckDBType } from '@duckdb/node-api';
import { QueryError, UsageError, WriteError, describe } from '../common/errors.js';
import { sqlIdentifier, sqlString } from '../common/sql.js';
import { terminalSafe } from '../common/terminal.js';
import type { ExportFormat } from './finding.js';
import { csv, queryCellText, textTable } from './format.js';
import { columnsOf, rowConverter } from './rows.js';
import { fifoChunks, HandedOverWriteError } from './fifo.js';
import { withoutTrailingSemicolons } from './statements.js';
import { scratchDir } from '../common/scratch-dir.js';

/** Where an export goes: a stream (stdout), and whether it is a terminal; or a file (`--output`). */
export interface ExportSink {
  stream: Writable;
  isTTY: boolean;
  /** Write this file instead (beside it first, then renamed: a failed run leaves no half-written file). */
  path?: string;
}

/** What exportQuery writes to: process.stdout, a file stream, a test's PassThrough. */
export interface Writable {
  write(chunk: string | Uint8Array): boolean;
  once?(event: 'drain', listener: () => void): unknown;
}

export interface ExportOptions {
  /** CSV text cells exactly as they are (no `'` before a formula). */
  csvRaw?: boolean;
  /** The table format shows this many rows at most (default DEFAULT_MAX_ROWS). */
  maxRows?: number;
}

/** How many rows the table format shows unless told. */
export const DEFAULT_MAX_ROWS = 40;

/** Rows a chunked format converts at once: one Arrow batch. */
const BATCH_ROWS = 16_384;

/**
 * Run one SQL statement and write its result to `out` in `format`. Returns
 * how many rows the result had, and for the table how many were shown.
 * Failing SQL is a QueryError; Parquet or Arrow to a terminal a UsageError.
 */
export async function exportQuery(conn: DuckDBConnection, sql: string, format: ExportFormat, out: ExportSink,
  opts: ExportOptions = {}): Promise<{ rows: number; shown?: number }> {
  if ((format === 'parquet' || format === 'arrow') && !out.path && out.isTTY) {
    throw new UsageError(`--format ${format} writes binary data: not to a terminal; use --output FILE or redirect (> FILE)`);
  }
  const st = await lastStatement(conn, sql);
  const q: Q = { conn, st, ...(await describeQuery(conn, st)) };
  if (format === 'parquet' && (st.sql === null || !q.select)) throw new UsageError('--format parquet takes one query (SELECT ...): DuckDB writes it with COPY');
  if (!out.path) return exportTo(q, format, out.stream, opts);
  // Beside the target, so the rename is atomic (same file system).
  const tmp = join(dirname(out.path), `.${basename(out.path)}.s3sift-${process.pid}.tmp`);
  try {
    let result;
    if (format === 'parquet' || ((format === 'csv' || format === 'ndjson') && copyable(q, format, opts))) {
      result = { rows: await copyTo(q, format, tmp, opts) };
    } else {
      const stream = createWriteStream(tmp);
      let failed: Error | undefined;
      // A write error (a full disk) is kept and thrown once the export stops, not left to crash the process.
      stream.on('error', (err) => (failed ??= err));
      try {
        result = await exportTo(q, format, stream, opts);
        if (!failed) await new Promise<void>((resolve) => stream.end(() => resolve()));
      } finally {
        stream.destroy();
        if (!stream.closed) await new Promise<void>((resolve) => stream.once('close', () => resolve()));
      }
      if (failed) throw failed;
    }
    await rename(tmp, out.path);
    return result;
  } catch (err) {
    await rm(tmp, { force: true });
    if (err instanceof QueryError || err instanceof UsageError) throw err;
    throw outputError(out.path, err);
  }
}

/** The statement being exported, and its result's columns. */
interface Q {
  conn: DuckDBConnection;
  st: Statement;
  names: string[];
  types: DuckDBType[];
  /** A query (SELECT, VALUES, FROM, DESCRIBE, SHOW, SUMMARIZE): COPY can wrap it. Not PRAGMA, EXPLAIN, CREATE, ... */
  select: boolean;
}

/** A file --output could not write, and why, in words (the temporary name is not the user's). */
function outputError(path: string, err: unknown): WriteError {
  const code = (err as NodeJS.ErrnoException)?.code;
  const text = describe(err);
  const why = code === 'ENOSPC' || /no space left/i.test(text) ? 'no space left on device'
    : code === 'ENOENT' || /no such file or directory/i.test(text) ? 'its folder does not exist'
      : code === 'EACCES' || /permission denied/i.test(text) ? 'permission denied'
        : code === 'EISDIR' ? 'it is a folder' : text.split('\n')[0];
  return new WriteError(`--output ${path}: cannot write: ${why}; nothing was written there`, { cause: err });
}

/** One statement: its text (COPY can wrap it), or, the last of several, prepared only. */
interface Statement {
  sql: string | null;
  prepared?: DuckDBPreparedStatement;
}

/**
 * Several statements (`CREATE TEMP TABLE ...; SELECT ...`) run in turn and
 * the last one's result is exported, as `runAndReadAll` did.
 */
async function lastStatement(conn: DuckDBConnection, sql: string): Promise<Statement> {
  let count: number;
  let extracted;
  try {
    extracted = await conn.extractStatements(sql);
    count = extracted.count;
  } catch (err) {
    throw new QueryError(describe(err));
  }
  // A trailing `;` cannot stand inside COPY's parentheses (a trailing comment can: the wrapping starts a new line).
  if (count <= 1) return { sql: withoutTrailingSemicolons(sql) };
  try {
    for (let i = 0; i < count - 1; i++) await (await extracted.prepare(i)).run();
    return { sql: null, prepared: await extracted.prepare(count - 1) };
  } catch (err) {
    throw new QueryError(describe(err));
  }
}

/** Whether the statement can be a subquery (`PRAGMA version` says SELECT, yet cannot): COPY writes only what can. */
async function wraps(conn: DuckDBConnection, st: Statement): Promise<boolean> {
  if (st.sql === null) return false;
  try {
    (await conn.prepare(`SELECT * FROM (${st.sql}\n) AS q`)).destroySync();
    return true;
  } catch {
    return false;
  }
}

/** The result's column names and types, without running it; failing SQL is a QueryError. */
async function describeQuery(conn: DuckDBConnection, st: Statement): Promise<{ names: string[]; types: DuckDBType[]; select: boolean }> {
  try {
    const prepared = st.prepared ?? (await conn.prepare(st.sql as string));
    try {
      const names = uniqueNames(Array.from({ length: prepared.columnCount }, (_, i) => prepared.columnName(i)));
      return { names, types: names.map((_, i) => prepared.columnType(i)), select: prepared.statementType === StatementType.SELECT && (await wraps(conn, st)) };
    } finally {
      if (!st.prepared) prepared.destroySync();
    }
  } catch (err) {
    throw new QueryError(describe(err));
  }
}

/**
 * Column names made unique as DuckDB's CSV writer makes them (`a`, `a_1`;
 * DuckDB's names ignore case): JSON rows and Arrow fields are keyed by
 * name, and a repeated name would lose a column.
 */
export function uniqueNames(names: readonly string[]): string[] {
  const taken = new Set(names.map((n) => n.toLowerCase()));
  const seen = new Set<string>();
  return names.map((n) => {
    if (!seen.has(n.toLowerCase())) {
      seen.add(n.toLowerCase());
      return n;
    }
    let k = 1;
    while (taken.has(`${n}_${k}`.toLowerCase())) k++;
    const name = `${n}_${k}`;
    taken.add(name.toLowerCase());
    seen.add(name.toLowerCase());
    return name;
  });
}

async function exportTo(q: Q, format: ExportFormat, stream: Writable, opts: ExportOptions): Promise<{ rows: number; shown?: number }> {
  switch (format) {
    case 'table':
      return table(q, stream, opts.maxRows ?? DEFAULT_MAX_ROWS);
    case 'line':
      return { rows: await lines(q, stream) };
    case 'arrow':
      return { rows: await arrow(q, stream) };
    case 'json':
      return { rows: await json(q, stream, opts) };
    case 'csv':
    case 'ndjson':
    case 'parquet':
      if (format === 'parquet' || copyable(q, format, opts)) return { rows: await copyThrough(q, format, stream, opts) };
      return { rows: await chunked(q, format, stream, opts) };
  }
}

// ---- writing with backpressure ----

/** Write and wait while the stream asks to (a slow pipe must not make the process buffer the result); an error while waiting is thrown. */
async function put(stream: Writable, chunk: string | Uint8Array): Promise<void> {
  // A stream that failed (a full disk) says so here: it would never drain.
  const state = stream as { errored?: Error | null; destroyed?: boolean };
  if (state.errored) throw state.errored;
  if (state.destroyed) throw new Error('the output was closed');
  if (!stream.write(chunk) && stream.once && !state.destroyed) await once(stream as unknown as EventEmitter, 'drain');
}

/**
 * Every row of the result, converted as rows.ts does, a chunk at a time.
 *
 * Not from a streaming result (`conn.stream`): when a query fails part way,
 * DuckDB's C API ends a streaming result as if it were complete (the error
 * is never read: duckdb/duckdb-rs#664), so a failure would pass for a
 * shorter answer. COPY reports it: the rows come from COPY's NDJSON (which
 * writes what rows.ts makes of them, copyColumn), parsed line by line. A
 * result COPY cannot write exactly is read materialised: correct, but held
 * by DuckDB whole.
 */
async function* rowChunks(q: Q): AsyncGenerator<Array<Record<string, unknown>>> {
  if (copyable(q, 'ndjson', {})) {
    let rest = '';
    // A character can be cut between two reads: the decoder keeps its first bytes for the next.
    const utf8 = new StringDecoder('utf8');
    for await (const b of copyBytes(q, 'ndjson', {}, { rows: 0 })) {
      const text = rest + utf8.write(b);
      const end = text.lastIndexOf('\n');
      if (end < 0) {
        rest = text;
        continue;
      }
      rest = text.slice(end + 1);
      yield text.slice(0, end).split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    }
    rest += utf8.end();
    if (rest.trim()) yield [JSON.parse(rest) as Record<string, unknown>];
    return;
  }
  const row = rowConverter(q.names, q.types);
  let result;
  try {
    result = q.st.prepared ? await q.st.prepared.run() : await q.conn.run(q.st.sql as string);
  } catch (err) {
    throw new QueryError(describe(err));
  }
  // Rows as arrays, keyed here by the unique names: the result's own objects would lose a repeated name's column.
  for await (const rows of result.yieldRowsJson()) if (rows.length) yield rows.map((r) => row(Object.fromEntries(q.names.map((n, i) => [n, r[i]]))));
}

// ---- the formats a person reads ----

/** The first `max` rows as the aligned table, and how many rows there were: the rest are counted, never kept. */
async function table(q: Q, stream: Writable, max: number): Promise<{ rows: number; shown: number }> {
  const { names } = q;
  const shown: Array<Record<string, unknown>> = [];
  let rows = 0;
  for await (const chunk of rowChunks(q)) {
    if (shown.length < max) shown.push(...chunk.slice(0, max - shown.length));
    rows += chunk.length;
  }
  // textTable escapes every cell and name for a terminal already.
  await put(stream, textTable(names, shown, 60, queryCellText) + '\n' + tableFooter(rows, shown.length) + '\n');
  return { rows, shown: shown.length };
}

/** `(3 rows)`, or how many were not shown and how to see them. */
export function tableFooter(rows: number, shown: number): string {
  const n = rows.toLocaleString('en-US');
  if (shown >= rows) return `(${n} row${rows === 1 ? '' : 's'})`;
  return `(${n} rows, ${shown.toLocaleString('en-US')} shown; use --format csv or --max-rows for all)`;
}

/** DuckDB's `.mode line`: each column on its own line, `name = value`, names right-aligned, a blank line between rows. */
async function lines(q: Q, stream: Writable): Promise<number> {
  const { names } = q;
  const safe = names.map(terminalSafe);
  const width = safe.reduce((w, n) => Math.max(w, n.length), 0);
  let rows = 0;
  for await (const chunk of rowChunks(q)) {
    const text = chunk.map((r) => {
      rows++;
      return names.map((n, i) => `${(safe[i] as string).padStart(width)} = ${terminalSafe(queryCellText(r[n]))}`).join('\n') + '\n';
    });
    await put(stream, (rows > chunk.length ? '\n' : '') + text.join('\n'));
  }
  return rows;
}

// ---- Arrow, batch by batch ----

async function arrow(q: Q, stream: Writable): Promise<number> {
  const { names, types } = q;
  const [{ RecordBatch, RecordBatchStreamWriter, Table }, { arrowBatches, arrowSchema }] = await Promise.all([import('apache-arrow'), import('./arrow.js')]);
  const columns = columnsOf(names, types);
  const schema = arrowSchema(columns);
  const viaParquet = await arrowViaParquet(q, schema, stream);
  if (viaParquet !== null && viaParquet > 0) return viaParquet;
  const writer = new RecordBatchStreamWriter();
  const bytes = drainer(writer[Symbol.asyncIterator](), stream);
  let rows = 0;
  let pending: Array<Record<string, unknown>> = [];
  // Each batch's bytes are written out (with backpressure) before the next batch is built: memory stays one batch.
  const send = async (batches: Array<InstanceType<typeof RecordBatch>>): Promise<void> => {
    for (const b of batches) {
      writer.write(b);
      await bytes.queued();
    }
  };
  // An empty result (known empty already, when Parquet wrote it) is still a stream with its schema.
  for await (const chunk of viaParquet === 0 ? [] : rowChunks(q)) {
    pending.push(...chunk);
    rows += chunk.length;
    // Batches of exactly BATCH_ROWS rows: the same result is the same bytes, however the reads were cut.
    while (pending.length >= BATCH_ROWS) {
      await send(arrowBatches(schema, columns, pending.slice(0, BATCH_ROWS)));
      pending = pending.slice(BATCH_ROWS);
    }
  }
  // An empty result is still a stream with its schema.
  if (pending.length) await send(arrowBatches(schema, columns, pending));
  if (rows === 0) {
    writer.write(new Table(schema));
    await bytes.queued();
  }
  writer.close();
  await bytes.all();
  return rows;
}

/**
 * The result as Arrow through DuckDB's Parquet writer and parquet-wasm
 * (query/arrow-parquet.ts): how many rows were written, or null when a
 * column has no exact Parquet form (then JavaScript builds it). With no
 * rows nothing is written: the caller writes the schema alone.
 */
async function arrowViaParquet(q: Q, schema: import('apache-arrow').Schema, stream: Writable): Promise<number | null> {
  if (q.st.sql === null || !q.select) return null;
  const { arrowColumn, parquetToArrowStream, ARROW_ROW_GROUP } = await import('./arrow-parquet.js');
  const cols = q.names.map((_, i) => `q.${sqlIdentifier(`c${i}`)}`);
  const exprs = cols.map((c, i) => {
    const t = q.types[i] as DuckDBType;
    return arrowColumn(c, t, String(schema.fields[i]?.type), copyColumn(c, t, 'csv', { csvRaw: true }));
  });
  if (exprs.some((e) => e === null)) return null;
  const select = `SELECT ${exprs.map((e, i) => `${e} AS ${sqlIdentifier(q.names[i] as string)}`).join(', ')} FROM (${q.st.sql}\n) AS q(${cols.map((_, i) => sqlIdentifier(`c${i}`)).join(', ')})`;
  // A copy of the result: removed however the run ends (common/scratch-dir.ts).
  const dir = await scratchDir('s3sift-arrow-');
  try {
    const file = join(dir.path, 'result.parquet');
    const copied = await runCopy(q, `COPY (${select}) TO ${sqlString(file)} (FORMAT PARQUET, COMPRESSION snappy, ROW_GROUP_SIZE ${ARROW_ROW_GROUP})`);
    const rows = await parquetToArrowStream(file, schema, (b) => put(stream, b));
    // Every row DuckDB wrote, or an error: never a shorter answer.
    if (rows !== copied) throw new Error(`the Arrow export read ${rows} rows back of the ${copied} DuckDB wrote`);
    return rows;
  } finally {
    await dir.remove();
  }
}

/**
 * Writes out what the Arrow writer queues. The writer queues its bytes as
 * a batch is written; its iterator answers at once while bytes are queued,
 * so racing it against an answered promise tells "queued" from "nothing yet".
 */
function drainer(it: AsyncIterator<Uint8Array>, stream: Writable): { queued(): Promise<void>; all(): Promise<void> } {
  const IDLE = Symbol('idle');
  let next = it.next();
  const drain = async (toEnd: boolean): Promise<void> => {
    for (;;) {
      const r = toEnd ? await next : await Promise.race([next, Promise.resolve(IDLE)]);
      if (r === IDLE || r.done) return;
      next = it.next();
      await put(stream, r.value);
    }
  };
  return { queued: () => drain(false), all: () => drain(true) };
}

// ---- CSV, JSON, NDJSON: JavaScript, chunk by chunk (types the COPY wrapping does not cover) ----

async function chunked(q: Q, format: 'csv' | 'ndjson', stream: Writable, opts: ExportOptions): Promise<number> {
  const { names } = q;
  let rows = 0;
  let first = true;
  for await (const chunk of rowChunks(q)) {
    rows += chunk.length;
    if (format === 'ndjson') await put(stream, chunk.map((r) => JSON.stringify(r) + '\n').join(''));
    else {
      const text = csv(names, chunk, { raw: opts.csvRaw });
      await put(stream, first ? text : text.slice(text.indexOf('\n') + 1));
    }
    first = false;
  }
  if (format === 'csv' && first) await put(stream, csv(names, [], { raw: opts.csvRaw }) || csvHeader(names, opts));
  return rows;
}

/** The header line alone, for a result with no rows. */
function csvHeader(names: string[], opts: ExportOptions): string {
  const one = csv(names, [Object.fromEntries(names.map((n) => [n, null]))], { raw: opts.csvRaw });
  return one.slice(0, one.indexOf('\n') + 1);
}

/** `{"columns":[...],"rows":[...]}`, streamed: the header, the rows, then `]}`. */
async function json(q: Q, stream: Writable, opts: ExportOptions): Promise<number> {
  const { names, types } = q;
  const header = `{"columns":${JSON.stringify(columnsOf(names, types))},"rows":`;
  let rows: number;
  if (copyable(q, 'json', opts)) {
    rows = await copyThrough(q, 'json', stream, opts, header);
    await put(stream, '}\n');
    return rows;
  }
  await put(stream, header);
  rows = 0;
  for await (const chunk of rowChunks(q)) {
    await put(stream, (rows ? ',' : '[') + chunk.map((r) => JSON.stringify(r)).join(','));
    rows += chunk.length;
  }
  await put(stream, (rows ? ']' : '[]') + '}\n');
  return rows;
}

// ---- DuckDB's writers (COPY) ----

type CopyFormat = 'csv' | 'ndjson' | 'json' | 'parquet';

/**
 * Characters JavaScript's `\s` matches (query/format.ts FORMULA_START uses
 * it), spelt out for RE2, whose `\s` is ASCII only.
 */
const JS_SPACE = '\\t\\n\\x{0b}\\f\\r \\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}\\x{feff}';

/** query/format.ts FORMULA_START and PLAIN_NUMBER in RE2 (DuckDB's regular expressions); a test holds them to csvSafeText. */
const SQL_FORMULA_START = `^[${JS_SPACE}\\x{a0}\\x{200b}\\x{3000}\\x{feff}]*[=+\\-@\\t\\r\\x{ff1d}\\x{ff0b}\\x{ff0d}\\x{ff20}]`;
const SQL_PLAIN_NUMBER = '^-?[0-9]+(\\.[0-9]+)?$';

/**
 * A VARCHAR expression neutralised as csvSafeText does. Most cells start
 * with a letter or a digit and are let through by byte comparisons alone
 * (the guard lets through every cell whose first byte is not ASCII, or is
 * one of the ASCII characters FORMULA_START can start with: below `0`, or
 * `=` to `@`); only the rest meet the regular expressions. 38 text columns
 * of 1M CloudTrail rows to CSV: no measurable cost, where the regular
 * expressions on every cell cost about a second.
 */
export function sqlCsvSafe(expr: string): string {
  const guard = `(${expr} < '0' OR (${expr} >= '=' AND ${expr} < 'A') OR ${expr} >= chr(128))`;
  return `CASE WHEN ${guard} AND regexp_matches(${expr}, ${sqlString(SQL_FORMULA_START)}) AND NOT regexp_matches(${expr}, ${sqlString(SQL_PLAIN_NUMBER)}) THEN '''' || ${expr} ELSE ${expr} END`;
}

const TIMES = new Set([DuckDBTypeId.TIMESTAMP, DuckDBTypeId.TIMESTAMP_MS, DuckDBTypeId.TIMESTAMP_S, DuckDBTypeId.TIMESTAMP_NS]);
const BIG_INTS = new Set([DuckDBTypeId.BIGINT, DuckDBTypeId.UBIGINT, DuckDBTypeId.HUGEINT, DuckDBTypeId.UHUGEINT]);
/** Types DuckDB's writers write as rows.ts converts them, as they are. */
const AS_IS = new Set([DuckDBTypeId.VARCHAR, DuckDBTypeId.BOOLEAN, DuckDBTypeId.TINYINT, DuckDBTypeId.SMALLINT, DuckDBTypeId.INTEGER,
  DuckDBTypeId.UTINYINT, DuckDBTypeId.USMALLINT, DuckDBTypeId.UINTEGER, DuckDBTypeId.DOUBLE, DuckDBTypeId.DATE, DuckDBTypeId.UUID]);

/** A nested type whose every part DuckDB writes as rows.ts converts it (no times, no big integers, no JSON inside). */
function plainNested(t: DuckDBType): boolean {
  if (t.alias === 'JSON') return false;
  if (AS_IS.has(t.typeId) && t.typeId !== DuckDBTypeId.UUID) return true;
  if (t.typeId === DuckDBTypeId.LIST || t.typeId === DuckDBTypeId.ARRAY) return plainNested((t as unknown as { valueType: DuckDBType }).valueType);
  if (t.typeId === DuckDBTypeId.STRUCT) return (t as unknown as { entryTypes: DuckDBType[] }).entryTypes.every(plainNested);
  return false;
}

const ISO = "'%Y-%m-%dT%H:%M:%S.%gZ'";
/** Characters that send a JSON cell to be parsed: JSON's whitespace (tab, line feed, carriage return, space; RFC 8259 section 2) and the backslash that starts an escape. */
const JSON_PARSED_IF = [9, 10, 13, 32, 92];
const SAFE_INT = 9007199254740991;

/**
 * The expression that writes column `c` in `format` as query/format.ts
 * would, or null when there is none (the export then converts in JavaScript).
 */
function copyColumn(c: string, t: DuckDBType, format: CopyFormat, opts: ExportOptions): string | null {
  if (format === 'parquet') return c;
  const text = (e: string): string => (format === 'csv' && !opts.csvRaw ? sqlCsvSafe(e) : e);
  if (t.alias === 'JSON') {
    if (format !== 'csv') return c;
    // rows.ts parses JSON: null is NULL, a string is text (neutralised), anything else JSON, minified.
    const parsed = `CASE json_type(${c}) WHEN 'NULL' THEN NULL WHEN 'VARCHAR' THEN ${text(`(${c} ->> '$')`)} ELSE json(${c})::VARCHAR END`;
    // JSON text as ingest and to_json write it (no whitespace, no escape) is written as it is: it is told apart by its
    // first character without being parsed, which costs a parse per cell (1M CloudTrail rows: over a second). Text with
    // whitespace or an escape is parsed (minified, escapes spelt out). Numbers keep their spelling in the text as it is
    // (`1e2`), and take DuckDB's in parsed text (`100.0`): the same value; telling them apart cost 0.8 s a million rows.
    const s = `${c}::VARCHAR`;
    const minified = `CASE WHEN ${s} = 'null' THEN NULL WHEN ord(${s}) = 34 THEN ${text(`(${c} ->> '$')`)} ELSE ${s} END`;
    return `CASE WHEN ${JSON_PARSED_IF.map((ch) => `contains(${s}, chr(${ch}))`).join(' OR ')} THEN ${parsed} ELSE ${minified} END`;
  }
  if (TIMES.has(t.typeId)) return `strftime(${c}, ${ISO})`;
  if (t.typeId === DuckDBTypeId.TIMESTAMP_TZ) return `strftime(timezone('UTC', ${c}), ${ISO})`;
  if (BIG_INTS.has(t.typeId)) {
    if (format === 'csv') return c;
    // JSON numbers past 2^53 lose digits in most readers: rows.ts writes those as text.
    return `CASE WHEN ${c} BETWEEN -${SAFE_INT} AND ${SAFE_INT} THEN to_json(${c}) ELSE to_json(${c}::VARCHAR) END`;
  }
  if (t.typeId === DuckDBTypeId.DECIMAL) return `${c}::DOUBLE`;
  if (t.typeId === DuckDBTypeId.VARCHAR) return text(c);
  if (AS_IS.has(t.typeId)) return c;
  if ((t.typeId === DuckDBTypeId.LIST || t.typeId === DuckDBTypeId.ARRAY || t.typeId === DuckDBTypeId.STRUCT) && plainNested(t)) {
    return format === 'csv' ? `to_json(${c})::VARCHAR` : c;
  }
  return null;
}

/** Whether DuckDB's COPY can write this result in `format` as query/format.ts would. */
function copyable(q: Q, format: CopyFormat, opts: ExportOptions): boolean {
  return q.st.sql !== null && q.select && copyPlan(q.names, q.types, format, opts) !== null;
}

/** The wrapped query COPY writes, and which output columns are text (CSV quotes them all), or null when a column has no exact SQL form. */
function copyPlan(names: string[], types: DuckDBType[], format: CopyFormat, opts: ExportOptions): { select: (sql: string) => string; text: string[] } | null {
  const cols = names.map((_, i) => `q.${sqlIdentifier(`c${i}`)}`);
  const exprs = cols.map((c, i) => copyColumn(c, types[i] as DuckDBType, format, opts));
  if (exprs.some((e) => e === null)) return null;
  const outNames = names.map((n) => (format === 'csv' && !opts.csvRaw ? csvHeaderName(n) : n));
  const text = outNames.filter((_, i) => format === 'csv' && !opts.csvRaw && (types[i]?.typeId === DuckDBTypeId.VARCHAR || types[i]?.alias === 'JSON'));
  // The statement's own column names are renamed positionally: any name (a duplicate, a quote) is safe.
  const select = (sql: string): string => `SELECT ${exprs.map((e, i) => `${e} AS ${sqlIdentifier(outNames[i] as string)}`).join(', ')} FROM (${sql}\n) AS q(${cols.map((_, i) => sqlIdentifier(`c${i}`)).join(', ')})`;
  return { select, text };
}

/** A header name neutralised as csv() does it. */
function csvHeaderName(name: string): string {
  const line = csv([name], []);
  return line ? (parseFirstField(line) ?? name) : name;
}

function parseFirstField(line: string): string | null {
  const l = line.replace(/\r?\n$/, '');
  if (!l.startsWith('"')) return l;
  return l.slice(1, -1).replaceAll('""', '"');
}

function copyOptions(format: CopyFormat, text: string[]): string {
  switch (format) {
    case 'csv':
      // Every text cell quoted, as csv() quotes a neutralised one: the `'` is then plainly part of the cell. NULL stays an empty field.
      return `FORMAT CSV, HEADER true${text.length ? `, FORCE_QUOTE (${text.map(sqlIdentifier).join(', ')})` : ''}`;
    case 'ndjson':
      return 'FORMAT JSON';
    case 'json':
      return 'FORMAT JSON, ARRAY true';
    case 'parquet':
      return 'FORMAT PARQUET';
  }
}

/** COPY the result to `file`; returns how many rows. */
async function copyTo(q: Q, format: CopyFormat, file: string, opts: ExportOptions): Promise<number> {
  const plan = copyPlan(q.names, q.types, format, opts);
  if (!plan || q.st.sql === null) throw new Error(`no COPY form for ${format}`);
  return runCopy(q, `COPY (${plan.select(q.st.sql)}) TO ${sqlString(file)} (${copyOptions(format, plan.text)})`);
}

/** Run a COPY statement; returns how many rows it wrote. DuckDB's failures are a QueryError, or a WriteError when it could not write. */
async function runCopy(q: Q, copy: string): Promise<number> {
  let r;
  // Rows in the order DuckDB makes them, unless the query says ORDER BY (SQL promises no other order): a COPY
  // that keeps insertion order holds rows back while threads finish out of turn, and grows with the result
  // (1M CloudTrail rows to CSV: 1.0 GB against 185 MB, and slower). The user's own setting comes back after.
  const kept = String((await q.conn.runAndReadAll("SELECT current_setting('preserve_insertion_order')")).getRows()[0]?.[0]);
  try {
    await q.conn.run('SET preserve_insertion_order = false');
    r = await q.conn.run(copy);
  } catch (err) {
    const text = describe(err);
    // DuckDB says which file it could not write: that is a write error, not the SQL's.
    if (/^IO Error|No space left|Permission denied/i.test(text)) throw new WriteError(text, { cause: err });
    throw new QueryError(text);
  } finally {
    await q.conn.run(`SET preserve_insertion_order = ${kept === 'false' ? 'false' : 'true'}`);
  }
  return Number(r.rowsChanged);
}

/**
 * COPY the result to a stream. DuckDB writes a file by name, never a Node
 * stream, so it writes into a named pipe (FIFO) this process reads and
 * forwards with backpressure: the bytes stream through in flat memory,
 * whatever the sink is (a pipe, a file, a test's buffer), and nothing Node
 * has buffered can interleave with them. (`COPY TO '/dev/stdout'` is not
 * used: when stdout is a file it reopens it, truncates it and writes from
 * its start, over what Node wrote.) Where there are no FIFOs (Windows) it
 * writes a temporary file and then copies it.
 */
async function copyThrough(q: Q, format: CopyFormat, stream: Writable, opts: ExportOptions, prefix = ''): Promise<number> {
  const copied = { rows: 0 };
  // The first HOLD bytes (and `prefix`, JSON's header) wait: a query that fails before it has written that much
  // (most do: an error binding a file, a bad cast in an aggregate) writes nothing at all, not a start of a document.
  let held: Buffer[] | null = [Buffer.from(prefix)];
  let size = 0;
  const out = handOverFd(stream);
  // Once the held bytes are out, standard output (a file or a pipe) is written by the worker reading DuckDB's pipe.
  const handOver = (): number | null => (out !== null && held === null && process.stdout.writableLength === 0 ? out.fd : null);
  try {
    for await (const b of copyBytes(q, format, opts, copied, handOver)) {
      if (held === null) {
        await put(stream, b);
        continue;
      }
      held.push(b);
      size += b.length;
      if (size >= HOLD) {
        await put(stream, Buffer.concat(held));
        held = null;
      }
    }
  } catch (err) {
    if (!(err instanceof HandedOverWriteError)) throw err;
    // As a write of the stream's own would: its error handler decides (bin/s3sift ends quietly on EPIPE: `| head`).
    if (err.code === 'EPIPE') process.stdout.emit('error', Object.assign(new Error(err.message), { code: err.code }));
    throw new WriteError(`cannot write standard output: ${err.message}`, { cause: err });
  } finally {
    out?.close();
  }
  if (held !== null) await put(stream, Buffer.concat(held));
  return copied.rows;
}

/**
 * The file descriptor the FIFO's reader may write to itself (fifo.ts
 * handOver), sparing the main thread a copy of every byte: standard output
 * when it is a file or a pipe, and nothing it was given still waits (Node
 * writes both at once on POSIX). Not a terminal, a socket, or any other
 * stream. A pipe is opened again (Linux's /proc/self/fd/1): Node made
 * standard output's descriptor non-blocking, and a worker writing to it
 * would have to sleep whenever the pipe is full. A file is written through
 * descriptor 1 itself, so at its offset.
 */
function handOverFd(stream: Writable): { fd: number; close(): void } | null {
  if (stream !== process.stdout || process.platform !== 'linux') return null;
  try {
    const st = fstatSync(1);
    if (st.isFile()) return { fd: 1, close: () => undefined };
    if (!st.isFIFO()) return null;
    const fd = openSync('/proc/self/fd/1', fsConstants.O_WRONLY);
    return { fd, close: () => closeSync(fd) };
  } catch {
    return null;
  }
}

/** How many bytes of COPY's output wait before any is written (copyThrough). */
const HOLD = 1 << 20;

/** The bytes DuckDB's COPY writes, as they come; a failed COPY is thrown after the bytes it wrote. `copied.rows` is set at the end. */
async function* copyBytes(q: Q, format: CopyFormat, opts: ExportOptions, copied: { rows: number },
  handOver: () => number | null = () => null): AsyncGenerator<Buffer> {
  const dir = await scratchDir('s3sift-export-');
  const path = join(dir.path, `out.${format}`);
  try {
    let fifo = true;
    try {
      execFileSync('mkfifo', ['-m', '600', path], { stdio: 'ignore' });
    } catch {
      fifo = false;
    }
    if (!fifo) {
      copied.rows = await copyTo(q, format, path, opts);
      for await (const b of createReadStream(path)) yield b as Buffer;
      return;
    }
    const reader = fifoChunks(path);
    let ended = false;
    const copying = copyTo(q, format, path, opts).then((rows) => ({ rows }), (err: unknown) => ({ err }));
    // A COPY that fails before it opens the FIFO leaves the reader waiting for a writer.
    void copying.then((r) => ('err' in r ? unblock(path, () => ended) : undefined));
    try {
      // The reader gone (the consumer stopped), DuckDB's next write fails and the COPY ends.
      let handedOver = false;
      for await (const b of reader) {
        yield b;
        const fd = handedOver ? null : handOver();
        if (fd !== null) handedOver = reader.handOver(fd);
      }
    } finally {
      ended = true;
    }
    const r = await copying;
    if ('err' in r) throw r.err;
    copied.rows = r.rows;
  } finally {
    await dir.remove();
  }
}

/**
 * When COPY fails before it opened the FIFO, the reader still waits in
 * open() for a writer: open and close it once for writing so it sees the end.
 */
async function unblock(path: string, ended: () => boolean): Promise<void> {
  // Until the reader has opened it (its worker may start late on a loaded machine), opening for writing fails (ENXIO).
  while (!ended()) {
    try {
      closeSync(openSync(path, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK));
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}
