/**
 * Splits a byte stream into lines without decoding it: each line is handed
 * over as a byte range, numbered from 1. Bytes that are not valid UTF-8 are
 * replaced by U+FFFD in that line only, so a record is kept rather than lost
 * to one bad byte. A UTF-8 byte order mark at the start is dropped.
 */
import { isUtf8 } from 'node:buffer';

export type LineHandler = (b: Buffer, start: number, end: number, lineNo: number) => void;

const NL = 10;
const decoder = new TextDecoder('utf-8', { fatal: false });

/**
 * Read `chunks` to the end, calling `onLine` for every line (also the last one
 * without a line end, and blank ones) and `afterChunk` between chunks, where
 * the caller may await (to flush its own output). Returns the line count.
 */
export async function readLines(
  chunks: AsyncIterable<Buffer>,
  onLine: LineHandler,
  afterChunk: (bytesIn: number) => Promise<void> | void,
): Promise<number> {
  let lineNo = 0;
  let pending: Buffer[] = [];
  let first = true;

  const emit = (b: Buffer, from: number, to: number): void => {
    // [from, to) holds whole lines, each ended by \n, except maybe the last.
    let s = from;
    if (first) {
      first = false;
      if (b[s] === 0xef && b[s + 1] === 0xbb && b[s + 2] === 0xbf) s += 3;
    }
    const valid = isUtf8(b.subarray(s, to));
    while (s < to) {
      let nl = b.indexOf(NL, s);
      if (nl < 0 || nl >= to) nl = to;
      lineNo++;
      if (valid || isUtf8(b.subarray(s, nl))) onLine(b, s, nl, lineNo);
      else {
        const fixed = Buffer.from(decoder.decode(b.subarray(s, nl)), 'utf8');
        onLine(fixed, 0, fixed.length, lineNo);
      }
      s = nl + 1;
    }
  };

  for await (const chunk of chunks) {
    const last = chunk.lastIndexOf(NL);
    if (last < 0) {
      pending.push(chunk);
    } else {
      const data = pending.length ? Buffer.concat([...pending, chunk]) : chunk;
      const cut = data.length - (chunk.length - last);
      emit(data, 0, cut + 1);
      pending = cut + 1 < data.length ? [data.subarray(cut + 1)] : [];
    }
    await afterChunk(chunk.length);
  }
  if (pending.length) {
    const data = Buffer.concat(pending);
    if (data.length) emit(data, 0, data.length);
  }
  return lineNo;
}

/** True when bytes [s, e) are only spaces, tabs and carriage returns. */
export function isBlank(b: Uint8Array, s: number, e: number): boolean {
  for (let i = s; i < e; i++) {
    const c = b[i];
    if (c !== 32 && c !== 9 && c !== 13) return false;
  }
  return true;
}
