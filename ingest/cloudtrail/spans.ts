/**
 * Where each top-level field of a compact JSON record lies in the bytes it
 * was read from. The bulk path copies the nested parts (`requestParameters`,
 * `userIdentity`, ...) into the staging row from these spans instead of
 * re-serialising the parsed objects, which took a fifth of the ingest time.
 */
import * as bytes from '../bytes.js';

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

/** End (exclusive) of the value starting at `i`; -1 if malformed. */
function valueEnd(b: Buffer, i: number, e: number): number {
  const c = b[i];
  if (c === DOUBLE_QUOTE) return stringEnd(b, i, e);
  if (c === 123 || c === 91) {
    let depth = 0;
    let j = i;
    while (j < e) {
      const d = b[j] as number;
      if (d === DOUBLE_QUOTE) {
        j = stringEnd(b, j, e);
        if (j < 0) return -1;
        continue;
      }
      if (d === 123 || d === 91) depth++;
      else if (d === 125 || d === 93) {
        depth--;
        if (depth === 0) return j + 1;
      }
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
 * or null when it is not one: the caller then falls back to serialising.
 */
export function objectSpans(b: Buffer, s: number, e: number): Spans | null {
  if (b[s] !== 123) return null;
  const sp: Spans = { b, start: s, end: e, keys: [], ks: [], vs: [], ve: [] };
  let i = s + 1;
  while (b[i] === 32) i++;
  if (b[i] === 125) return sp;
  for (;;) {
    if (b[i] !== DOUBLE_QUOTE) return null;
    const ke = stringEnd(b, i, e);
    if (ke < 0) return null;
    const ks = i;
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
