/**
 * Reads CloudTrail records out of a file's content, whatever its shape:
 * `{"Records": [...]}` log files, NDJSON, JSON arrays, EventBridge envelopes
 * and CloudTrail Lake CSV exports. Each record found becomes a row, a reject
 * or a skip for the sink; I/O and staging stay with the caller.
 */
import { Readable } from 'node:stream';
import { parse, type CsvError } from 'csv-parse';
import { bomLength } from '../bytes.js';
import { Batches, type BatchResult, type ParseWorkers } from '../parallel.js';
import { RAW_KEEP, Reject } from '../reject.js';
import { deeperThan, MAX_DEPTH } from './depth.js';
import { LAKE_CSV_OPTIONS, isLakeHeader, lakeRecord } from './lake-csv.js';
import { parseCloudTrailRecord, Skip } from './record.js';
import { JsonSplitter } from './split.js';
import { readEntries, readValue, type CloudTrailSink } from './value.js';

export type { CloudTrailSink } from './value.js';

/** Records between two awaits of `pause` in the CSV path. */
const CSV_BATCH = 5000;

/**
 * Read `chunks` (decompressed content) to the end. `pause` runs between
 * chunks (or batches of CSV rows), where the caller may await its own
 * output. With `parallel`, JSON values are read on parse workers (CSV
 * exports stay in this thread). Returns the CloudTrail shape read.
 */
export async function readCloudTrail(
  chunks: AsyncIterable<Buffer>,
  sink: CloudTrailSink,
  pause: () => Promise<void>,
  parallel?: ParallelRead,
): Promise<'json' | 'lake-csv'> {
  const it = chunks[Symbol.asyncIterator]();
  // The first chunk that is not only blanks tells JSON from CSV.
  const head: Buffer[] = [];
  let firstChar = -1;
  for (;;) {
    const r = await it.next();
    if (r.done) break;
    head.push(r.value);
    const c = firstNonBlank(r.value);
    if (c >= 0) {
      firstChar = c;
      break;
    }
  }
  // A failure met while reading ahead comes after the chunks read before it, as it would have.
  let failed: { error: unknown } | null = null;
  const rest: AsyncIterable<Buffer> = {
    async *[Symbol.asyncIterator]() {
      yield* head;
      if (failed) throw failed.error;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield r.value;
      }
    },
  };
  if (firstChar !== 0x7b && firstChar !== 0x5b && firstChar >= 0 && isLakeHeader(firstLine(Buffer.concat(head)))) {
    await readLakeCsv(rest, sink, pause);
    return 'lake-csv';
  }
  // Workers of which one has stopped are let be: its batches were read in this thread, and so is the rest.
  if (parallel?.workers.alive) {
    // Read ahead: is the content large enough for the workers?
    let have = head.reduce((sum, c) => sum + c.length, 0);
    try {
      while (have < PARALLEL_MIN_BYTES) {
        const r = await it.next();
        if (r.done) break;
        head.push(r.value);
        have += r.value.length;
      }
    } catch (error) {
      failed = { error };
    }
    if (have >= PARALLEL_MIN_BYTES) {
      await readJsonParallel(rest, sink, pause, parallel);
      return 'json';
    }
  }
  const splitter = new JsonSplitter({
    value: (b, s, e, where) => readValue(sink, b, s, e, where),
    bad: (where, reason, raw) => sink.reject(where, reason, raw),
    blank: (line) => sink.skip(line, 'blank line'),
  });
  for await (const chunk of rest) {
    splitter.push(chunk);
    await pause();
  }
  splitter.end();
  return 'json';
}

/**
 * Content from which a source is read on the parse workers. A smaller one
 * is read in this thread: its batches would wait on one round trip each,
 * and the workers cost more CPU than they saved (5,000 files of 20 records:
 * 7.3-7.4 against 6.0 CPU-s, no faster).
 */
const PARALLEL_MIN_BYTES = 1 << 20;

/** Parse workers to read JSON values on, and how their staged rows come back. */
export interface ParallelRead {
  workers: ParseWorkers;
  /** The source's index (its rows' `source_file`). */
  fileIdx: number;
  /** Rows the workers staged, in reading order. */
  staged(r: BatchResult): void;
}

/** The JSON path with the values read on parse workers; the sink sees what it would in one thread, in the same order. */
async function readJsonParallel(chunks: AsyncIterable<Buffer>, sink: CloudTrailSink, pause: () => Promise<void>, p: ParallelRead): Promise<void> {
  const batches = new Batches(p.workers, 'cloudtrail', p.fileIdx, { ...sink, staged: p.staged, readHere: (b, offsets) => readEntries(sink, b, offsets) }, pause);
  const splitter = new JsonSplitter({
    value: (b, s, e, where) => batches.value(b, s, e, where),
    bad: (where, reason, raw) => batches.local({ staged: [], rows: 0, rejects: [[where, reason, raw]], skips: [] }),
    blank: (line) => batches.blank(line),
  });
  try {
    for await (const chunk of chunks) {
      splitter.push(chunk);
      batches.chunkEnd();
      await batches.take();
    }
    splitter.end();
  } finally {
    // What was read before a failure counts, as it does in one thread.
    await batches.take(0);
  }
}

function firstNonBlank(b: Buffer): number {
  for (let i = 0; i < b.length; i++) {
    const bom = bomLength(b, i);
    if (bom) {
      i += bom - 1;
      continue;
    }
    const c = b[i] as number;
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) return c;
  }
  return -1;
}

/** The first line of `b` (within its first 64 KiB), without a byte order mark. */
function firstLine(b: Buffer): string {
  return b.toString('utf8', bomLength(b), 64 * 1024).split(/\r?\n/)[0] ?? '';
}

async function readLakeCsv(chunks: AsyncIterable<Buffer>, sink: CloudTrailSink, pause: () => Promise<void>): Promise<void> {
  const parser = parse({ ...LAKE_CSV_OPTIONS, skip_records_with_error: true });
  parser.on('skip', (err: CsvError & { lines?: number; raw?: string }) => {
    sink.reject(err.lines ?? 0, `CSV: ${err.message}`, String(err.raw ?? ''));
  });
  const input = Readable.from(chunks);
  input.on('error', (err) => parser.destroy(err));
  input.pipe(parser);
  let header: string[] | null = null;
  let n = 0;
  for await (const item of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
    const { record, info } = item;
    if (header === null) {
      header = record;
      continue;
    }
    if (record.every((c) => c === '')) sink.skip(info.lines, 'blank line');
    else onRecord(sink, lakeRecord(header, record), record, info.lines);
    if (++n % CSV_BATCH === 0) await pause();
  }
  await pause();
}

function onRecord(sink: CloudTrailSink, rec: Record<string, unknown> | Reject, cells: string[], where: number): void {
  const r = rec instanceof Reject ? rec : parseCloudTrailRecord(rec);
  // A record too deep to serialise keeps its cells.
  const raw = (): string => (rec instanceof Reject || deeperThan(rec, MAX_DEPTH) ? JSON.stringify(cells) : JSON.stringify(rec));
  if (r instanceof Reject) sink.reject(where, r.reason, raw().slice(0, RAW_KEEP));
  else if (r instanceof Skip) sink.skip(where, r.reason);
  else sink.row(r, where, null);
}
