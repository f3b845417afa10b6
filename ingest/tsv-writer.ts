/**
 * A growable byte buffer that rows are written into as tab-separated text
 * for DuckDB's CSV reader; an empty field is NULL. The quote (and escape)
 * is the control character SOH (0x01), not `"`: log values and JSON text
 * are full of `"` and never hold SOH (JSON escapes it), so almost nothing
 * needs quoting and JSON goes through as it is. Copying bytes from the
 * input buffer keeps the hot path free of strings.
 */
import * as bytes from './bytes.js';

// Module-local copies, read as fast as literals (see bytes.ts).
const { CR, NL, TAB } = bytes;

/** The staging quote and escape byte: SOH (0x01). */
export const STAGING_QUOTE = 0x01;
const NEEDS_QUOTES = /[\t\r\n\x01]/;

export class TsvWriter {
  buf: Buffer;
  len = 0;

  constructor(size = 4 << 20) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Make room for `n` more bytes (the caller flushes before this grows large). */
  reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(bigger, 0, 0, this.len);
    this.buf = bigger;
  }

  tab(): void {
    this.buf[this.len++] = TAB;
  }

  newline(): void {
    this.buf[this.len++] = NL;
  }

  /** Bytes src[s..e) as one field, quoted when they hold a tab, line break or SOH. */
  bytes(src: Uint8Array, s: number, e: number): void {
    const out = this.buf;
    let o = this.len;
    let i = s;
    for (; i < e; i++) {
      const c = src[i] as number;
      if (c === TAB || c === STAGING_QUOTE || c === CR || c === NL) break;
      out[o++] = c;
    }
    if (i < e) {
      // Start over, quoted, doubling the quote byte.
      o = this.len;
      out[o++] = STAGING_QUOTE;
      for (let j = s; j < e; j++) {
        const c = src[j] as number;
        if (c === STAGING_QUOTE) out[o++] = STAGING_QUOTE;
        out[o++] = c;
      }
      out[o++] = STAGING_QUOTE;
    }
    this.len = o;
  }

  /**
   * A string as one field (UTF-8), quoted when it holds a tab, line break or
   * SOH. Reserve `3 * s.length + 2` bytes (UTF-8 at most triples a UTF-16
   * unit; quoting at most doubles a one-byte SOH) before calling.
   */
  text(s: string): void {
    if (!NEEDS_QUOTES.test(s)) {
      this.len += this.buf.write(s, this.len, 'utf8');
      return;
    }
    this.buf[this.len++] = STAGING_QUOTE;
    this.len += this.buf.write(s.replaceAll('\x01', '\x01\x01'), this.len, 'utf8');
    this.buf[this.len++] = STAGING_QUOTE;
  }

  /** Bytes src[s..e) copied as they are: the caller knows they hold no tab, line break or SOH. */
  raw(src: Buffer, s: number, e: number): void {
    this.len += src.copy(this.buf, this.len, s, e);
  }

  /** A non-negative integer (or any finite number) as decimal digits. */
  int(v: number): void {
    if (v >= 0 && v < 1e15 && Number.isInteger(v)) {
      const out = this.buf;
      if (v === 0) {
        out[this.len++] = 48;
        return;
      }
      let digits = 0;
      for (let x = v; x >= 1; x = Math.floor(x / 10)) digits++;
      let o = this.len + digits;
      this.len = o;
      for (let x = v; x >= 1; x = Math.floor(x / 10)) out[--o] = 48 + (x % 10);
      return;
    }
    this.len += this.buf.write(String(v), this.len, 'latin1');
  }

  /** ASCII text (a literal like `true`). */
  ascii(s: string): void {
    this.len += this.buf.write(s, this.len, 'latin1');
  }
}
