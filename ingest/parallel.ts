/**
 * Parse workers: the lines of access logs and the JSON values of CloudTrail
 * files read and staged on worker threads while the reader's thread
 * gunzips, splits and writes, so that the parse, the staging and DuckDB's
 * COPYs share every core. The results are taken in the order the lines and
 * values were read, so rows, line numbers, rejects (and their order) and
 * the date files are the same as in one thread.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { dayOf, FIRST_WRITER_BYTES } from './staging.js';
import { TsvWriter } from './tsv-writer.js';
import type { BatchRequest } from './parse-worker.js';

/** What a batch holds: an access log's lines, or CloudTrail JSON values. */
export type BatchKind = 'access-log' | 'cloudtrail';

/**
 * A blank line in a batch (the CloudTrail splitter finds them between
 * values, the access log's reader among lines): its start and end are
 * BLANK and its place the line, so a run of records with blank lines
 * between them stays one batch, and the skip is counted where one thread
 * counts it.
 */
export const BLANK = -1;

/** The rows of one date file (`day`, `part`) in a batch; `last` is the 1-based number of its last row among the batch's rows. */
export interface StagedRows {
  day: number;
  part: 0 | 1;
  rows: Uint8Array;
  last: number;
}

/** A batch read and staged: the rows by date file, and the rejects and skips, each where it was found. */
export interface BatchResult {
  /** In the order each date file first appears in the batch. */
  staged: StagedRows[];
  rows: number;
  rejects: Array<[where: number, reason: string, raw: string]>;
  /**
   * Runs of `count` skips for one reason, at `where`, `where + 1`, ...: a
   * run of blank lines is one entry, not one each (a million blank lines of
   * an access log came back from the workers as a million pairs, their
   * cloning 30 times the work of counting them in one thread).
   */
  skips: Array<[where: number, reason: string, count: number]>;
}

/** Add `count` skips at `where` on to `skips`, as part of its last run if they go on from it. */
export function addSkips(skips: BatchResult['skips'], where: number, reason: string, count: number): void {
  const last = skips[skips.length - 1];
  if (last !== undefined && last[1] === reason && last[0] + last[2] === where) last[2] += count;
  else skips.push([where, reason, count]);
}

/** Writers kept from batch to batch (one per date file a batch touches). */
const spare: TsvWriter[] = [];
/**
 * Writers kept, at most; a new one starts at FIRST_WRITER_BYTES and grows
 * as its rows need: a batch of shuffled lines touches hundreds of dates, and
 * a 1 MiB writer for each, all kept, held hundreds of MB in every worker.
 */
const MAX_SPARE = 16;

/**
 * A batch's staging on a worker: a writer per date file the batch's rows
 * fall in, as `Stage.writerFor` gives them in one thread; `result` copies
 * each file's rows into a buffer of their own, to be transferred.
 */
export class BatchStage {
  private readonly groups = new Map<number, { day: number; part: 0 | 1; w: TsvWriter; last: number }>();
  readonly out: BatchResult = { staged: [], rows: 0, rejects: [], skips: [] };

  /** The writer for a row of this time (epoch ms, NaN for none), with room for `rowBytes` more. */
  writerFor(timeMs: number, rowBytes: number, part: 0 | 1 = 0): TsvWriter {
    const day = dayOf(timeMs);
    // NaN (no time) is a key like any other in a Map.
    const key = day * 2 + part;
    let g = this.groups.get(key);
    if (!g) {
      const w = spare.pop() ?? new TsvWriter(FIRST_WRITER_BYTES);
      w.len = 0;
      g = { day, part, w, last: 0 };
      this.groups.set(key, g);
    }
    g.last = ++this.out.rows;
    g.w.reserve(rowBytes);
    return g.w;
  }

  reject(where: number, reason: string, raw: string): void {
    this.out.rejects.push([where, reason, raw]);
  }

  skip(where: number, reason: string): void {
    addSkips(this.out.skips, where, reason, 1);
  }

  result(): BatchResult {
    for (const g of this.groups.values()) {
      // A buffer of its own (not from Node's shared pool), so it can be transferred.
      const rows = Buffer.allocUnsafeSlow(g.w.len);
      g.w.buf.copy(rows, 0, 0, g.w.len);
      this.out.staged.push({ day: g.day, part: g.part, rows, last: g.last });
      // A writer grown by one huge record is let go rather than kept.
      if (g.w.buf.length <= 4 << 20 && spare.length < MAX_SPARE) spare.push(g.w);
    }
    this.groups.clear();
    return this.out;
  }
}

/** A batch is sent once its values span this many bytes. */
const BATCH_BYTES = 256 << 10;
/** ... or once it holds this many values and blank lines (three numbers each). */
const MAX_OFFSETS = 3 * (64 << 10);
/** Batches sent and not yet taken back, at most (per worker). */
const IN_FLIGHT_PER_WORKER = 4;

type Reply = { id: number; result: BatchResult } | { id: number; error: string };

