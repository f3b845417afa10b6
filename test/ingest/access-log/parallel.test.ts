/**
 * Access logs read on the parse workers (ingest/parallel.ts) against the
 * reader's own thread: every fixture, sample, hostile and generated line
 * ingested both ways gives the same dataset (helpers/parse-workers.ts:
 * every row and column, the rejects in order, the counts, the Parquet
 * files), also when a batch fails on its worker or a worker stops. A source
 * under 1 MiB (as stored) is read in one thread either way, so each case
 * has files past it.
 */
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AccessLogLines, stageAccessLogBatch } from '../../../ingest/access-log/batch.js';
import { readLines } from '../../../ingest/lines.js';
import { TsvWriter } from '../../../ingest/tsv-writer.js';
import { Batches, type BatchResult } from '../../../ingest/parallel.js';
import { generateAccessLogLines } from '../../../scripts/gen-access-logs.js';
import { fixtureLines, hostileLines } from '../../helpers/access-log-lines.js';
import { tempDir } from '../../helpers/dataset.js';
import { DIST, expectSameOnWorkers, pastOneMiB, writeInput } from '../../helpers/parse-workers.js';

const { ParseWorkers } = (await import(new URL('parallel.js', DIST).href)) as typeof import('../../../ingest/parallel.js');
const { accessLogOnWorkers } = (await import(new URL('ingest.js', DIST).href)) as typeof import('../../../ingest/ingest.js');

let tmp: { dir: string; cleanup: () => void };
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

/** An input file of at least 1 MiB as stored, so that it is read on the workers. */
const write = (name: string, content: string | Buffer): string => {
  const path = writeInput(tmp.dir, name, content);
  expect(statSync(path).size).toBeGreaterThanOrEqual(1 << 20);
  return path;
};

const generated = (lines: number, seed: number, quirks = 0.02): string[] => [...generateAccessLogLines({ lines, seed, days: 3, quirks })];

type Parse = (this: { firstFailure: Error | null; workers: Array<{ terminate(): Promise<number> }> }, ...a: unknown[]) => Promise<unknown>;

/** Run `body` with ParseWorkers.parse replaced by `wrap(original)`; the number of batches sent. */
async function withParse(wrap: (parse: Parse, call: number) => Parse | null, body: () => Promise<void>): Promise<number> {
  const proto = ParseWorkers.prototype as unknown as { parse: Parse };
  const parse = proto.parse;
  let calls = 0;
  proto.parse = function (...a) {
    const f = wrap(parse, ++calls) ?? parse;
    return f.apply(this, a);
  };
  try {
    await body();
  } finally {
    proto.parse = parse;
  }
  return calls;
}

