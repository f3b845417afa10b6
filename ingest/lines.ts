/**
 * Splits a byte stream into lines without decoding it: each line is handed
 * over as a byte range, numbered from 1. Bytes that are not valid UTF-8 are
 * replaced by U+FFFD in that line only, so a record is kept rather than lost
 * to one bad byte. A UTF-8 byte order mark at the start is dropped.
 */
import { isUtf8 } from 'node:buffer';
import * as bytes from './bytes.js';

export type LineHandler = (b: Buffer, start: number, end: number, lineNo: number) => void;

// Module-local copies, read as fast as literals (see bytes.ts).
const { NL } = bytes;
const decoder = new TextDecoder('utf-8', { fatal: false });

/** Lines longer than this are not held in memory: `onTooLong` gets their number, length and first bytes. */
export const MAX_LINE_BYTES = 16 << 20;
const HEAD_KEEP = 4096;

export interface LongLines {
  maxLine?: number;
  onTooLong(lineNo: number, bytes: number, head: Buffer): void;
}

/**
 * Read `chunks` to the end, calling `onLine` for every line (also the last one
 * without a line end, and blank ones) and `afterChunk` between chunks, where
 * the caller may await (to flush its own output). A line longer than
 * `long.maxLine` is passed over as it streams (memory stays bounded) and
 * reported to `long.onTooLong` instead. Returns the line count.
 */
export async function readLines(
  chunks: AsyncIterable<Buffer>,
  onLine: LineHandler,
  afterChunk: (bytesIn: number) => Promise<void> | void,
  long?: LongLines,
): Promise<number> {
  let lineNo = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let first = true;
  const maxLine = long?.maxLine ?? MAX_LINE_BYTES;
  /** Passing over a line too long to hold: its length so far and first bytes. */
  let over: { bytes: number; head: Buffer } | null = null;

  const emit = (b: Buffer, from: number, to: number): void => {
    // [from, to) holds whole lines, each ended by \n, except maybe the last.
    let s = from;
    if (first) {
      first = false;
      s += bytes.bomLength(b, s);
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

  const tooLong = (): void => {
    const o = over as { bytes: number; head: Buffer };
    first = false;
    lineNo++;
    if (long) long.onTooLong(lineNo, o.bytes, o.head);
    else onLine(o.head, 0, o.head.length, lineNo);
    over = null;
  };

  for await (const input of chunks) {
    let chunk = input;
    if (over) {
      // Drop bytes up to the end of the long line.
      const nl = chunk.indexOf(NL);
      if (nl < 0) {
        over.bytes += chunk.length;
        await afterChunk(input.length);
        continue;
      }
      over.bytes += nl;
      tooLong();
      chunk = chunk.subarray(nl + 1);
    }
    const last = chunk.lastIndexOf(NL);
    if (last < 0) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes > maxLine) {
        const all = Buffer.concat(pending);
        over = { bytes: all.length, head: Buffer.from(all.subarray(0, HEAD_KEEP)) };
        pending = [];
        pendingBytes = 0;
      }
    } else {
      const data = pending.length ? Buffer.concat([...pending, chunk]) : chunk;
      const cut = data.length - (chunk.length - last);
      emit(data, 0, cut + 1);
      pending = cut + 1 < data.length ? [data.subarray(cut + 1)] : [];
      pendingBytes = pending[0]?.length ?? 0;
    }
    await afterChunk(input.length);
  }
  if (over) tooLong();
  else if (pending.length) {
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