/** A pool of parse workers for one ingest run. */
export class ParseWorkers {
  private readonly pending = new Map<number, { resolve: (r: BatchResult) => void; reject: (e: Error) => void; worker: number }>();
  private readonly load: number[];
  private seq = 0;
  /** Set once a worker has failed or stopped: every later batch fails with it. */
  private broken: Error | null = null;
  /** The first batch that failed (a worker that stopped, or one that threw). */
  private firstFailure: Error | null = null;

  private constructor(private readonly workers: Worker[]) {
    this.load = workers.map(() => 0);
    workers.forEach((w, i) => {
      w.on('message', (m: Reply) => this.reply(m));
      w.on('error', (err) => this.fail(i, err));
      w.on('exit', (code) => this.fail(i, new Error(`a parse worker stopped (exit code ${code})`)));
    });
  }

  /**
   * Start `n` workers; null when there is no compiled worker to start (the
   * sources run as TypeScript, as under the tests): the caller reads in its
   * own thread.
   */
  static start(n: number): ParseWorkers | null {
    const url = new URL('./parse-worker.js', import.meta.url);
    if (n < 1 || url.protocol !== 'file:' || !existsSync(fileURLToPath(url))) return null;
    return new ParseWorkers(Array.from({ length: n }, () => new Worker(url)));
  }

  get size(): number {
    return this.workers.length;
  }

  /** False once a worker has stopped: sources are then read in their own thread. */
  get alive(): boolean {
    return this.broken === null;
  }

  /** The first failure of a batch, if any (its batch was read in the reader's thread instead). */
  get failure(): Error | null {
    return this.firstFailure;
  }

  /**
   * Read and stage the lines or values at `offsets` of `bytes`. `bytes`
   * (a buffer of its own, not a view) is moved to the worker and cannot be
   * used here after; `offsets` is copied (the caller keeps what it needs to
   * read the batch itself should the worker fail).
   */
  parse(kind: BatchKind, bytes: Uint8Array, offsets: Float64Array, fileIdx: number): Promise<BatchResult> {
    if (this.broken) return Promise.reject(this.broken);
    let i = 0;
    for (let k = 1; k < this.load.length; k++) if ((this.load[k] as number) < (this.load[i] as number)) i = k;
    const id = ++this.seq;
    (this.load[i] as number)++;
    const req: BatchRequest = { id, kind, bytes, offsets, fileIdx };
    return new Promise<BatchResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker: i });
      (this.workers[i] as Worker).postMessage(req, [bytes.buffer as ArrayBuffer]);
    });
  }

  private reply(m: Reply): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    (this.load[p.worker] as number)--;
    if ('error' in m) {
      const err = new Error(`a parse worker failed: ${m.error}`);
      this.firstFailure ??= err;
      p.reject(err);
    } else p.resolve(m.result);
  }

  private fail(worker: number, err: Error): void {
    this.broken ??= err;
    this.firstFailure ??= err;
    for (const [id, p] of this.pending) {
      if (p.worker !== worker) continue;
      this.pending.delete(id);
      p.reject(err);
    }
  }

  async close(): Promise<void> {
    const ws = this.workers.splice(0);
    for (const w of ws) w.removeAllListeners('exit');
    await Promise.all(ws.map((w) => w.terminate()));
  }
}

/** A batch sent to a worker: its bytes (runs of them, in order) and offsets are kept to read it here if the worker fails. */
interface Sent {
  result: Promise<BatchResult>;
  parts: Buffer[];
  offsets: Float64Array;
}

/** A batch sent, the rejects and skips the splitter found (`BatchResult`), or the end of a chunk. */
type Entry = Sent | BatchResult | 'pause';

const isSent = (e: Entry): e is Sent => typeof e === 'object' && 'result' in e;

/** Where a batch's results go, in reading order. */
export interface BatchSink {
  reject(where: number, reason: string, raw: string): void;
  skip(where: number, reason: string): void;
  /** Rows a worker staged. */
  staged(r: BatchResult): void;
  /** A batch whose worker failed, read in this thread instead: its results go to this sink as one thread's do. */
  readHere(bytes: Buffer, offsets: Float64Array): void;
}

/**
 * Collects the lines or values a reader finds into batches for the workers and
 * hands the results to the sink in reading order; `pause` runs where the
 * reader in one thread would run it (after each chunk).
 */
export class Batches {
  /** The batch's runs of bytes before the last, `size` bytes in all; the last is bytes [first, lastEnd) of `b`. */
  private parts: Buffer[] = [];
  private size = 0;
  private b: Buffer | null = null;
  private first = 0;
  private lastEnd = 0;
  private offsets: number[] = [];
  private readonly queue: Entry[] = [];
  private sent = 0;

  constructor(
    private readonly workers: ParseWorkers,
    private readonly kind: BatchKind,
    private readonly fileIdx: number,
    private readonly sink: BatchSink,
    private readonly pause: () => Promise<void>,
  ) {}

