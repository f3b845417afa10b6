/**
 * The byte order mark, found by one helper and dropped by every reader that
 * meets it: at the start (also when the first chunk ends inside it), never
 * elsewhere, never a part of one.
 */
import { describe, expect, it } from 'vitest';
import { bomLength } from '../../ingest/bytes.js';
import { readCloudTrail } from '../../ingest/cloudtrail/read.js';
import { JsonSplitter } from '../../ingest/cloudtrail/split.js';
import { detectFormat } from '../../ingest/detect.js';
import { readLines } from '../../ingest/lines.js';

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const bytes = (...parts: Array<string | Buffer>): Buffer => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
/** `b` cut into pieces at the given offsets. */
const cut = (b: Buffer, ...at: number[]): Buffer[] => [0, ...at, b.length].slice(1).map((end, i) => b.subarray([0, ...at][i], end));
const stream = (chunks: Buffer[]): AsyncIterable<Buffer> => (async function* () { yield* chunks; })();

const LINE = '79a59df9 prod-data [10/Mar/2025:08:00:01 +0000] 192.0.2.3 - R1 REST.GET.OBJECT k "GET /prod-data/k HTTP/1.1" 200 - 1 1 1 1 "-" "ua" -';
const RECORD = { eventVersion: '1.09', eventTime: '2025-03-10T08:00:01Z', eventSource: 's3.amazonaws.com', eventName: 'GetObject', requestParameters: { bucketName: 'b', key: 'k' } };

describe('bomLength', () => {
  it('is 3 for EF BB BF at the offset asked, else 0', () => {
    expect(bomLength(BOM)).toBe(3);
    expect(bomLength(bytes(BOM, '{}'))).toBe(3);
    expect(bomLength(bytes('x', BOM), 1)).toBe(3);
    expect(bomLength(bytes('x', BOM))).toBe(0); // not at the start
    expect(bomLength(bytes('{', BOM, '}'), 0)).toBe(0);
    expect(bomLength(Buffer.from([0xef, 0xbb]))).toBe(0); // part of one
    expect(bomLength(Buffer.from([0xef]))).toBe(0);
    expect(bomLength(Buffer.from([0xef, 0xbb, 0xbe]))).toBe(0);
    expect(bomLength(Buffer.alloc(0))).toBe(0);
    expect(bomLength(BOM, 5)).toBe(0); // past the end
    expect(bomLength(new Uint8Array([0xef, 0xbb, 0xbf]))).toBe(3);
  });
});

describe('the readers drop a byte order mark at the start only', () => {
  const lines = async (chunks: Buffer[]): Promise<string[]> => {
    const out: string[] = [];
    await readLines(stream(chunks), (b, s, e) => out.push(b.toString('utf8', s, e)), () => {});
    return out;
  };

  it('lines: at the start, whole or cut across chunks; kept on later lines', async () => {
    const text = bytes(BOM, 'one\n', BOM, 'two\n');
    expect(await lines([text])).toEqual(['one', '\uFEFFtwo']);
    expect(await lines(cut(text, 1))).toEqual(['one', '\uFEFFtwo']);
    expect(await lines(cut(text, 2, 5))).toEqual(['one', '\uFEFFtwo']);
    expect(await lines([bytes('one\n'), bytes(BOM, 'two\n')])).toEqual(['one', '\uFEFFtwo']);
    // A part of a BOM is no BOM: its bytes stay (as U+FFFD, not being UTF-8).
    expect(await lines([bytes(Buffer.from([0xef, 0xbb]), 'one\n')])).toEqual(['\uFFFDone']);
  });

  it('format detection: looks past a BOM, not past a part of one', () => {
    expect(detectFormat(bytes(BOM, LINE, '\n'))).toBe('access-log');
    expect(detectFormat(bytes(BOM, JSON.stringify(RECORD)))).toBe('cloudtrail');
    expect(detectFormat(bytes(BOM, 'eventTime,eventName,eventSource\n'))).toBe('cloudtrail');
    expect(detectFormat(bytes(Buffer.from([0xef, 0xbb]), JSON.stringify(RECORD)))).toBe('unknown');
  });

  it('JSON splitter: a BOM cut across its first chunks is still dropped', () => {
    const got: unknown[] = [];
    const s = new JsonSplitter({ value: (b, st, e) => got.push(JSON.parse(b.toString('utf8', st, e))), bad: (w, r) => got.push({ bad: w, r }), blank: () => {} });
    for (const c of cut(bytes(BOM, JSON.stringify({ Records: [RECORD] })), 1, 2)) s.push(c);
    s.end();
    expect(got).toEqual([RECORD]);
  });

  it('CloudTrail: a Lake CSV export and an NDJSON file behind a BOM are read', async () => {
    const read = async (chunks: Buffer[]): Promise<{ shape: string; rows: number; rejects: unknown[] }> => {
      let rows = 0;
      const rejects: unknown[] = [];
      const shape = await readCloudTrail(stream(chunks), { row: () => rows++, reject: (w, r) => rejects.push([w, r]), skip: () => {} }, async () => {});
      return { shape, rows, rejects };
    };
    const csv = bytes(BOM, 'eventTime,eventSource,eventName,requestParameters\n', '2025-03-10 08:00:01.000,s3.amazonaws.com,GetObject,"{""bucketName"":""b"",""key"":""k""}"\n');
    expect(await read([csv])).toEqual({ shape: 'lake-csv', rows: 1, rejects: [] });
    const nd = bytes(BOM, JSON.stringify(RECORD), '\n', JSON.stringify(RECORD), '\n');
    expect(await read([nd])).toEqual({ shape: 'json', rows: 2, rejects: [] });
  });
});
