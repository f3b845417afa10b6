/**
 * Log content is attacker-controlled: a planted record, a crafted line or a
 * small gzip must not stop ingestion, hide other records, make the columns
 * and the stored JSON disagree, or cost memory and disk out of proportion.
 * Each test reproduces one attack from the security review and shows it
 * harmless. Large inputs are generated here, never committed.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_DEPTH } from '../../ingest/cloudtrail/depth.js';
import { ingest, type IngestOptions, type IngestSummary } from '../../ingest/ingest.js';
import { loadManifest } from '../../ingest/manifest.js';
import { MAX_EXTRA_FIELDS } from '../../ingest/access-log/scan.js';
import { RAW_KEEP, type RejectRecord } from '../../ingest/reject.js';
import { generateAccessLogLines } from '../../scripts/gen-access-logs.js';
import { generateCloudTrailRecords } from '../../scripts/gen-cloudtrail.js';
import { readRows, tempDir } from '../helpers/dataset.js';
import { openDataset } from '../../query/dataset.js';

let tmp: { dir: string; cleanup: () => void };
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

const opts = (over: Partial<IngestOptions> = {}): IngestOptions => ({ data: join(tmp.dir, 'data'), format: 'auto', force: false, strict: false, ...over });
const write = (name: string, content: string | Buffer): string => {
  const path = join(tmp.dir, name);
  writeFileSync(path, content);
  return path;
};
const rejectsOf = (s: IngestSummary, data = opts().data): RejectRecord[] =>
  readFileSync(join(data, s.rejectsFile as string), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as RejectRecord);

/** A real-looking S3 data event, as one compact line of JSON. */
const base = (): Record<string, unknown> => ({ ...(generateCloudTrailRecords({ records: 1, seed: 5 }).next().value as Record<string, unknown>) });
/** A record pretty-printed, so read by parsing and serialising it, not by copying its bytes. */
const pretty = (text: string): string => JSON.stringify(JSON.parse(text), null, 2);

describe('a lone surrogate escape ("\\udfff") in a CloudTrail record', () => {
  // Two shapes: a compact line (its JSON columns copied from the bytes) and a pretty-printed record (serialised).
  it('keeps the record with U+FFFD in its columns and its stored JSON alike, and commits the rest', async () => {
    const rec = JSON.stringify(base());
    const planted = rec
      .replace('"bucketName":"', '"bucketName":"\\udfff')
      .replace('"userAgent":"', '"userAgent":"\\ud800')
      .replace(/\}$/, ',"\\udc00note":"x\\udbff","tlsDetails":{"tlsVersion":"TLSv1.2\\udfff"}}');
    const prettyPlanted = JSON.stringify(JSON.parse(planted), null, 2);
    // JSON.stringify writes lone surrogates back as escapes, so the pretty file holds them too.
    expect(prettyPlanted).toContain('\\udfff');
    const lines = write('planted.ndjson', [rec, planted, rec].join('\n'));
    const records = write('planted-records.json', JSON.stringify({ Records: [JSON.parse(rec), JSON.parse(planted)] }));
    const prettyFile = write('planted-pretty.json', [prettyPlanted, JSON.stringify(JSON.parse(rec), null, 2)].join('\n'));
    const s = await ingest([lines, records, prettyFile], opts());
    expect(s).toMatchObject({ rows: 7, rejected: 0, unreadable: [] });
    const rows = (await readRows(opts().data, 'cloudtrail')).filter((r) => (r.user_agent as string).startsWith('\ufffd'));
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      const params = JSON.parse(row.request_parameters as string) as { bucketName: string };
      expect(row.bucket).toMatch(/^\ufffd/);
      expect(params.bucketName).toBe(row.bucket);
      expect(row.tls_version).toBe('TLSv1.2\ufffd');
      expect(JSON.parse(row.other_fields as string)).toMatchObject({ '\ufffdnote': 'x\ufffd', tlsDetails: { tlsVersion: 'TLSv1.2\ufffd' } });
    }
  });

  it('in the rejects file too: a rejected record keeps valid text', async () => {
    const file = write('bad.ndjson', '{"eventName":"x\\udfff","eventTime":"2025-03-10T00:00:00Z","eventVersion":"9.0"}\n');
    const s = await ingest([file], opts());
    expect(s.rejected).toBe(1);
    const text = readFileSync(join(opts().data, s.rejectsFile as string), 'utf8');
    expect(text).not.toMatch(/\\ud[89a-f]/i);
    expect(rejectsOf(s)[0]?.reason).toMatch(/eventVersion 9\.0/);
  });
});

