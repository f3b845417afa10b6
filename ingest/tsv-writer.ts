/**
 * A growable byte buffer that rows are written into as tab-separated text
 * for DuckDB's CSV reader (quote `"`, escape `"`; an empty field is NULL).
 * Copying bytes from the input buffer keeps the hot path free of strings.
 */
const TAB = 9;
const NL = 10;
const CR = 13;
const QUOTE = 34;

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

  /** Bytes src[s..e) as one field, quoted when they hold a tab, quote or line break. */
  bytes(src: Uint8Array, s: number, e: number): void {
    const out = this.buf;
    let o = this.len;
    let i = s;
    for (; i < e; i++) {
      const c = src[i] as number;
      if (c === TAB || c === QUOTE || c === CR || c === NL) break;
      out[o++] = c;
    }
    if (i < e) {
      // Start over, quoted, doubling quotes.
      o = this.len;
      out[o++] = QUOTE;
      for (let j = s; j < e; j++) {
        const c = src[j] as number;
        if (c === QUOTE) out[o++] = QUOTE;
        out[o++] = c;
      }
      out[o++] = QUOTE;
    }
    this.len = o;
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
