/**
 * Where each top-level field of a compact JSON record lies in the bytes it
 * was read from. The bulk path copies the nested parts (`requestParameters`,
 * `userIdentity`, ...) into the staging row from these spans instead of
 * re-serialising the parsed objects, which took a fifth of the ingest time.
 */
import * as bytes from '../bytes.js';
import { MAX_DEPTH } from './depth.js';

// Module-local copies, read as fast as literals (see bytes.ts).
const { BACKSLASH, DOUBLE_QUOTE } = bytes;

/** Top-level fields of one object: `keys[i]` is the name, `vs[i]..ve[i]` the value's bytes. */
export interface Spans {
  b: Buffer;
  /** The record's own bytes: b[start, end). */
  start: number;
  end: number;
  keys: string[];
  /** Start of each field's `"name"` (for copying `"name":value` whole). */
  ks: number[];
  vs: number[];
  ve: number[];
}

/** End (exclusive) of the string whose opening quote is at `i`; -1 if it does not end. */
function stringEnd(b: Buffer, i: number, e: number): number {
  let j = i + 1;
  for (;;) {
    const q = b.indexOf(DOUBLE_QUOTE, j);
    if (q < 0 || q >= e) return -1;
    let k = q - 1;
    while (b[k] === BACKSLASH) k--;
    if ((q - 1 - k) % 2 === 0) return q + 1;
    j = q + 1;
  }
}

/**
 * Keys of the objects open while a record is scanned, as [start, end) pairs
 * of their bytes between the quotes, and for each open bracket where its
 * keys begin in `keys` (-1 for an array). Reused from record to record.
 */
const keys: number[] = [];
const frames: number[] = [];

/**
 * Add the key at b[s, e) to the innermost open object; false when the bytes
 * cannot stand for the parsed record: the key holds an escape (it may decode
 * to another key, `"request\u0050arameters"` is `requestParameters`) or the
 * object already has it (`JSON.parse` keeps the last, DuckDB's JSON functions
 * the first).
 */
function addKey(b: Buffer, s: number, e: number, from: number): boolean {
  for (let i = s; i < e; i++) if (b[i] === BACKSLASH) return false;
  const len = e - s;
  for (let k = from; k < keys.length; k += 2) {
    const ks = keys[k] as number;
    if ((keys[k + 1] as number) - ks !== len) continue;
    let same = true;
    for (let i = 0; i < len && same; i++) same = b[ks + i] === b[s + i];
    if (same) return false;
  }
  keys.push(s, e);
  return true;
}

/**
 * End (exclusive) of the value starting at `i`, a field of the record; -1
 * if malformed, nested deeper than MAX_DEPTH, or holding a key `addKey`
 * refuses: the caller then serialises the parsed record instead.
 */
function valueEnd(b: Buffer, i: number, e: number): number {
  const c = b[i];
  if (c === DOUBLE_QUOTE) return stringEnd(b, i, e);
  if (c === 123 || c === 91) {
    const base = frames.length;
    let expectKey = false;
    let j = i;
    while (j < e) {
      const d = b[j] as number;
      if (d === DOUBLE_QUOTE) {
        const s = j;
        j = stringEnd(b, j, e);
        if (j < 0) return -1;
        if (expectKey) {
          if (!addKey(b, s + 1, j - 1, frames[frames.length - 1] as number)) return -1;
          expectKey = false;
        }
        continue;
      }
      if (d === 123 || d === 91) {
        // The record is level 1, its fields' values level 2.
        if (frames.length - base + 2 > MAX_DEPTH) return -1;
        frames.push(d === 123 ? keys.length : -1);
        expectKey = d === 123;
      } else if (d === 125 || d === 93) {
        const from = frames.pop() as number;
        if (from >= 0) keys.length = from;
        if (frames.length === base) return j + 1;
      } else if (d === 44) expectKey = (frames[frames.length - 1] as number) >= 0;
      j++;
    }
    return -1;
  }
  let j = i;
  while (j < e) {
    const d = b[j];
    if (d === 44 || d === 125 || d === 93 || d === 32) break;
    j++;
  }
  return j;
}

/**
 * The spans of the compact object in b[s, e) (no raw tabs or line breaks),
 * or null when it is not one, or its bytes could say something other than
 * its parsed value (an escaped or repeated key, at any level) or it nests
 * deeper than MAX_DEPTH: the caller then serialises the parsed record, which
 * is also where a record too deep is rejected.
 */
export function objectSpans(b: Buffer, s: number, e: number): Spans | null {
  if (b[s] !== 123) return null;
  const sp: Spans = { b, start: s, end: e, keys: [], ks: [], vs: [], ve: [] };
  keys.length = 0;
  frames.length = 0;
  let i = s + 1;
  while (b[i] === 32) i++;
  if (b[i] === 125) return sp;
  for (;;) {
    if (b[i] !== DOUBLE_QUOTE) return null;
    const ke = stringEnd(b, i, e);
    if (ke < 0) return null;
    const ks = i;
    if (!addKey(b, ks + 1, ke - 1, 0)) return null;
    i = ke;
    while (b[i] === 32) i++;
    if (b[i] !== 58) return null; // :
    i++;
    while (b[i] === 32) i++;
    const ve = valueEnd(b, i, e);
    if (ve < 0) return null;
    sp.keys.push(b.toString('latin1', ks + 1, ke - 1));
    sp.ks.push(ks);
    sp.vs.push(i);
    sp.ve.push(ve);
    i = ve;
    while (b[i] === 32) i++;
    if (b[i] === 44) {
      i++;
      while (b[i] === 32) i++;
      continue;
    }
    return b[i] === 125 ? sp : null;
  }
}