describe('a record nested deeper than any CloudTrail record is', () => {
  const nest = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);
  /** A record whose deepest part is at `levels` (the record itself is level 1). */
  const withDepth = (levels: number): string => JSON.stringify(base()).replace(/\}$/, `,"deep":${nest(levels - 1)}}`);

  it('is rejected with a reason, and every record after it in the file is read', async () => {
    const good = JSON.stringify(base());
    const deep = withDepth(100_000);
    const files = [
      write('deep-pretty.json', [pretty(good), deep.replace('{', '{\n'), pretty(good)].join('\n')),
      write('deep.ndjson', [good, deep, good].join('\n')),
      write('deep-records.json', `{"Records":[${good},${deep},${good}]}`),
      write('deep-array.json', `[${good},[${deep}],${good}]`),
    ];
    const s = await ingest(files, opts());
    expect(s).toMatchObject({ rows: 8, rejected: 4, unreadable: [] });
    for (const r of rejectsOf(s)) {
      expect(r.reason).toBe(`nested deeper than ${MAX_DEPTH} levels`);
      expect(r.raw.length).toBeLessThanOrEqual(RAW_KEEP);
    }
    // The pretty-printed record is numbered by the line it starts on, the others by line or index.
    expect(rejectsOf(s).map((r) => r.line)).toEqual([pretty(good).split('\n').length + 1, 2, 2, 2]);
  });

  it('is read up to the limit and rejected past it, the same whether copied from the bytes or serialised', async () => {
    const at = withDepth(MAX_DEPTH);
    const past = withDepth(MAX_DEPTH + 1);
    const s = await ingest([write('limit.ndjson', [at, past].join('\n')), write('limit-pretty.json', [pretty(at), pretty(past)].join('\n'))], opts());
    expect(s).toMatchObject({ rows: 2, rejected: 2 });
    expect(rejectsOf(s).map((r) => r.reason)).toEqual([`nested deeper than ${MAX_DEPTH} levels`, `nested deeper than ${MAX_DEPTH} levels`]);
  });

  it('is judged as written, before lone surrogates are repaired (two keys of lone halves would merge, dropping the deep part)', async () => {
    // Found by the property test: "\ud800" holds the deep part, "\ud801" comes after; both become U+FFFD, the last wins.
    const merged = JSON.stringify(base()).replace(/\}$/, `,"\\ud800":${nest(MAX_DEPTH)},"\\ud801":""}`);
    const s = await ingest([write('merged.ndjson', merged), write('merged-pretty.json', pretty(merged))], opts());
    expect(s).toMatchObject({ rows: 0, rejected: 2 });
    expect(rejectsOf(s).map((r) => r.reason)).toEqual([`nested deeper than ${MAX_DEPTH} levels`, `nested deeper than ${MAX_DEPTH} levels`]);
  });
});

describe('a repeated key: the last one wins, in the columns and the stored JSON alike (as JSON.parse reads it)', () => {
  const rec = JSON.stringify(base());
  const cases: Record<string, string> = {
    'escaped after plain': rec.replace(/\}$/, ',"request\\u0050arameters":{"bucketName":"evil"}}'),
    'escaped before plain': rec.replace('{', '{"request\\u0050arameters":{"bucketName":"evil"},').replace(/"requestParameters":\{/, '"requestParameters":{"x":1,'),
    'plain twice': rec.replace(/\}$/, ',"requestParameters":{"bucketName":"evil"}}'),
    'nested, escaped after plain': rec.replace('"bucketName":"', '"bucketName":"plain","bucket\\u004eame":"'),
    'nested, escaped before plain': rec.replace('"bucketName":"', '"bucket\\u004eame":"evil","bucketName":"'),
    'nested, plain twice': rec.replace('"bucketName":"', '"bucketName":"evil","bucketName":"'),
    'in other_fields': rec.replace(/\}$/, ',"tls\\u0044etails":{"tlsVersion":"evil"},"apiVersion":"1","apiVersion":"2"}'),
  };

  it('for escaped and unescaped repeats, in both orders, at the top and nested, compact or pretty-printed', async () => {
    const names = Object.keys(cases);
    const texts = Object.values(cases);
    const lines = write('repeats.ndjson', texts.join('\n'));
    const prettyFile = write('repeats-pretty.json', texts.map(pretty).join('\n'));
    const s = await ingest([lines, prettyFile], opts());
    expect(s).toMatchObject({ rows: 2 * texts.length, rejected: 0 });
    const ds = await openDataset(opts().data);
    try {
      // DuckDB's JSON functions read the first of repeated keys: they must find only one.
      const r = await ds.conn.runAndReadAll(
        `SELECT source_file, source_line, bucket, request_parameters, request_parameters->>'bucketName' AS duck_bucket, tls_version, other_fields
         FROM cloudtrail ORDER BY source_file, source_line`,
      );
      const rows = r.getRowObjectsJson() as Array<Record<string, string | null>>;
      const byFile = (file: string): Array<Record<string, string | null>> => rows.filter((x) => x.source_file === file);
      for (const [i, row] of [...byFile(lines).entries(), ...byFile(prettyFile).entries()]) {
        const label = `${names[i]} (${row.source_file === prettyFile ? 'pretty' : 'compact'})`;
        const parsed = JSON.parse(texts[i] as string) as { requestParameters: { bucketName: string }; tlsDetails?: { tlsVersion: string }; apiVersion?: string };
        expect(row.bucket, label).toBe(parsed.requestParameters.bucketName);
        expect(JSON.parse(row.request_parameters as string), label).toEqual(parsed.requestParameters);
        expect(row.duck_bucket, label).toBe(row.bucket);
        if (parsed.tlsDetails) expect(row.tls_version, label).toBe(parsed.tlsDetails.tlsVersion);
        if (parsed.apiVersion) expect(JSON.parse(row.other_fields as string), label).toMatchObject({ apiVersion: '2', tlsDetails: { tlsVersion: 'evil' } });
        expect(row.other_fields ?? '', label).not.toMatch(/\\u00[45]/);
      }
      const strip = (file: string): unknown[] => byFile(file).map(({ source_file: _f, source_line: _l, ...x }) => x);
      expect(strip(prettyFile)).toEqual(strip(lines));
    } finally {
      ds.close();
    }
  });
});

