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
 * costs about nothing (bench/REPORT.md, export).
 */
import { Worker } from 'node:worker_threads';

/** Bytes the worker gathers before it hands a chunk over. */
const CHUNK = 1 << 20;
/** Chunks handed over and not yet taken: past this the worker stops reading, so a slow consumer slows DuckDB rather than filling memory. */
const IN_FLIGHT = 4;

/** What the worker posts: a chunk, the end, or why it could not read. */
type Message = Uint8Array | { end: true } | { error: string };

/** Slots of the shared state. */
const TAKEN_BEHIND = 0;
const STOP = 1;

/**
 * The worker's body. It runs from its source text (`eval`), so it uses
 * nothing from this module: its arguments are the modules it needs.
 */
function readFifo(wt: typeof import('node:worker_threads'), fs: typeof import('node:fs')): void {
  const port = wt.parentPort as import('node:worker_threads').MessagePort;
  const { path, chunk, inFlight, state: shared } = wt.workerData as { path: string; chunk: number; inFlight: number; state: SharedArrayBuffer };
  // [0]: chunks posted and not yet taken; [1]: set when the consumer stopped.
  const state = new Int32Array(shared);
  let fd: number;
  try {
    // Blocks until DuckDB opens the pipe for writing (or the export opens and closes it: COPY failed first).
    fd = fs.openSync(path, 'r');
  } catch (err) {
    port.postMessage({ error: String(err) });
    return;
  }
  try {
    let buf = Buffer.allocUnsafe(chunk);
    let n = 0;
    for (;;) {
      if (Atomics.load(state, 1)) return;
      const got = fs.readSync(fd, buf, n, buf.length - n, null);
      n += got;
      // A full chunk (room for less than one more pipe's worth), or the end.
      if (n > 0 && (got === 0 || n > buf.length - 65536)) {
        for (let now = Atomics.load(state, 0); now >= inFlight && !Atomics.load(state, 1); now = Atomics.load(state, 0)) Atomics.wait(state, 0, now);
        if (Atomics.load(state, 1)) return;
        Atomics.add(state, 0, 1);
        const out = buf.buffer.byteLength === buf.length ? buf : Buffer.from(buf);
        port.postMessage(out.subarray(0, n), [out.buffer]);
        buf = Buffer.allocUnsafe(chunk);
        n = 0;
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

/**
 * The bytes written into the FIFO at `path` until its writer closes it, in
 * chunks of about 1 MiB. Stopping early (return or throw in the consumer)
 * stops the reading: the read end closes after the read under way, and the
 * writer's next write fails.
 */
export async function* fifoChunks(path: string): AsyncGenerator<Buffer> {
  const shared = new SharedArrayBuffer(8);
  const state = new Int32Array(shared);
  const worker = new Worker(SOURCE, { eval: true, workerData: { path, chunk: CHUNK, inFlight: IN_FLIGHT, state: shared } });
  const queue: Message[] = [];
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
