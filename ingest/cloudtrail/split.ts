/**
 * Finds the JSON values that hold CloudTrail records in a stream of bytes,
 * without parsing them and without holding more than one value in memory,
 * so a file of any size streams: the caller parses each value on its own,
 * and one broken value is one reject, not a lost file.
 *
 * The first value decides how the file is read:
 * - `{"Records": [...]}` (a CloudTrail log file, usually one line): each
 *   element of `Records` is a value, numbered by its 1-based index;
 * - `[...]` (a bare array): each element is a value, numbered by index;
 *   several documents of either kind in one file are numbered on from one
 *   to the next, so a file and a number name one record;
 * - an object alone on its first line (NDJSON): each line is a value,
 *   numbered by line; a bad line is one reject and the next line goes on;
 * - anything else (pretty-printed objects, one after another): each
 *   top-level value, numbered by the line it starts on.
 */
import * as bytes from '../bytes.js';

export type Shape = 'records' | 'array' | 'lines' | 'values';

export interface SplitHandlers {
  /** A value: bytes [start, end) of `b`, and its line or index. */
  value(b: Buffer, start: number, end: number, where: number): void;
  /** Something that is not a whole value (truncated, too long, not JSON). */
  bad(where: number, reason: string, raw: string): void;
  /** A blank line of an NDJSON file. */
  blank(line: number): void;
}

/** Longest value accepted (bytes); a longer one is rejected and skipped over. */
export const MAX_VALUE_BYTES = 8 << 20;
/** Longest first line tried as an NDJSON record to decide the shape. */
const MAX_PROBE_LINE = 1 << 20;
/** How much of a bad value a reject keeps. */
const RAW_KEEP = 4096;

