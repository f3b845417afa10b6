/**
 * Reads CloudTrail records out of a file's content, whatever its shape:
 * `{"Records": [...]}` log files, NDJSON, JSON arrays, EventBridge envelopes
 * and CloudTrail Lake CSV exports. Each record found becomes a row, a reject
 * or a skip for the sink; I/O and staging stay with the caller.
 */
import { isUtf8 } from 'node:buffer';
import { Readable } from 'node:stream';
import { parse, type CsvError } from 'csv-parse';
import { bomLength } from '../bytes.js';
import { RAW_KEEP, Reject } from '../reject.js';
import { hasSurrogateEscape, wellFormedValue } from '../unicode.js';
import { deeperThan, MAX_DEPTH, TOO_DEEP } from './depth.js';
import { LAKE_CSV_OPTIONS, isLakeHeader, lakeRecord } from './lake-csv.js';
import { parseCloudTrailRecord, recordsOf, Skip, type CloudTrailRow } from './record.js';
import { objectSpans, type Spans } from './spans.js';
import { JsonSplitter } from './split.js';

export interface CloudTrailSink {
  /**
   * A record parsed; `where` is its line, or its index in a Records file or
   * array. With `spans`, the JSON columns are to be copied from the bytes
   * (the row was parsed with `nestedJson: false`).
   */
  row(row: CloudTrailRow, where: number, spans: Spans | null): void;
  reject(where: number, reason: string, raw: string): void;
  skip(where: number, reason: string): void;
}

/** Records between two awaits of `pause` in the CSV path. */
const CSV_BATCH = 5000;

/** Parse one JSON value found by the splitter and hand its records to the sink. */
function onValue(sink: CloudTrailSink, b: Buffer, s: number, e: number, where: number): void {
  const text = b.toString('utf8', s, e);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    sink.reject(where, `invalid JSON: ${(err as Error).message}`, text.slice(0, RAW_KEEP));
    return;
  }
  // An escaped half of a surrogate pair becomes U+FFFD (see unicode.ts); the
  // record is then serialised, so its JSON columns say U+FFFD too.
  const repaired = hasSurrogateEscape(text);
  // Depth is judged on the record as written: the repair can merge keys (two lone halves both become U+FFFD,
  // the last one winning), which would drop the deep part and let a record nested too deep through.
  // (The repair changes objects in place: judge first.)
  const tooDeep = repaired ? recordsOf(v).map((item) => deeperThan(item, MAX_DEPTH)) : null;
  if (repaired) v = wellFormedValue(v);
  const items = recordsOf(v).map((item, i) => (tooDeep?.[i] ? new Reject(TOO_DEEP) : item));
  // A value that is one compact record (valid UTF-8, no raw tab or line
  // break, as CloudTrail writes them) is copied from its bytes.
  let spans: Spans | null = null;
  if (items.length === 1 && items[0] === v && !repaired) {
    const bytes = b.subarray(s, e);
    if (bytes.indexOf(10) < 0 && bytes.indexOf(9) < 0 && bytes.indexOf(13) < 0 && isUtf8(bytes)) spans = objectSpans(b, s, e);
  }
  for (const item of items) {
    const r = item instanceof Reject || item instanceof Skip ? item : parseCloudTrailRecord(item, { nestedJson: spans === null });
    if (r instanceof Reject) sink.reject(where, r.reason, rawOf(item, text));
    else if (r instanceof Skip) sink.skip(where, r.reason);
    else sink.row(r, where, spans);
  }
}

/** What a reject keeps of one item of a value: the item as JSON, or the value's text when it is too deep to serialise. */
function rawOf(item: unknown, text: string): string {
  if (item instanceof Reject || deeperThan(item, MAX_DEPTH)) return text.slice(0, RAW_KEEP);
  const s = JSON.stringify(item) ?? String(item);
  return s.slice(0, RAW_KEEP);
}

/**
 * Read `chunks` (decompressed content) to the end. `pause` runs between
 * chunks (or batches of CSV rows), where the caller may await its own
 * output. Returns the CloudTrail shape read.
 */
export async function readCloudTrail(
  chunks: AsyncIterable<Buffer>,
  sink: CloudTrailSink,
  pause: () => Promise<void>,
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
  const rest: AsyncIterable<Buffer> = {
    async *[Symbol.asyncIterator]() {
      yield* head;
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
  const splitter = new JsonSplitter({
    value: (b, s, e, where) => onValue(sink, b, s, e, where),
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
