/**
 * The bulk write path. Parsers stage rows as tab-separated text in one
 * temporary file per date; each file, once complete, becomes one zstd
 * Parquet file through a DuckDB `COPY ... TO`, which casts the text to the
 * declared types. The COPYs run in DuckDB's threads while Node goes on
 * parsing, and no value crosses into native code one at a time (an appender
 * call per value costs more than the parsing). Node splits by date itself:
 * DuckDB's PARTITION_BY buffers every row before writing and took twice as
 * long and three times the memory here.
 *
 * How each declared type is staged:
 * - TIMESTAMP: epoch milliseconds (`epoch_ms`), so no time text is parsed twice;
 * - VARCHAR[]: the items joined by single spaces (items hold no spaces);
 * - `source_file`: the index of the source in this run, mapped back to its name;
 * - everything else as itself; an empty field is NULL, and so is `-` in the
 *   columns a table's stager names (`dashIsNull`: the access log's fields,
 *   copied as logged), which are read as text and cast in the SELECT.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { writeError } from '../common/errors.js';
import { sqlIdentifier, sqlString } from '../common/sql.js';
import { dayText } from '../common/time.js';
import { DIR_MODE, FILE_MODE, ownerOnly } from './modes.js';
import { STAGING_QUOTE, TsvWriter } from './tsv-writer.js';
import type { ColumnSpec, TableSpec } from './schema.js';

/** Longest staged row DuckDB is told to expect; parsers refuse longer records. */
export const MAX_STAGED_ROW = 16 << 20;

/**
 * Rows per Parquet row group. DuckDB's Parquet writer holds each row group in
 * memory until it is written: at its default (122,880 rows) a COPY of 80 MB
 * of access-log rows peaked at 340 MB RSS and peak RSS grew with the input
 * (520 MB at 1M lines); at 10,000 rows it peaked at 230 MB, the 1M-line
 * ingest stayed near 300-390 MB, ran 10-20% faster, and the files were the
 * same size within 0.1%.
 */
export const ROW_GROUP_ROWS = 10_000;
/**
 * ... and at most this many bytes per row group, for wide rows: CloudTrail
 * rows (1.5-2 KB with their JSON) at 10,000 rows per group peaked at 520-570
 * MB for 300,000 records; at 4 MB per group (about 2,000 rows) at 380 MB.
 */
export const ROW_GROUP_BYTES = `'4MB'`;

/** Type DuckDB's CSV reader is told for a staged column. */
function stagedType(c: ColumnSpec, dashIsNull: readonly string[]): string {
  if (c.name === 'source_file') return 'INTEGER';
  if (dashIsNull.includes(c.name)) return 'VARCHAR';
  if (c.type === 'TIMESTAMP') return 'BIGINT';
  if (c.type === 'VARCHAR[]' || c.type === 'JSON') return 'VARCHAR';
  return c.type;
}

/** Expression that turns a staged column into the declared one. */
function finalExpr(c: ColumnSpec, dashIsNull: readonly string[]): string {
  const q = sqlIdentifier(c.name);
  if (c.name === 'source_file') return `src.names[t.${q} + 1] AS ${q}`;
  if (dashIsNull.includes(c.name)) {
    const v = `NULLIF(t.${q}, '-')`;
    return c.type === 'VARCHAR' ? `${v} AS ${q}` : `CAST(${v} AS ${c.type}) AS ${q}`;
  }
  if (c.type === 'TIMESTAMP') return `epoch_ms(t.${q}) AS ${q}`;
  if (c.type === 'VARCHAR[]') return `coalesce(string_split(t.${q}, ' '), []::VARCHAR[]) AS ${q}`;
  if (c.type === 'JSON') return `CAST(t.${q} AS JSON) AS ${q}`;
  return `t.${q}`;
}

/**
 * The `COPY` that turns one staged file into one Parquet file. Columns in
 * `dashIsNull` are staged as text where `-` stands for NULL. A row's
 * `source_file` is its index in the run's list of names (0-based, dense):
 * looked up in that list, not joined with the table of names, whose hash
 * join grew DuckDB's memory with the staged file (a 256 MB file of 100,000
 * sources' rows: 750 MB against 195 MB, and 50% slower).
 */
