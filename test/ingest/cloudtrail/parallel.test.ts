/**
 * CloudTrail read on the parse workers (ingest/parallel.ts) against the
 * reader's own thread: every fixture, sample and hostile file ingested both
 * ways gives the same dataset (helpers/parse-workers.ts: every row and
 * column, the rejects in order, the counts, the Parquet files). Workers
 * start from the compiled modules, in dist/. Content under 1 MiB is read in one thread either way, so each
 * case also has files past it: the fixtures and samples are put together
 * into larger files (several documents or lines in one file).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateCloudTrailRecords } from '../../../scripts/gen-cloudtrail.js';
import { CONFORMANCE, SAMPLES, tempDir } from '../../helpers/dataset.js';
import { contentBytes, DIST, expectSameOnWorkers, pastOneMiB, writeInput } from '../../helpers/parse-workers.js';

let tmp: { dir: string; cleanup: () => void };
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

const write = (name: string, content: string | Buffer): string => writeInput(tmp.dir, name, content);

// Each case ingests its files twice; on a loaded 2-core machine that takes a while.
describe('CloudTrail read on parse workers', { timeout: 240_000 }, () => {
  it('runs from the compiled modules', () => {
    expect(existsSync(new URL('parse-worker.js', DIST))).toBe(true);
  });

  it('reads content of 1 MiB or more on the workers, and smaller content in its own thread', async () => {
    const { readCloudTrail } = (await import(new URL('cloudtrail/read.js', DIST).href)) as typeof import('../../../ingest/cloudtrail/read.js');
    const { ParseWorkers } = (await import(new URL('parallel.js', DIST).href)) as typeof import('../../../ingest/parallel.js');
    const workers = ParseWorkers.start(2);
    expect(workers).not.toBeNull();
    try {
      const recs = [...generateCloudTrailRecords({ records: 2000, seed: 17 })];
      for (const n of [2000, 100]) {
        const content = Buffer.from(JSON.stringify({ Records: recs.slice(0, n) }));
        const counts = { row: 0, staged: 0, pauses: 0 };
        const chunks = async function* (): AsyncGenerator<Buffer> {
          for (let i = 0; i < content.length; i += 1 << 18) yield content.subarray(i, i + (1 << 18));
        };
        const sink = { row: () => counts.row++, reject: () => {}, skip: () => {} };
        const parallel = { workers: workers as NonNullable<typeof workers>, fileIdx: 0, staged: (r: { rows: number }) => (counts.staged += r.rows) };
        await readCloudTrail(chunks(), sink, async () => void counts.pauses++, parallel);
        expect(content.length >= 1 << 20 ? counts.staged : counts.row).toBe(n);
        expect(counts.row + counts.staged).toBe(n);
        expect(counts.pauses).toBe(Math.ceil(content.length / (1 << 18)));
      }
    } finally {
      await workers?.close();
    }
  });

  it('reads on in its own thread when a worker stops mid-read: every record counted once', async () => {
    const { readCloudTrail } = (await import(new URL('cloudtrail/read.js', DIST).href)) as typeof import('../../../ingest/cloudtrail/read.js');
    const { ParseWorkers } = (await import(new URL('parallel.js', DIST).href)) as typeof import('../../../ingest/parallel.js');
    const workers = ParseWorkers.start(2);
    expect(workers).not.toBeNull();
    try {
      const recs = [...generateCloudTrailRecords({ records: 4000, seed: 19 })];
      const content = Buffer.from(recs.map((r) => JSON.stringify(r)).join('\n'));
      const chunks = async function* (): AsyncGenerator<Buffer> {
        for (let i = 0; i < content.length; i += 1 << 18) yield content.subarray(i, i + (1 << 18));
      };
      const wheres: number[] = [];
      const sink = { row: (_r: unknown, where: number) => void wheres.push(where), reject: () => {}, skip: () => {} };
      const staged = (r: { staged: Array<{ rows: Uint8Array }> }): void => {
        for (const g of r.staged) for (const line of Buffer.from(g.rows).toString().split('\n').slice(0, -1)) wheres.push(Number(line.slice(line.lastIndexOf('\t') + 1)));
      };
      let pauses = 0;
      // A worker killed under the reader (as an out-of-memory worker is) after the first chunk.
      const kill = async (): Promise<void> => {
        if (pauses++ === 1) await (workers as unknown as { workers: Array<{ terminate(): Promise<number> }> }).workers[0]?.terminate();
      };
      await readCloudTrail(chunks(), sink, kill, { workers: workers as NonNullable<typeof workers>, fileIdx: 0, staged });
      expect(workers?.alive).toBe(false);
      expect(workers?.failure?.message).toMatch(/stopped/);
      expect(wheres.sort((a, b) => a - b)).toEqual(recs.map((_, i) => i + 1));
    } finally {
      await workers?.close();
    }
  });

  it('stores what one thread does when batches fail on their worker, and warns once', async () => {
    const { ParseWorkers } = (await import(new URL('parallel.js', DIST).href)) as typeof import('../../../ingest/parallel.js');
    const proto = ParseWorkers.prototype as unknown as { parse: (this: { firstFailure: Error | null }, ...a: unknown[]) => Promise<unknown> };
    const parse = proto.parse;
    let calls = 0;
    // The 3rd and 5th batches fail as a batch that threw on its worker does.
    proto.parse = function (...a) {
      if (++calls === 3 || calls === 5) {
        this.firstFailure ??= new Error('a parse worker failed: RangeError: boom\n    at stageBatch');
        return Promise.reject(this.firstFailure);
      }
      return parse.apply(this, a);
    };
    try {
      const recs = [...generateCloudTrailRecords({ records: 3000, seed: 23, days: 2 })];
      const lines = recs.map((r) => JSON.stringify(r));
      lines.splice(700, 0, 'not json', '', JSON.stringify({ eventName: 'NoTime' }));
      const { s, warnings } = await expectSameOnWorkers(tmp.dir, 'cloudtrail', [write('failing.ndjson', lines.join('\n'))], 'failing');
      expect(calls).toBeGreaterThan(5);
      expect([s.rows, s.rejected, s.skipped]).toEqual([3000, 2, 1]);
      expect(warnings).toEqual(['a parse worker failed; its batches were read in the main thread instead (a parse worker failed: RangeError: boom)']);
    } finally {
      proto.parse = parse;
    }
  });

  it('stores the conformance files and the samples as one thread does', async () => {
    const conf = (p: string): string => new URL(p, CONFORMANCE).pathname;
    const cases = (JSON.parse(readFileSync(conf('panther/cloudtrail-rule-tests.json'), 'utf8')) as { cases: Array<{ record: unknown }> }).cases;
    const pantherLines = cases.map((c) => JSON.stringify(c.record)).join('\n') + '\n';
    const panther = write('panther.ndjson', pantherLines);
    // Larger than 1 MiB: every invictus-ir file as one file of 55 Records documents; Panther's records, the samples' logs and EventBridge lines each repeated past 1 MiB.
    const invictus = readdirSync(conf('invictus-ir')).filter((f) => f.endsWith('.json')).sort().map((f) => readFileSync(join(conf('invictus-ir'), f)));
    const sampleDir = new URL('cloudtrail/AWSLogs/111122223333/CloudTrail/us-east-1/', SAMPLES).pathname;
    const sampleLogs = readdirSync(sampleDir, { recursive: true }).map(String).filter((f) => f.endsWith('.json.gz')).sort().map((f) => gunzipSync(readFileSync(join(sampleDir, f))).toString());
    const bus = readFileSync(new URL('cloudtrail/eventbridge/security-bus-2025-03-12.ndjson', SAMPLES), 'utf8');
    const big = [
      write('invictus-all.json', Buffer.concat(invictus.flatMap((b) => [b, Buffer.from('\n')]))),
      write('panther-many.ndjson', pastOneMiB(pantherLines)),
      write('samples-many.json.gz', gzipSync(pastOneMiB(sampleLogs.join('\n') + '\n'))),
      write('bus-many.ndjson', pastOneMiB(bus)),
    ];
    for (const f of big) expect(contentBytes(f)).toBeGreaterThanOrEqual(1 << 20);
    const { s } = await expectSameOnWorkers(tmp.dir, 'cloudtrail', [conf('aws-docs/cloudtrail-s3-example.json'), conf('aws-docs/eventbridge-s3-putobject.json'), panther, ...big], 'conformance');
    expect(s.rows).toBeGreaterThan(2900);
  });

  it('stores generated files of many batches and chunks, several Records documents in a file, and pretty-printed records as one thread does', async () => {
    const recs = [...generateCloudTrailRecords({ records: 2500, seed: 11, days: 3 })];
    const doc = (a: number, b: number): string => JSON.stringify({ Records: recs.slice(a, b) });
    const files = [
      write('big.json.gz', gzipSync(doc(0, 2500))),
      write('two-docs.json', `${doc(0, 700)}\n${doc(700, 1500)}\n`),
      write('pretty.json', JSON.stringify({ Records: recs.slice(0, 600) }, null, 2)),
      write('array.json', JSON.stringify(recs.slice(0, 800))),
      write('lines.ndjson', recs.slice(0, 800).map((r) => JSON.stringify(r)).join('\n')),
    ];
    for (const f of files) expect(contentBytes(f)).toBeGreaterThanOrEqual(1 << 20);
    const { s } = await expectSameOnWorkers(tmp.dir, 'cloudtrail', files, 'generated');
    expect(s.rows).toBe(2500 + 1500 + 600 + 800 + 800);
  });

  it('rejects and skips hostile records as one thread does, in the same order', async () => {
    const recs = [...generateCloudTrailRecords({ records: 3000, seed: 13 })];
    const one = recs[0] as Record<string, unknown>;
    const nest = (n: number): string => '['.repeat(n) + ']'.repeat(n);
    const lines = recs.slice(0, 1200).map((r) => JSON.stringify(r));
    lines.splice(5, 0, '', '{"eventTime": "2025-03-10T00:00:02Z", "eventName": ', 'not json at all', '   ');
    lines.splice(400, 0, JSON.stringify({ ...one, eventVersion: '2.0' }), JSON.stringify({ eventName: 'NoTime' }));
    lines.splice(900, 0, JSON.stringify(one).replace(/\}$/, `,"deep":${nest(150)}}`), JSON.stringify({ ...one, userAgent: 'x'.repeat(9 << 20) }));
    const badUtf8 = Buffer.concat([Buffer.from(JSON.stringify({ Records: recs.slice(0, 1000) }).slice(0, -2)), Buffer.from(',{"eventTime":"2025-03-10T00:00:00Z","eventName":"Get\xff\xfe","userAgent":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}]}')]);
    const surrogates = JSON.stringify({ Records: [...recs.slice(0, 1000), { ...one, userAgent: 'a\\ud800b' }, { ...one, requestParameters: { bucketName: 'b', key: 'k\\udfff' } }] }).replaceAll('\\\\u', '\\u');
    const gz = gzipSync(JSON.stringify({ Records: recs }));
    const { s } = await expectSameOnWorkers(tmp.dir, 'cloudtrail', [
      write('hostile.ndjson', lines.join('\n') + '\n'),
      write('bad-utf8.json', badUtf8),
      write('surrogates.json', surrogates),
      write('cut.json.gz', gz.subarray(0, Math.floor(gz.length * 0.5))),
      write('truncated.json', JSON.stringify({ Records: recs.slice(0, 1000) }).slice(0, -100)),
      write('small.json', JSON.stringify({ Records: recs.slice(0, 100) }).slice(0, -100)),
      write('digest.json', JSON.stringify({ digestStartTime: 'x', logFiles: [] })),
    ], 'hostile');
    expect(s.rejected).toBeGreaterThan(5);
    expect(s.skipped).toBeGreaterThan(1);
  });
});
