/**
 * The bytes DuckDB writes into a named pipe (FIFO), read by a worker
 * thread: the export's way to stream DuckDB's COPY to standard output
 * (query/export.ts copyBytes).
 *
 * Why a worker: a pipe holds 64 KiB, so a reader gets DuckDB's output in
 * 64 KiB reads. Read on the main thread (fs.createReadStream), each read is
 * a trip through libuv's thread pool and the event loop, and DuckDB's
 * writer waits on every one: 1M CloudTrail rows to CSV (830 MB) took 1.5 s
 * longer than COPY to a file. A worker reading with plain blocking reads,
 * as `cat` does, gathers them into 1 MiB chunks for the main thread and
 * costs about nothing (bench/REPORT.md, export). Once the export has
 * written what it holds back, it can hand standard output over to the
 * worker (handOver), which then writes what it reads itself: the main
 * thread no longer passes every byte on (1M rows to CSV: about 0.4 s).
 */
import { Worker } from 'node:worker_threads';

/** Bytes the worker gathers before it hands a chunk over. */
const CHUNK = 1 << 20;
/** Chunks handed over and not yet taken: past this the worker stops reading, so a slow consumer slows DuckDB rather than filling memory. */
const IN_FLIGHT = 4;

/** What the worker posts: a chunk, the end, or why it could not read (or, handed over, write). */
type Message = Uint8Array | { end: true } | { error: string } | { writeError: string; code?: string };

/** Slots of the shared state. */
const TAKEN_BEHIND = 0;
const STOP = 1;
const OUT_FD = 2;
/** TAKEN_BEHIND's value once the worker writes to OUT_FD itself. */
const HANDED_OVER = -1;

/**
 * The worker's body. It runs from its source text (`eval`), so it uses
 * nothing from this module: its arguments are the modules it needs.
 */
function readFifo(wt: typeof import('node:worker_threads'), fs: typeof import('node:fs')): void {
  const port = wt.parentPort as import('node:worker_threads').MessagePort;
  const { path, chunk, inFlight, state: shared } = wt.workerData as { path: string; chunk: number; inFlight: number; state: SharedArrayBuffer };
  // [0]: chunks posted and not yet taken, or -1: handed over, write to [2]; [1]: set when the consumer stopped.
  const state = new Int32Array(shared);
  let fd: number;
  try {
    // Blocks until DuckDB opens the pipe for writing (or the export opens and closes it: COPY failed first).
    fd = fs.openSync(path, 'r');
  } catch (err) {
    port.postMessage({ error: String(err) });
    return;
  }
  /** Every byte of `b` to the handed-over descriptor (a pipe may be non-blocking: it is waited for). */
  const writeAll = (b: Buffer): void => {
    for (let at = 0; at < b.length;) {
      try {
        at += fs.writeSync(state[2] as number, b, at, b.length - at);
      } catch (err) {
        if ((err as { code?: string }).code !== 'EAGAIN') throw err;
        Atomics.wait(state, 1, 0, 1);
      }
    }
  };
  try {
    let buf = Buffer.allocUnsafe(chunk);
    let n = 0;
    for (;;) {
      if (Atomics.load(state, 1)) return;
      const got = fs.readSync(fd, buf, n, buf.length - n, null);
      n += got;
      // A full chunk (room for less than one more pipe's worth), or the end.
      if (n > 0 && (got === 0 || n > buf.length - 65536)) {
        for (;;) {
          if (Atomics.load(state, 1)) return;
          const now = Atomics.load(state, 0);
          if (now === -1) {
            try {
              writeAll(buf.subarray(0, n));
            } catch (err) {
              port.postMessage({ writeError: String(err), code: (err as { code?: string }).code });
              return;
            }
            n = 0;
            break;
          }
          if (now >= inFlight) {
            Atomics.wait(state, 0, now);
            continue;
          }
          // Counted before it is posted, unless the consumer handed over meanwhile.
          if (Atomics.compareExchange(state, 0, now, now + 1) !== now) continue;
          const out = buf.buffer.byteLength === buf.length ? buf : Buffer.from(buf);
          port.postMessage(out.subarray(0, n), [out.buffer]);
          buf = Buffer.allocUnsafe(chunk);
          n = 0;
          break;
        }
      }
      if (got === 0) break;
    }
    port.postMessage({ end: true });
  } catch (err) {
    port.postMessage({ error: String(err) });
  } finally {
    fs.closeSync(fd);
  }
}

const SOURCE = `(${readFifo.toString()})(require('node:worker_threads'), require('node:fs'));`;

/** The write error of a reader handed over to a file descriptor: `code` is the system's (EPIPE: the reader of standard output went away). */
export class HandedOverWriteError extends Error {
  constructor(message: string, readonly code: string | undefined) {
    super(message);
  }
}

/** A FIFO's bytes as they come (fifoChunks), which can be handed over to be written to a file descriptor by the reading worker itself. */
export interface FifoReader extends AsyncIterable<Buffer> {
  /**
   * From now on the worker writes what it reads to `fd` itself, and the
   * iteration gives nothing more but ends (or throws) when the worker does.
   * Only when every chunk given so far has been taken: false otherwise (try
   * again after the next). The caller must have written every byte given
   * so far to `fd` before (a write that waits in a stream would come after).
   */
  handOver(fd: number): boolean;
}

/**
 * The bytes written into the FIFO at `path` until its writer closes it, in
 * chunks of about 1 MiB. Stopping early (return or throw in the consumer)
 * stops the reading: the read end closes after the read under way, and the
 * writer's next write fails.
 */
export function fifoChunks(path: string): FifoReader {
  const shared = new SharedArrayBuffer(12);
  const state = new Int32Array(shared);
  const queue: Message[] = [];
  async function* chunks(): AsyncGenerator<Buffer> {
    const worker = new Worker(SOURCE, { eval: true, workerData: { path, chunk: CHUNK, inFlight: IN_FLIGHT, state: shared } });
    let wake: (() => void) | undefined;
    let exited = false;
    let failure: Error | undefined;
    worker.on('message', (m: Message) => {
      queue.push(m);
      wake?.();
    });
    worker.on('error', (err) => {
      failure ??= err;
      wake?.();
    });
    worker.on('exit', () => {
      exited = true;
      wake?.();
    });
    try {
      for (;;) {
        const m = queue.shift();
        if (m === undefined) {
          if (failure) throw failure;
          if (exited) throw new Error(`the reader of ${path} stopped before the end`);
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
          continue;
        }
        if (m instanceof Uint8Array) {
          Atomics.sub(state, TAKEN_BEHIND, 1);
          Atomics.notify(state, TAKEN_BEHIND);
          yield Buffer.from(m.buffer, m.byteOffset, m.byteLength);
          continue;
        }
        if ('writeError' in m) throw new HandedOverWriteError(m.writeError, m.code);
        if ('error' in m) throw new Error(`cannot read ${path}: ${m.error}`);
        return;
      }
    } finally {
      Atomics.store(state, STOP, 1);
      Atomics.notify(state, TAKEN_BEHIND);
      // A worker blocked in a read ends when the read returns; it must not keep the process alive meanwhile.
      worker.unref();
    }
  }
  return {
    [Symbol.asyncIterator]: chunks,
    handOver(fd: number): boolean {
      if (queue.length > 0) return false;
      Atomics.store(state, OUT_FD, fd);
      if (Atomics.compareExchange(state, TAKEN_BEHIND, 0, HANDED_OVER) !== 0) return false;
      Atomics.notify(state, TAKEN_BEHIND);
      return true;
    },
  };
}