export function stagingCopySql(table: TableSpec, input: string, output: string, sourcesTable: string, dashIsNull: readonly string[] = []): string {
  const columns = table.columns.map((c) => `${sqlString(c.name)}: ${sqlString(stagedType(c, dashIsNull))}`).join(', ');
  const select = table.columns.map((c) => finalExpr(c, dashIsNull)).join(',\n    ');
  const quote = sqlString(String.fromCharCode(STAGING_QUOTE));
  return `COPY (
  SELECT
    ${select}
  FROM read_csv(${sqlString(input)}, delim = '\\t', quote = ${quote}, escape = ${quote}, header = false,
                auto_detect = false, new_line = '\\n', max_line_size = ${MAX_STAGED_ROW}, buffer_size = ${2 * MAX_STAGED_ROW},
                columns = {${columns}}) AS t
  CROSS JOIN (SELECT list(name ORDER BY idx) AS names FROM ${sourcesTable}) AS src
) TO ${sqlString(output)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${ROW_GROUP_ROWS}, ROW_GROUP_SIZE_BYTES ${ROW_GROUP_BYTES})`;
}

/** Staged rows of one date not yet handed to DuckDB. */
interface DateFile {
  /** `day * 2 + part`. */
  key: number;
  day: number;
  writer: TsvWriter;
  /**
   * Opened when its first bytes are written out (-1 until then, and while
   * parked): the rows of a chunk can span thousands of dates, and a file
   * opened for each stopped the run at the descriptor limit (EMFILE) before
   * `tick` could convert any.
   */
  fd: number;
  path: string;
  bytes: number;
  /** Row sequence number of its last row, to tell when a date has gone quiet. */
  lastRow: number;
}

export interface StageOptions {
  /** A date file this large is converted even while its date goes on (bytes). */
  maxFileBytes?: number;
  /** A date with no row among the last this many rows is taken as finished. */
  idleRows?: number;
  /** Most date files open at once; the quietest is converted past it. */
  maxOpen?: number;
  /** Columns staged as text where `-` stands for NULL (see `stagingCopySql`). */
  dashIsNull?: readonly string[];
}

const DAY_MS = 86_400_000;

/**
 * First size of a date file's writer; it grows as its rows do (a tick
 * writes it out past 1 MiB). Shuffled lines of 30,000 dates touch about
 * 3,000 in each chunk, each given a writer until the tick: at 1 MiB each
 * that was 2.2 GB of buffers at once and two thirds of the run in
 * allocating them (300,000 lines: 26.9 s, 9.4 s at 64 KiB).
 */
export const FIRST_WRITER_BYTES = 64 << 10;

/** The writer of a parked date file: empty, never written (its own went back to the spares). */
const PARKED = new TsvWriter(0);

/** Hive's name for the partition of rows whose value is NULL (DuckDB, Spark and Athena read it so). */
export const NULL_PARTITION = '__HIVE_DEFAULT_PARTITION__';

/** The day number (days since 1970-01-01, UTC) of a time in epoch milliseconds; NaN (no time) stays NaN. */
export function dayOf(timeMs: number): number {
  return Math.floor(timeMs / DAY_MS);
}

/** `YYYY-MM-DD` of a day number (days since 1970-01-01, UTC); NaN (no time) is the NULL partition. */
export function dayString(day: number): string {
  return Number.isNaN(day) ? NULL_PARTITION : dayText(new Date(day * DAY_MS));
}

/**
 * One table's staging for one run. `writerFor(eventTimeMs)` gives the writer
 * for that row's date; `tick()` between input chunks flushes writers and
 * hands finished date files to DuckDB; `finish()` converts the rest and lists
 * the Parquet files (relative to the table's folder, `date=.../name.parquet`).
 */
export class Stage {
  private readonly open = new Map<number, DateFile>();
  /**
   * Date files put aside on disk, to be converted at the end: a date that
   * came back after its file was converted (dates out of order: a folder of
   * many buckets' logs, shuffled sources, a late record) is parked rather
   * than converted when it goes quiet again, so that it has two files, not
   * one each time it comes back: 40,000 lines over 2,000 days in random
   * order made 26,626 Parquet files in 242 s. Only those dates: the others
   * are converted during the run, as DuckDB's COPYs then overlap the
   * reading (parking every date once one came back made a run in date order
   * with one late record a day 20% slower). Past the bound on parked bytes
   * (`tick`), a date converted and coming back begins another file all the
   * same.
   */
  private readonly parked = new Map<number, DateFile>();
  private parkedBytes = 0;
  /** Dates whose file was converted in this run for going quiet, and those of them that came back. */
  private readonly converted = new Set<number>();
  private readonly cameBack = new Set<number>();
  /** Writers of parked files, for the next date taken up again. */
  private readonly spare: TsvWriter[] = [];
  private rowSeq = 0;
  private fileSeq = 0;
  private queue: Promise<void> = Promise.resolve();
  private queuedBytes = 0;
  private failure: unknown = null;
  private readonly files: string[] = [];
  private readonly maxFileBytes: number;
  private readonly idleRows: number;
  private readonly maxOpen: number;
  private readonly dashIsNull: readonly string[];

