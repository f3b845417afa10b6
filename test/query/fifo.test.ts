/**
 * query/fifo.ts: the worker that reads what DuckDB writes into a named
 * pipe. Every byte in order, a slow consumer slows the writer (memory
 * stays a few chunks), a consumer that stops makes the writer's next write
 * fail, and a pipe that cannot be read is an error.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fifoChunks } from '../../query/fifo.js';
import { tempDir } from '../helpers/dataset.js';

let tmp: { dir: string; cleanup: () => void };
let path: string;

beforeEach(() => {
  tmp = tempDir();
  path = join(tmp.dir, 'pipe');
  execFileSync('mkfifo', ['-m', '600', path]);
});
afterEach(() => tmp.cleanup());

/** Writes `data` into the FIFO in 64 KiB pieces; `written` counts what the pipe accepted; `done` settles with the writer's end or error. */
function writer(data: Buffer): { written: () => number; done: Promise<Error | null> } {
  const out = createWriteStream(path, { highWaterMark: 1 << 16 });
  let written = 0;
  const done = new Promise<Error | null>((resolve) => {
    out.on('error', resolve);
    out.on('close', () => resolve(null));
  });
  void (async () => {
    for (let at = 0; at < data.length; at += 1 << 16) {
      const piece = data.subarray(at, at + (1 << 16));
      const ok = out.write(piece, (err) => {
        if (!err) written += piece.length;
      });
      if (!ok) await new Promise<void>((r) => out.once('drain', () => r()));
      if (out.destroyed) return;
    }
    out.end();
  })();
  return { written: () => written, done };
}

describe('fifoChunks', () => {
  it('gives every byte written, in order, in chunks of about 1 MiB', async () => {
    const data = randomBytes(5 * (1 << 20) + 12345);
    const w = writer(data);
    const chunks: Buffer[] = [];
    for await (const c of fifoChunks(path)) chunks.push(c);
    expect(await w.done).toBeNull();
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    expect(Math.max(...chunks.map((c) => c.length))).toBeLessThanOrEqual(1 << 20);
    expect(chunks.length).toBeLessThan(12);
  });

  it('an empty pipe (the writer opened and closed it) gives nothing', async () => {
    const w = writer(Buffer.alloc(0));
    const chunks: Buffer[] = [];
    for await (const c of fifoChunks(path)) chunks.push(c);
    expect(await w.done).toBeNull();
    expect(chunks).toEqual([]);
  });

  it('a consumer that waits holds the writer back: a few MiB in memory, not the whole output', async () => {
    const data = randomBytes(40 << 20);
    const w = writer(data);
    const it = fifoChunks(path)[Symbol.asyncIterator]();
    await it.next();
    await new Promise((r) => setTimeout(r, 500));
    // Four chunks waiting, one being gathered, the pipe's 64 KiB and the writer's own piece.
    expect(w.written()).toBeLessThan(8 << 20);
    let total = 0;
    for (let r = await it.next(); !r.done; r = await it.next()) total += r.value.length;
    expect(await w.done).toBeNull();
    expect(total + (1 << 20)).toBeGreaterThanOrEqual(data.length - (1 << 20));
  });

  it('a consumer that stops closes the pipe: the writer\'s next write fails', async () => {
    const w = writer(randomBytes(64 << 20));
    for await (const c of fifoChunks(path)) {
      expect(c.length).toBeGreaterThan(0);
      break;
    }
    const err = await w.done;
    expect(err).toMatchObject({ code: 'EPIPE' });
    expect(w.written()).toBeLessThan(16 << 20);
  });

  it('a path that is not there is an error naming it', async () => {
    const gone = join(tmp.dir, 'gone');
    await expect(async () => {
      for await (const c of fifoChunks(gone)) expect(c).toBeUndefined();
    }).rejects.toThrow(/cannot read .*gone.*ENOENT/);
  });
});