// Each case ingests its files twice; on a loaded 2-core machine that takes a while.
describe('access logs read on parse workers', { timeout: 240_000 }, () => {
  it('reads on workers on machines of more than two cores, or when told to; a source under 1 MiB in its own thread', async () => {
    expect([1, 2, 3, 8].map((cores) => accessLogOnWorkers(undefined, cores))).toEqual([false, false, true, true]);
    expect([0, 1, 4].map((n) => accessLogOnWorkers(n, 2))).toEqual([false, true, true]);
    const small = join(tmp.dir, 'small.log');
    writeFileSync(small, generated(1000, 3).join('\n'));
    expect(statSync(small).size).toBeLessThan(1 << 20);
    const big = write('big.log', generated(6000, 4).join('\n'));
    const batches = async (files: string[]): Promise<number> => withParse(() => null, async () => void (await expectSameOnWorkers(tmp.dir, 'access-log', files, String(files.length))));
    expect(await batches([small])).toBe(0);
    expect(await batches([small, big])).toBeGreaterThan(4);
  });

  it('stores the fixture and sample lines and lines made to break a splitter as one thread does, in the same order', async () => {
    // Blank, bad and good lines mixed, many times over, so each kind falls in every place of a batch.
    const lines = [...fixtureLines(), ...hostileLines()].join('\n') + '\n';
    const files = [
      write('fixtures.log', pastOneMiB(lines)),
      write('crlf.log', pastOneMiB(lines.replaceAll('\n', '\r\n'))),
      // No line end at the end of the file.
      write('no-final-newline.log', pastOneMiB(lines).trimEnd()),
    ];
    const { s } = await expectSameOnWorkers(tmp.dir, 'access-log', files, 'hostile');
    expect(s.rows).toBeGreaterThan(1000);
    expect(s.rejected).toBeGreaterThan(100);
    expect(s.skipped).toBeGreaterThan(100);
  });

  it('stores generated logs (quirky lines, gzipped, invalid UTF-8, a line too long to hold, blank runs) as one thread does', async () => {
    const lines = generated(30_000, 9);
    // Invalid UTF-8 inside a key, a line past the 16 MiB cap, and 50,000 blank lines in a run.
    const bad = Buffer.concat([Buffer.from(`${lines[0] as string}\n`), Buffer.from(lines[1] as string).subarray(0, 200), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from(`${(lines[1] as string).slice(200)}\n`)]);
    const mixed = Buffer.concat([
      Buffer.from(lines.slice(0, 5000).join('\n') + '\n'),
      bad,
      Buffer.from(`${'x'.repeat(17 << 20)}\n`),
      Buffer.from('\n'.repeat(50_000)),
      Buffer.from(lines.slice(5000, 12_000).join('\n') + '\n'),
    ]);
    const files = [write('generated.log.gz', gzipSync(lines.join('\n') + '\n')), write('mixed.log', mixed)];
    const { s } = await expectSameOnWorkers(tmp.dir, 'access-log', files, 'generated');
    expect(s.rows).toBeGreaterThan(40_000);
    expect(s.skipped).toBeGreaterThanOrEqual(50_000);
    expect(s.firstRejects.some((r) => /longer than any record/.test(r.reason))).toBe(true);
  });

  it('counts a run of blank lines in the reading thread, not on the workers, as one thread does', async () => {
    const lines = generated(4000, 17);
    // 1.1M blank lines after a record, and 100,000 before the first one.
    const content = '\n'.repeat(100_000) + lines.slice(0, 2000).join('\n') + '\n'.repeat(1_100_000) + lines.slice(2000).join('\r\n') + '\r\n \r\n';
    let sent = 0;
    await withParse(
      (parse) =>
        function (...a) {
          sent += (a[2] as Float64Array).length / 3;
          return parse.apply(this, a);
        },
      async () => void (await expectSameOnWorkers(tmp.dir, 'access-log', [write('blank-runs.log', content)], 'blank')),
    );
    // The lines, and at most a batch's worth of the blank lines after the first record (they join its batch).
    expect(sent).toBeGreaterThanOrEqual(4000);
    expect(sent).toBeLessThan(4000 + 70_000);
  });

  it('stores what one thread does when batches fail on their worker, and warns once', async () => {
    const lines = generated(20_000, 11);
    lines.splice(700, 0, 'garbage', '', '   ');
    let result: { warnings: string[] } = { warnings: [] };
    const calls = await withParse(
      (parse, call) =>
        call === 3 || call === 5
          ? function () {
              this.firstFailure ??= new Error('a parse worker failed: RangeError: boom\n    at stageAccessLogBatch');
              return Promise.reject(this.firstFailure);
            }
          : parse,
      async () => {
        result = await expectSameOnWorkers(tmp.dir, 'access-log', [write('failing.log', lines.join('\n'))], 'failing');
      },
    );
    expect(calls).toBeGreaterThan(5);
    expect(result.warnings).toEqual(['a parse worker failed; its batches were read in the main thread instead (a parse worker failed: RangeError: boom)']);
  });

  it('reads on in its own thread when a worker stops mid-read: every line counted once, later sources too', async () => {
    const files = [write('first.log', generated(20_000, 13).join('\n')), write('second.log', generated(8000, 14).join('\n'))];
    let result: { s: { rows: number; rejected: number; skipped: number; lines: number }; warnings: string[] } | null = null;
    await withParse(
      (parse, call) =>
        call === 4
          ? async function (...a) {
              // A worker killed under the reader (as an out-of-memory worker is) with batches out.
              await this.workers[0]?.terminate();
              return parse.apply(this, a);
            }
          : parse,
      async () => {
        result = await expectSameOnWorkers(tmp.dir, 'access-log', files, 'stopped');
      },
    );
    const r = result as unknown as { s: { rows: number; rejected: number; skipped: number; lines: number }; warnings: string[] };
    expect(r.s.rows + r.s.rejected + r.s.skipped).toBe(r.s.lines);
    expect(r.s.lines).toBe(28_000);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(/^a parse worker failed; its batches were read in the main thread instead \(a parse worker stopped/);
  });
});

describe('skips coming back from the workers', () => {
  it('counts a run of blank lines as one entry of the batch result, and hands each skip to the sink at its line', async () => {
    // 200,000 blank lines (LF, CRLF, spaces) with a bad line and a blank one after it, lines 2 to 200,003.
    const text = Buffer.from('\n'.repeat(100_000) + '\r\n'.repeat(50_000) + '  \t\n'.repeat(50_000) + 'garbage\n\n');
    const offsets: number[] = [];
    for (let s = 0, line = 2; s < text.length; line++) {
      const e = text.indexOf(10, s);
      offsets.push(s, e, line);
      s = e + 1;
    }
    const r = stageAccessLogBatch(text, Float64Array.from(offsets), 0);
    expect(r.skips).toEqual([[2, 'blank line', 200_000], [200_003, 'blank line', 1]]);
    expect(r.rejects.map(([where]) => where)).toEqual([200_002]);
    // Through Batches, the sink sees every skip at its own line.
    const workers = { size: 1, parse: async (_k: string, b: Uint8Array, o: Float64Array, f: number): Promise<BatchResult> => stageAccessLogBatch(Buffer.from(b), o, f) };
    const seen: number[] = [];
    const batches = new Batches(workers as unknown as ConstructorParameters<typeof Batches>[0], 'access-log', 0, {
      reject: (where) => void seen.push(-where),
      skip: (where) => void seen.push(where),
      staged: () => {},
      readHere: () => {},
    }, async () => {});
    for (let i = 0; i < offsets.length; i += 3) batches.value(text, offsets[i] as number, offsets[i + 1] as number, offsets[i + 2] as number);
    await batches.take(0);
    const want = Array.from({ length: 200_000 }, (_, i) => i + 2);
    // A batch's rejects come before its skips.
    expect(seen.length).toBe(200_002);
    expect(seen.filter((w) => w > 0)).toEqual([...want, 200_003]);
    expect(seen.filter((w) => w < 0)).toEqual([-200_002]);
  });
});

describe('lines in batches', () => {
  /** Read `content` in chunks of 64 KiB, in one thread or through Batches on stand-in workers (`fail(n)`: the n-th batch fails); what the sink saw, and the batches sent. */
  async function read(content: Buffer, workers: boolean, fail: (n: number) => boolean = () => false): Promise<{ rows: string[]; rejects: number[]; skips: number; batches: number }> {
    const chunks = async function* (): AsyncGenerator<Buffer> {
      for (let i = 0; i < content.length; i += 64 << 10) yield content.subarray(i, i + (64 << 10));
    };
    const w = new TsvWriter(1 << 20);
    const seen = { rows: [] as string[], rejects: [] as number[], skips: 0, batches: 0 };
    const here = new AccessLogLines(0, { writerFor: (_t, rowBytes) => (w.reserve(rowBytes), w), row: () => {}, reject: (line) => void seen.rejects.push(line), skip: () => void seen.skips++ });
    const stand = {
      size: 2,
      parse: async (_k: string, b: Uint8Array, o: Float64Array, f: number): Promise<BatchResult> => {
        if (fail(++seen.batches)) throw new Error('a parse worker stopped (exit code 1)');
        return stageAccessLogBatch(Buffer.from(b), o.slice(), f);
      },
    };
    const batches = new Batches(stand as unknown as ConstructorParameters<typeof Batches>[0], 'access-log', 0, {
      reject: (line) => void seen.rejects.push(line),
      skip: () => void seen.skips++,
      staged: (r) => void seen.rows.push(...r.staged.map((g) => Buffer.from(g.rows).toString('utf8'))),
      readHere: (b, offsets) => here.lines(b, offsets),
    }, async () => {});
    if (workers) {
      await readLines(chunks(), (b, s, e, n) => batches.value(b, s, e, n), async () => {
        batches.chunkEnd();
        await batches.take();
      });
      await batches.take(0);
    } else await readLines(chunks(), (b, s, e, n) => here.line(b, s, e, n), () => {});
    seen.rows.push(w.buf.toString('utf8', 0, w.len));
    // Rows by line (a batch's rows come grouped by date file).
    seen.rows = seen.rows.join('').split('\n').filter((r) => r !== '').sort();
    return seen;
  }

  it('keeps lines with invalid UTF-8 (each handed over in a buffer of its own) in the batch of the lines around them, and reads them here as one thread does when the batch fails', async () => {
    // Every other line holds a byte that is not UTF-8, some lines are bad, some blank.
    const lines = generated(3000, 21).map((l, i) => (i % 97 === 0 ? '' : i % 89 === 0 ? 'garbage' : l));
    const content = Buffer.concat(lines.map((l, i) => {
      const b = Buffer.from(`${l}\n`);
      if (i % 2 === 0 && b.length > 200) b[200] = 0xff;
      return b;
    }));
    const one = await read(content, false);
    expect(one.rows.length).toBeGreaterThan(1000);
    expect(one.rows.filter((r) => r.includes('\uFFFD')).length).toBeGreaterThan(100);
    const two = await read(content, true);
    expect({ ...two, batches: 0 }).toEqual(one);
    // 64 KiB chunks: a batch or two each, not one for each line.
    expect(two.batches).toBeLessThan(2 * Math.ceil(content.length / (64 << 10)));
    const failing = await read(content, true, (n) => n % 2 === 0);
    expect({ ...failing, batches: 0 }).toEqual(one);
  });
});