  constructor(
    private readonly conn: DuckDBConnection,
    private readonly table: TableSpec,
    private readonly workDir: string,
    private readonly outDir: string,
    private readonly filePrefix: string,
    private readonly sourcesTable: string,
    opts: StageOptions = {},
  ) {
    this.maxFileBytes = opts.maxFileBytes ?? 256 << 20;
    this.idleRows = opts.idleRows ?? 20_000;
    this.maxOpen = opts.maxOpen ?? 16;
    this.dashIsNull = opts.dashIsNull ?? [];
    mkdirSync(workDir, { recursive: true, mode: DIR_MODE });
  }

  /** Register the run's source names: `source_file` values by index, 0-based and dense (the COPY looks a row's name up by its position). */
  static async create(conn: DuckDBConnection, table: TableSpec, workDir: string, outDir: string, filePrefix: string, sources: readonly string[], opts?: StageOptions): Promise<Stage> {
    const srcTable = `_sources_${table.name}`;
    await conn.run(`CREATE OR REPLACE TEMP TABLE ${srcTable} (idx INTEGER, name VARCHAR)`);
    const appender = await conn.createAppender(srcTable);
    sources.forEach((name, idx) => {
      appender.appendInteger(idx);
      appender.appendVarchar(name);
      appender.endRow();
    });
    appender.closeSync();
    return new Stage(conn, table, workDir, outDir, filePrefix, srcTable, opts);
  }

  /**
   * The writer for a row whose event time is `timeMs` (NaN: none); write
   * exactly one row to it. Rows of another `part` of the same date go to
   * files of their own: CloudTrail keeps management events apart from data
   * events, so a query for management events skips the data files (their
   * min/max statistics say `management_event` is false throughout).
   */
  writerFor(timeMs: number, rowBytes: number, part: 0 | 1 = 0): TsvWriter {
    const f = this.fileFor(dayOf(timeMs), part);
    f.lastRow = ++this.rowSeq;
    f.writer.reserve(rowBytes);
    return f.writer;
  }

  /**
   * Rows staged elsewhere (a parse worker), as `writerFor` would have taken
   * them one by one: `rows` bytes of whole rows of date `day` and `part`,
   * whose last row is row `last` (1-based) of the `batchRows` rows of one
   * batch. Call once per (day, part) of the batch, in the order each first
   * appears in it, then `endBatch(batchRows)`.
   */
  writeRows(day: number, part: 0 | 1, rows: Uint8Array, last: number): void {
    const f = this.fileFor(day, part);
    f.lastRow = this.rowSeq + last;
    f.writer.reserve(rows.length);
    f.writer.buf.set(rows, f.writer.len);
    f.writer.len += rows.length;
  }

  /** The rows of a batch given to `writeRows` are counted. */
  endBatch(batchRows: number): void {
    this.rowSeq += batchRows;
  }

  private fileFor(day: number, part: 0 | 1): DateFile {
    const key = day * 2 + part;
    let f = this.open.get(key);
    if (!f && (f = this.parked.get(key))) {
      // Taken up again: its rows go on in the same file, written after what it holds.
      this.parked.delete(key);
      this.parkedBytes -= f.bytes;
      f.writer = this.spare.pop() ?? new TsvWriter(FIRST_WRITER_BYTES);
      f.writer.len = 0;
      this.open.set(key, f);
    }
    if (!f) {
      if (this.converted.has(key)) this.cameBack.add(key);
      const path = join(this.workDir, `${this.table.name}-${dayString(day)}-${this.fileSeq++}.tsv`);
      f = { key, day, writer: new TsvWriter(FIRST_WRITER_BYTES), fd: -1, path, bytes: 0, lastRow: 0 };
      this.open.set(key, f);
    }
    return f;
  }