describe('rejects without a cap', () => {
  it('keeps the first 1,000 rejects of a source, counts the rest, and says so in the summary and the rejects file', async () => {
    // The review's 1,974-byte gzip: a million lines that are not records.
    const bomb = write('bomb.log.gz', gzipSync('x\n'.repeat(1_000_000), { level: 9 }));
    const other = write('other.log', 'not a record\n'.repeat(3) + [...generateAccessLogLines({ lines: 2, seed: 1 })].join('\n') + '\n');
    const s = await ingest([bomb, other], opts());
    expect(s).toMatchObject({ lines: 1_000_005, rows: 2, rejected: 1_000_003, rejectsNotKept: 999_000 });
    expect(s.lines).toBe(s.rows + s.rejected + s.skipped);
    const rejects = rejectsOf(s);
    expect(rejects).toHaveLength(1000 + 1 + 3);
    expect(rejects[1000]).toEqual({
      source_file: bomb, line: 1001, raw: '',
      reason: '999,000 more rejects of this source, from this line on, not kept: the first 1000 of each source are (--max-rejects)',
    });
    expect(rejects.slice(1001).map((r) => [r.source_file, r.line])).toEqual([[other, 1], [other, 2], [other, 3]]);
    // 1,000 short rejects, not 143 MB.
    expect(readFileSync(join(opts().data, s.rejectsFile as string)).length).toBeLessThan(200_000);
    const manifest = await loadManifest(opts().data);
    expect(manifest.sources[bomb]?.rejected).toBe(1_000_000);
  });

  it('keeps as many as --max-rejects says, none with 0, and still shows the first rejects', async () => {
    const file = write('few.log', 'bad\n'.repeat(20));
    const five = await ingest([file], opts({ data: join(tmp.dir, 'five'), maxRejects: 5 }));
    expect(rejectsOf(five, join(tmp.dir, 'five')).map((r) => r.line)).toEqual([1, 2, 3, 4, 5, 6]);
    const none = await ingest([file], opts({ data: join(tmp.dir, 'none'), maxRejects: 0 }));
    expect(rejectsOf(none, join(tmp.dir, 'none'))).toEqual([expect.objectContaining({ line: 1, reason: expect.stringMatching(/^20 more rejects/) })]);
    expect(none.firstRejects).toHaveLength(10);
    expect(none.rejectsNotKept).toBe(20);
  });

  it("keeps only the first 4 KiB of a rejected line's raw text", async () => {
    const file = write('long.log', `${'é'.repeat(1 << 20)}\n`);
    const s = await ingest([file], opts());
    expect(rejectsOf(s)[0]?.raw).toBe('é'.repeat(RAW_KEEP));
  });

  it(`keeps ${MAX_EXTRA_FIELDS} extra fields of a line with a million, and counts them all in field_count`, async () => {
    const line = [...generateAccessLogLines({ lines: 1, seed: 3, quirks: 0 })][0] as string;
    // The review's input: lines of a million one-letter fields (this one gzips to a few KB).
    const file = write('fields.log.gz', gzipSync(`${line}${' x'.repeat(1_000_000)}\n`.repeat(5)));
    const s = await ingest([file], opts());
    expect(s).toMatchObject({ rows: 5, rejected: 0 });
    const rows = await readRows(opts().data);
    for (const r of rows) {
      expect(r.extra_fields).toEqual(Array(MAX_EXTRA_FIELDS).fill('x'));
      expect(r.field_count).toBe(27 + 1_000_000);
    }
  });
});