// Module-local copies, read as fast as literals (see bytes.ts).
const { BACKSLASH, DOUBLE_QUOTE, NL } = bytes;
const RECORDS_PREFIX = /^\{\s*"Records"\s*:\s*\[/;

const isSpace = (c: number): boolean => c === 32 || c === NL || c === 13 || c === 9;

export class JsonSplitter {
  shape: Shape | null = null;
  private data: Buffer = Buffer.alloc(0);
  private i = 0;
  /** Depth of brackets open; values live at `level` (0 top, 1 in an array, 2 in Records). */
  private depth = 0;
  private level = 0;
  /** After the Records array closed: skipping the rest of its object. */
  private tail = false;
  private inStr = false;
  private itemStart = -1;
  private itemWhere = 0;
  private oversize: string | null = null;
  private line = 1;
  /**
   * Before the shape is known: the blank lines met (runs of line numbers,
   * [first, last]), and whether the current line held anything. Should the
   * file be NDJSON, they are blank lines of it, each one counted.
   */
  private leadingBlanks: Array<[number, number]> = [];
  private lineUsed = false;
  private index = 0;
  private first = true;
  /** NDJSON: dropping the rest of a line already rejected as too long. */
  private skipLine = false;

  constructor(private readonly h: SplitHandlers) {}

  push(chunk: Buffer): void {
    this.data = this.data.length > this.i || this.itemStart >= 0 ? Buffer.concat([this.data, chunk]) : chunk;
    this.run(false);
    this.compact();
  }

  /** The input ended: finish the last value, or report where it broke off. */
  end(): void {
    this.run(true);
    const d = this.data;
    if (this.itemStart >= 0) {
      if (this.depth === this.level && !this.inStr) this.emit(this.itemStart, d.length);
      else this.h.bad(this.itemWhere, `the file ends inside this record (truncated?)`, this.raw(this.itemStart, d.length));
    } else if (this.level > 0 && !this.tail) {
      const what = this.shape === 'records' ? 'the Records array' : 'the array';
      this.h.bad(this.index + 1, `the file ends before ${what} closes (truncated?); records before it were read`, '');
    }
    this.data = Buffer.alloc(0);
    this.i = 0;
  }

  private raw(s: number, e: number): string {
    if (this.oversize !== null) return this.oversize;
    return this.data.toString('utf8', s, Math.min(e, s + RAW_KEEP));
  }

  private emit(s: number, e: number): void {
    const where = this.itemWhere;
    this.itemStart = -1;
    if (this.oversize !== null || e - s > MAX_VALUE_BYTES) {
      this.h.bad(where, `record longer than ${MAX_VALUE_BYTES} bytes`, this.oversize ?? this.data.toString('utf8', s, s + RAW_KEEP));
      this.oversize = null;
      return;
    }
    this.h.value(this.data, s, e, where);
  }

  /** Drop consumed bytes; of an over-long value keep only its start (for the reject) and a tail. */
  private compact(): void {
    let keep = this.itemStart >= 0 ? this.itemStart : this.i;
    if (this.itemStart >= 0 && this.i - this.itemStart > MAX_VALUE_BYTES) {
      this.oversize ??= this.data.toString('utf8', this.itemStart, this.itemStart + RAW_KEEP);
      // Keep a little before `i` so a run of backslashes before a quote is still seen whole.
      keep = Math.max(this.itemStart, this.i - 1024);
      this.itemStart = keep;
    }
    if (keep === 0) return;
    this.data = this.data.subarray(keep);
    this.i -= keep;
    if (this.itemStart >= 0) this.itemStart -= keep;
  }

  private run(final: boolean): void {
    const d = this.data;
    const n = d.length;
    if (this.first) {
      if (n < 3 && !final) return;
      this.first = false;
      this.i += bytes.bomLength(d, this.i);
    }
    if (this.shape === 'lines') return this.lines(final);
    let i = this.i;
    while (i < n) {
      const c = d[i] as number;
      if (this.inStr) {
        const q = d.indexOf(DOUBLE_QUOTE, i);
        if (q < 0) {
          i = n;
          break;
        }
        let k = q - 1;
        while (k >= 0 && d[k] === BACKSLASH) k--;
        if ((q - 1 - k) % 2 === 0) this.inStr = false;
        i = q + 1;
        continue;
      }
      if (this.itemStart >= 0 || this.tail) {
        if (this.itemStart >= 0 && this.depth === this.level) {
          // A scalar value (a string or number in an array) ends here.
          if (c === 44 || c === 93 || c === 125 || isSpace(c)) {
            this.emit(this.itemStart, i);
            continue;
          }
        }
        if (c === DOUBLE_QUOTE) this.inStr = true;
        else if (c === 123 || c === 91) this.depth++;
        else if (c === 125 || c === 93) {
          this.depth--;
          if (this.tail && this.depth === 0) {
            this.tail = false;
            this.level = 0;
          } else if (this.itemStart >= 0 && this.depth === this.level) {
            this.emit(this.itemStart, i + 1);
          }
        } else if (c === NL) this.line++;
        i++;
        continue;
      }
      // Between values.
      if (isSpace(c) || (c === 44 && this.level > 0)) {
        if (c === NL) {
          if (this.shape === null && !this.lineUsed) this.leadingBlank(this.line);
          this.lineUsed = false;
          this.line++;
        }
        i++;
        continue;
      }
      if (this.level > 0) {
        if (c === 93) {
          // The array closes: a bare array is done; a Records array's object goes on.
          this.depth--;
          this.level = 0;
          if (this.depth > 0) this.tail = true;
          i++;
          continue;
        }
        this.itemStart = i;
        this.itemWhere = ++this.index;
        if (c === 123 || c === 91) this.depth++;
        else if (c === DOUBLE_QUOTE) this.inStr = true;
        i++;
        continue;
      }
      // At the top level.
      if (c === 123) {
        if (n - i < 256 && !final) break; // wait for enough bytes to see `{"Records": [`
        const m = RECORDS_PREFIX.exec(d.toString('latin1', i, Math.min(n, i + 256)));
        if (m) {
          this.shape ??= 'records';
          this.depth = 2;
          this.level = 2;
          i += m[0].length;
          continue;
        }
        if (this.shape === null) {
          const nl = d.indexOf(NL, i);
          if (nl < 0 && !final && n - i < MAX_PROBE_LINE) break; // wait for the first line
          if (nl >= 0 && nl - i < MAX_PROBE_LINE && parsesAsObject(d, i, nl)) {
            this.shape = 'lines';
            for (const [from, to] of this.leadingBlanks) for (let l = from; l <= to; l++) this.h.blank(l);
            this.leadingBlanks = [];
            this.i = i;
            return this.lines(final);
          }
          this.shape = 'values';
        }
        this.itemStart = i;
        this.itemWhere = this.line;
        this.depth = 1;
        i++;
        continue;
      }
      if (c === 91) {
        this.shape ??= 'array';
        this.depth = 1;
        this.level = 1;
        i++;
        continue;
      }
      // Not JSON: reject up to the end of the line, and go on after it.
      let nl = d.indexOf(NL, i);
      if (nl < 0) {
        if (!final) break;
        nl = n;
      }
      this.h.bad(this.line, 'not JSON: a CloudTrail file holds JSON objects or arrays', d.toString('utf8', i, Math.min(nl, i + RAW_KEEP)).trimEnd());
      this.lineUsed = true;
      i = nl;
    }
    this.i = i;
  }

  /** A blank line before the shape is known (see leadingBlanks). */
  private leadingBlank(line: number): void {
    const last = this.leadingBlanks[this.leadingBlanks.length - 1];
    if (last && last[1] === line - 1) last[1] = line;
    else this.leadingBlanks.push([line, line]);
  }

  /** NDJSON: every line is a value (or blank). */
  private lines(final: boolean): void {
    const d = this.data;
    let s = this.i;
    for (;;) {
      let nl = d.indexOf(NL, s);
      if (nl < 0) {
        if (!final && d.length - s > MAX_VALUE_BYTES && !this.skipLine) {
          // Reject an endless line once, then drop it as it comes.
          this.h.bad(this.line, `record longer than ${MAX_VALUE_BYTES} bytes`, d.toString('utf8', s, s + RAW_KEEP));
          this.skipLine = true;
        }
        if (this.skipLine) s = d.length;
        if (!final || s >= d.length) break;
        nl = d.length;
      }
      if (this.skipLine) {
        this.skipLine = false;
        this.line++;
        s = nl + 1;
        continue;
      }
      let e = nl;
      let b = s;
      while (e > b && isSpace(d[e - 1] as number)) e--;
      while (b < e && isSpace(d[b] as number)) b++;
      if (b === e) this.h.blank(this.line);
      else if (e - b > MAX_VALUE_BYTES) this.h.bad(this.line, `record longer than ${MAX_VALUE_BYTES} bytes`, d.toString('utf8', b, b + RAW_KEEP));
      else {
        this.itemWhere = this.line;
        this.h.value(d, b, e, this.line);
      }
      this.line++;
      s = nl + 1;
    }
    this.i = s;
    this.itemStart = -1;
    // An unfinished last line is kept (from `s`) until more bytes come.
  }
}

function parsesAsObject(d: Buffer, s: number, e: number): boolean {
  try {
    const v: unknown = JSON.parse(d.toString('utf8', s, e));
    return typeof v === 'object' && v !== null && !Array.isArray(v);
  } catch {
    return false;
  }
}
