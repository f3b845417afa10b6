/**
 * Parse workers: the JSON values of CloudTrail files read and staged on
 * worker threads while the reader's thread gunzips, splits and writes, so
 * that the parse, the staging and DuckDB's COPYs share every core. The
 * results are taken in the order the values were read, so rows, line
 * numbers, rejects (and their order) and the date files are the same as in
 * one thread.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { BatchResult } from './batch.js';
import type { BatchRequest } from './parse-worker.js';
import { BLANK, readEntries, type CloudTrailSink } from './value.js';

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
   * Read and stage the values at `offsets` of `bytes`. Both are copied to
   * the worker, not transferred: the caller keeps them, to read the batch
   * itself should the worker fail.
   */
  parse(bytes: Uint8Array, offsets: Float64Array, fileIdx: number): Promise<BatchResult> {
    if (this.broken) return Promise.reject(this.broken);
    let i = 0;
    for (let k = 1; k < this.load.length; k++) if ((this.load[k] as number) < (this.load[i] as number)) i = k;
    const id = ++this.seq;
    (this.load[i] as number)++;
    const req: BatchRequest = { id, bytes, offsets, fileIdx };
    return new Promise<BatchResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker: i });
      (this.workers[i] as Worker).postMessage(req);
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

/** A batch sent to a worker: its bytes and offsets are kept to read it here if the worker fails. */
interface Sent {
  result: Promise<BatchResult>;
  bytes: Buffer;
  offsets: Float64Array;
}

/** A batch sent, the rejects and skips the splitter found (`BatchResult`), or the end of a chunk. */
type Entry = Sent | BatchResult | 'pause';

const isSent = (e: Entry): e is Sent => typeof e === 'object' && 'result' in e;

/**
 * Collects the values the splitter finds into batches for the workers and
 * hands the results to the sink in reading order; `pause` runs where the
 * reader in one thread would run it (after each chunk).
 */
export class Batches {
  private b: Buffer | null = null;
  private first = 0;
  private lastEnd = 0;
  private offsets: number[] = [];
  private readonly queue: Entry[] = [];
  private sent = 0;

  constructor(
    private readonly workers: ParseWorkers,
    private readonly fileIdx: number,
    private readonly sink: CloudTrailSink & { staged(r: BatchResult): void },
    private readonly pause: () => Promise<void>,
  ) {}

  /** A value: bytes [s, e) of `b`. */
  value(b: Buffer, s: number, e: number, where: number): void {
    // Values of one batch are copied as one run of bytes: a new buffer or a long gap starts another.
    if (this.offsets.length > 0 && (b !== this.b || s - this.lastEnd > 64 << 10)) this.flush();
    if (this.offsets.length === 0) {
      this.b = b;
      this.first = s;
    }
    this.offsets.push(s - this.first, e - this.first, where);
    this.lastEnd = e;
    if (e - this.first >= BATCH_BYTES) this.flush();
  }

  /**
   * A blank line: in the batch being gathered, if any, so that records with
   * blank lines between them still go in batches of BATCH_BYTES (a blank
   * line that ended the batch sent one record a batch, 40% slower).
   */
  blank(line: number): void {
    if (this.offsets.length === 0) {
      this.local({ staged: [], rows: 0, rejects: [], skips: [[line, 'blank line']] });
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
      last.skips.push(...r.skips);
    } else this.queue.push(r);
  }

  /** The end of a chunk: `pause` runs here, in order. */
  chunkEnd(): void {
    this.flush();
    this.queue.push('pause');
  }

  private flush(): void {
    if (this.offsets.length === 0 || this.b === null) return;
    // Not from Node's shared pool (posting a view copies the whole buffer under it), and not zero-filled: every byte is written.
    const bytes = Buffer.allocUnsafeSlow(this.lastEnd - this.first);
    this.b.copy(bytes, 0, this.first, this.lastEnd);
    // Float64: a line number can pass 2^31 (a file of a few MB gzipped can hold that many blank lines).
    const offsets = Float64Array.from(this.offsets);
    const result = this.workers.parse(bytes, offsets, this.fileIdx);
    // Awaited in order by `take`; a failure seen before then is not unhandled.
    result.catch(() => {});
    this.queue.push({ result, bytes, offsets });
    this.sent++;
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
      readEntries(this.sink, batch.bytes, batch.offsets);
      return;
    }
    this.apply(r);
  }

  private apply(r: BatchResult): void {
    for (const [where, reason, raw] of r.rejects) this.sink.reject(where, reason, raw);
    for (const [where, reason] of r.skips) this.sink.skip(where, reason);
    if (r.rows > 0) this.sink.staged(r);
  }
}