  /**
   * Between input chunks: flush full writers, convert date files that are
   * large or have gone quiet, and wait if DuckDB is far behind.
   */
  async tick(): Promise<void> {
    if (this.failure) throw this.failure;
    for (const f of this.open.values()) {
      if (f.writer.len >= 1 << 20) this.flush(f);
      const quiet = this.rowSeq - f.lastRow > this.idleRows;
      if (f.bytes >= this.maxFileBytes) this.convert(f);
      else if (quiet) this.setAside(f);
    }
    if (this.open.size > this.maxOpen) {
      // The quietest first, sorted once (a stable sort keeps ties in the order they opened): a search for the
      // quietest per file set aside was quadratic in the dates of a chunk (3,000 of shuffled lines: 16 ms of a 74 ms tick).
      const byLastRow = [...this.open.values()].sort((a, b) => a.lastRow - b.lastRow);
      for (const f of byLastRow.slice(0, this.open.size - this.maxOpen)) this.setAside(f);
    }
    // Parked files wait on disk: past a bound, the largest are converted (sorted once, as above: thousands of
    // parked dates, and a tick can convert dozens).
    if (this.parkedBytes > 2 * this.maxFileBytes) {
      const bySize = [...this.parked.values()].sort((a, b) => b.bytes - a.bytes);
      for (const f of bySize) {
        if (this.parkedBytes <= 2 * this.maxFileBytes) break;
        this.convert(f);
      }
    }
    // Bound the staged bytes waiting on disk.
    if (this.queuedBytes > 2 * this.maxFileBytes) await this.queue;
    if (this.failure) throw this.failure;
  }

  /**
   * A date gone quiet: converted, or parked if it came back after its file
   * was converted (see `parked`). Rows without a time (CloudTrail's
   * `eventTime` not a time) come now and then in any order: their file is
   * always parked.
   */
  private setAside(f: DateFile): void {
    if (!this.cameBack.has(f.key) && !Number.isNaN(f.day)) {
      // (A date converted for its size and going on has not come back: only these count.)
      this.converted.add(f.key);
      this.convert(f);
      return;
    }
    this.flush(f);
    if (f.fd >= 0) closeSync(f.fd);
    f.fd = -1;
    this.open.delete(f.key);
    // A writer grown by one huge row is let go rather than kept.
    if (f.writer.buf.length <= 4 << 20 && this.spare.length < this.maxOpen) this.spare.push(f.writer);
    f.writer = PARKED;
    this.parked.set(f.key, f);
    this.parkedBytes += f.bytes;
  }

  private flush(f: DateFile): void {
    if (f.writer.len === 0) return;
    const b = f.writer.buf;
    let off = 0;
    try {
      // Appended to when a parked file is taken up again.
      if (f.fd < 0) f.fd = openSync(f.path, f.bytes > 0 ? 'a' : 'w', FILE_MODE);
      while (off < f.writer.len) off += writeSync(f.fd, b, off, f.writer.len - off);
    } catch (err) {
      throw writeError(this.workDir, err);
    }
    f.bytes += f.writer.len;
    f.writer.len = 0;
  }

  /** Close a date file and queue its COPY. */
  private convert(f: DateFile): void {
    this.flush(f);
    if (f.fd >= 0) closeSync(f.fd);
    this.open.delete(f.key);
    if (this.parked.delete(f.key)) this.parkedBytes -= f.bytes;
    if (f.bytes === 0) {
      void rm(f.path, { force: true });
      return;
    }
    const rel = join(`date=${dayString(f.day)}`, `${this.filePrefix}-${this.files.length}.parquet`);
    this.files.push(rel);
    const out = join(this.outDir, rel);
    try {
      mkdirSync(join(this.outDir, `date=${dayString(f.day)}`), { recursive: true, mode: DIR_MODE });
    } catch (err) {
      throw writeError(this.outDir, err);
    }
    const sql = stagingCopySql(this.table, f.path, out, this.sourcesTable, this.dashIsNull);
    const bytes = f.bytes;
    this.queuedBytes += bytes;
    this.queue = this.queue.then(async () => {
      if (this.failure) return;
      try {
        await this.conn.run(sql);
        await ownerOnly(out);
      } catch (err) {
        // DuckDB says "IO Error: ... No space left on device"; anything else is a failure of ours.
        this.failure = /IO Error|No space|quota|Read-only file system/i.test(String((err as Error).message)) ? writeError(this.outDir, err) : err;
      } finally {
        this.queuedBytes -= bytes;
        await rm(f.path, { force: true });
      }
    });
  }

  /** Convert everything still open, wait for DuckDB, and list the files written. */
  async finish(): Promise<string[]> {
    for (const f of [...this.open.values(), ...this.parked.values()]) this.convert(f);
    await this.queue;
    if (this.failure) throw this.failure;
    return [...this.files].sort();
  }

  /** Give up: close files and wait for DuckDB to stop. */
  async abort(): Promise<void> {
    for (const f of this.open.values()) if (f.fd >= 0) closeSync(f.fd);
    this.open.clear();
    this.failure ??= new Error('aborted');
    await this.queue;
  }
}