  /** A line or value: bytes [s, e) of `b`, found at `where` (its line, or its place in a document). */
  value(b: Buffer, s: number, e: number, where: number): void {
    // Values of one buffer are copied as one run of bytes: a new buffer or a long gap starts another run in the
    // same batch. (A new buffer that ended the batch sent each access-log line with invalid UTF-8, which comes
    // in a buffer of its own, in a batch of its own, and the lines between them in another: a file of such
    // lines took minutes, not a second.)
    if (this.b === null || b !== this.b || s - this.lastEnd > 64 << 10) {
      if (this.b !== null) {
        this.parts.push(this.b.subarray(this.first, this.lastEnd));
        this.size += this.lastEnd - this.first;
      }
      this.b = b;
      this.first = s;
    }
    // Where byte 0 of `b` would be in the batch.
    const at = this.size - this.first;
    this.offsets.push(at + s, at + e, where);
    this.lastEnd = e;
    if (at + e >= BATCH_BYTES || this.offsets.length >= MAX_OFFSETS) this.flush();
  }

  /**
   * A blank line: in the batch being gathered, if any, so that records with
   * blank lines between them still go in batches of BATCH_BYTES (a blank
   * line that ended the batch sent one record a batch, 40% slower).
   */
  blank(line: number): void {
    if (this.offsets.length === 0) {
      // As `local` does, without a result made for each line of a run.
      const last = this.queue[this.queue.length - 1];
      if (last === undefined) this.sink.skip(line, 'blank line');
      else if (last !== 'pause' && !isSent(last)) addSkips(last.skips, line, 'blank line', 1);
      else this.queue.push({ staged: [], rows: 0, rejects: [], skips: [[line, 'blank line', 1]] });
      return;
    }
    this.offsets.push(BLANK, BLANK, line);
    if (this.offsets.length >= MAX_OFFSETS) this.flush();
  }

  /** A reject or skip found by the splitter, in its place among the values. */
  local(r: BatchResult): void {
    this.flush();
    // Nothing read before it still out: it goes to the sink now. Else it joins the splitter's finds just before
    // it, if any: a run of blank or bad lines is one entry, not one each (a file of a million blank lines
    // made a queue of a million, taken off its front one by one: minutes).
    const last = this.queue[this.queue.length - 1];
    if (last === undefined) this.apply(r);
    else if (last !== 'pause' && !isSent(last)) {
      last.rejects.push(...r.rejects);
      for (const [where, reason, count] of r.skips) addSkips(last.skips, where, reason, count);
    } else this.queue.push(r);
  }

  /** The end of a chunk: `pause` runs here, in order. */
  chunkEnd(): void {
    this.flush();
    this.queue.push('pause');
  }

  private flush(): void {
    if (this.offsets.length === 0 || this.b === null) return;
    const parts = this.parts;
    parts.push(this.b.subarray(this.first, this.lastEnd));
    // The worker is given a copy of its own, moved to it (not copied again by postMessage); the bytes are kept
    // here as views of the reader's buffers, which are never written again (chunks, and concatenations of them).
    // Not from Node's shared pool (its memory cannot be moved), and not zero-filled: every byte is written.
    const copy = Buffer.allocUnsafeSlow(this.size + this.lastEnd - this.first);
    let at = 0;
    for (const p of parts) at += p.copy(copy, at);
    // Float64: a line number can pass 2^31 (a file of a few MB gzipped can hold that many blank lines).
    const offsets = Float64Array.from(this.offsets);
    const result = this.workers.parse(this.kind, copy, offsets, this.fileIdx);
    // Awaited in order by `take`; a failure seen before then is not unhandled.
    result.catch(() => {});
    this.queue.push({ result, parts, offsets });
    this.sent++;
    this.parts = [];
    this.size = 0;
    this.offsets = [];
    this.b = null;
  }

  /**
   * Take results in order until at most `inFlight` batches are out (all of
   * them with 0); what comes before the first batch still out is taken
   * whatever their number. After a failure (a record that fails here too, a
   * pause that fails), nothing read after it is taken, as in one thread.
   */
  async take(inFlight = IN_FLIGHT_PER_WORKER * this.workers.size): Promise<void> {
    this.flush();
    try {
      while (this.queue.length > 0) {
        const head = this.queue[0] as Entry;
        if (isSent(head) && this.sent <= inFlight && inFlight > 0) break;
        this.queue.shift();
        if (head === 'pause') await this.pause();
        else if (isSent(head)) {
          this.sent--;
          await this.settle(head);
        } else this.apply(head);
      }
    } catch (err) {
      this.queue.length = 0;
      this.sent = 0;
      throw err;
    }
  }

  /** A batch's result to the sink; a batch whose worker failed is read here, as one thread reads it. */
  private async settle(batch: Sent): Promise<void> {
    let r: BatchResult;
    try {
      r = await batch.result;
    } catch {
      this.sink.readHere(batch.parts.length === 1 ? (batch.parts[0] as Buffer) : Buffer.concat(batch.parts), batch.offsets);
      return;
    }
    this.apply(r);
  }

  private apply(r: BatchResult): void {
    for (const [where, reason, raw] of r.rejects) this.sink.reject(where, reason, raw);
    for (const [where, reason, count] of r.skips) for (let k = 0; k < count; k++) this.sink.skip(where + k, reason);
    if (r.rows > 0) this.sink.staged(r);
  }
}
