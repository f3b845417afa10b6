/**
 * How the reader hands values to parse workers and takes their results back
 * (ingest/parallel.ts, `Batches`), with stand-in workers that
 * stage each batch in this thread: what reaches the sink, in what order,
 * and what happens when a worker fails. (parallel.test.ts runs the real
 * workers from dist/ against whole ingests.)
 */
import { describe, expect, it } from 'vitest';
import { stageCloudTrailBatch } from '../../../ingest/cloudtrail/batch.js';
import { Batches, type BatchResult, type ParseWorkers } from '../../../ingest/parallel.js';
import { readCloudTrail, type ParallelRead } from '../../../ingest/cloudtrail/read.js';
import { generateCloudTrailRecords } from '../../../scripts/gen-cloudtrail.js';

/** Workers that stage each batch in this thread; `fail(n)` makes the n-th batch (1-based) fail as a dead worker's does. */
function standIn(fail: (n: number) => boolean = () => false): ParseWorkers & { batches: number } {
  const w = {
    batches: 0,
    size: 2,
    alive: true,
    failure: null,
    parse(_kind: string, bytes: Uint8Array, offsets: Float64Array, fileIdx: number): Promise<BatchResult> {
      if (fail(++w.batches)) return Promise.reject(new Error('a parse worker stopped (exit code 1)'));
      // A copy, as a worker gets one.
      return Promise.resolve(stageCloudTrailBatch(Buffer.from(bytes), offsets.slice(), fileIdx));
    },
  };
  return w as unknown as ParseWorkers & { batches: number };
}

/** The `where` (last field) of each staged TSV row of a batch result. */
const wheresOf = (r: BatchResult): number[] =>
  r.staged.flatMap((g) => Buffer.from(g.rows).toString('utf8').split('\n').slice(0, -1).map((line) => Number(line.slice(line.lastIndexOf('\t') + 1))));

interface Seen {
  /** Rows by `where` (a batch's rows come grouped by date file: compare them sorted). */
  rows: number[];
  rejects: Array<[number, string]>;
  skips: number;
  error: string | null;
}

/** Read `content` in chunks of `chunk` bytes, in one thread (no `workers`) or on `workers`. */
async function read(content: Buffer, workers?: ParseWorkers, chunk = 1 << 18): Promise<Seen> {
  const seen: Seen = { rows: [], rejects: [], skips: 0, error: null };
  const chunks = async function* (): AsyncGenerator<Buffer> {
    for (let i = 0; i < content.length; i += chunk) yield content.subarray(i, i + chunk);
  };
  const sink = {
    row: (_row: unknown, where: number) => void seen.rows.push(where),
    reject: (where: number, reason: string) => void seen.rejects.push([where, reason]),
    skip: () => void seen.skips++,
  };
  const parallel: ParallelRead | undefined = workers && { workers, fileIdx: 0, staged: (r) => void seen.rows.push(...wheresOf(r)) };
  try {
    await readCloudTrail(chunks(), sink, async () => {}, parallel);
  } catch (err) {
    seen.error = (err as Error).message;
  }
  return seen;
}

const records = [...generateCloudTrailRecords({ records: 3000, seed: 5 })].map((r) => JSON.stringify(r));

describe('CloudTrail values read on parse workers', () => {
  it('reads a long run of blank lines in linear time', async () => {
    // 500,000 blank lines (2 MiB) after one record: each was a queue entry of its own, taken off the front of an array
    // (1,100,000 took more than 5 minutes).
    const content = Buffer.from(`${records[0]}\n${'   \n'.repeat(500_000)}${records[1]}\n`);
    const started = performance.now();
    const seen = await read(content, standIn());
    expect(seen.skips).toBe(500_000);
    expect(seen.rows).toEqual([1, 500_002]);
    // (A bound far above the 0.1-0.2 s it takes, far below the quadratic 12.6 s.)
    expect(performance.now() - started).toBeLessThan(8_000);
  });

  it('keeps records with blank lines between them in batches of their bytes, not one record a batch, and counts every blank line', async () => {
    const content = Buffer.from(records.join('\n\n') + '\n');
    const one = await read(content);
    const workers = standIn();
    const two = await read(content, workers);
    expect(two.skips).toBe(2999);
    expect({ ...two, rows: two.rows.slice().sort((a, b) => a - b) }).toEqual({ ...one, rows: one.rows.slice().sort((a, b) => a - b) });
    // About one batch per 256 KiB of records (a blank line ended the batch: 3,000 of them).
    expect(workers.batches).toBeLessThan(Math.ceil(content.length / (256 << 10)) + 10);
  });

  it('counts the blank lines of a batch whose worker failed, read in this thread, as one thread does', async () => {
    const content = Buffer.from(records.join('\n\n') + '\n');
    const one = await read(content);
    const two = await read(content, standIn((n) => n === 2 || n === 5));
    expect([two.skips, two.rows.length, two.error]).toEqual([one.skips, one.rows.length, null]);
  });

  it('reads the batch of a worker that failed in this thread: no record lost or doubled, rejects in order', async () => {
    const lines = records.slice();
    lines.splice(1000, 0, 'not json', '{"eventName": "NoTime"}', '');
    const content = Buffer.from(lines.join('\n') + '\n');
    expect(content.length).toBeGreaterThan(1 << 20);
    const one = await read(content);
    const workers = standIn((n) => n === 3 || n === 6);
    const two = await read(content, workers);
    expect(workers.batches).toBeGreaterThan(6);
    const sorted = (s: Seen): Seen => ({ ...s, rows: s.rows.slice().sort((a, b) => a - b) });
    expect(sorted(two)).toEqual(sorted(one));
    expect(new Set(two.rows).size).toBe(3000);
    expect(two.rejects).toHaveLength(2);
  });

  it('keeps the line number of a value past 2^31 lines', async () => {
    const workers = standIn();
    const rows: number[] = [];
    const batches = new Batches(workers, 'cloudtrail', 0, { reject: () => {}, skip: () => {}, staged: (r) => void rows.push(...wheresOf(r)), readHere: () => {} }, async () => {});
    const b = Buffer.from(records[0] as string);
    batches.value(b, 0, b.length, 2 ** 31 + 7);
    batches.value(b, 0, b.length, 2 ** 32 + 1);
    await batches.take(0);
    expect(rows).toEqual([2 ** 31 + 7, 2 ** 32 + 1]);
  });
});
