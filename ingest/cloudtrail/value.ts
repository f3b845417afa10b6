/**
 * One JSON value found by the splitter, parsed: each record it holds becomes
 * a row, a reject or a skip for the sink. Shared by the reader (in thread)
 * and the parse workers, so both read a value the same way.
 */
import { isUtf8 } from 'node:buffer';
import { BLANK } from '../parallel.js';
import { RAW_KEEP, Reject } from '../reject.js';
import { hasSurrogateEscape, wellFormedValue } from '../unicode.js';
import { deeperThan, MAX_DEPTH, TOO_DEEP } from './depth.js';
import { parseCloudTrailRecord, recordsOf, Skip, type CloudTrailRow } from './record.js';
import { objectSpans, type Spans } from './spans.js';

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

/** The entries of a batch of `b`, in order: triples (start, end, where) of `offsets`, each a value (readValue) or a blank line (BLANK). */
export function readEntries(sink: CloudTrailSink, b: Buffer, offsets: Float64Array): void {
  for (let i = 0; i + 2 < offsets.length; i += 3) {
    const s = offsets[i] as number;
    if (s === BLANK) sink.skip(offsets[i + 2] as number, 'blank line');
    else readValue(sink, b, s, offsets[i + 1] as number, offsets[i + 2] as number);
  }
}

/** Parse one JSON value found by the splitter and hand its records to the sink. */
export function readValue(sink: CloudTrailSink, b: Buffer, s: number, e: number, where: number): void {
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
