/**
 * Plain lines are staged from their own bytes (runs of fields copied at once,
 * `-` read back as NULL); other lines field by field, as every line was
 * before. Both must give the same table: every line is staged both ways and
 * the two Parquet files compared row by row, every column.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseAccessLogLine } from '../../../ingest/access-log/parse.js';
import { AccessLogScan } from '../../../ingest/access-log/scan.js';
import { ingest } from '../../../ingest/ingest.js';
import { Reject, type RejectRecord } from '../../../ingest/reject.js';
import { DASH_IS_NULL, PlainLines, stageAccessLogRow } from '../../../ingest/access-log/stage-row.js';
import { ACCESS_LOG } from '../../../ingest/schema.js';
import { stagingCopySql } from '../../../ingest/staging.js';
import { TsvWriter } from '../../../ingest/tsv-writer.js';
import { generateAccessLogLines } from '../../../scripts/gen-access-logs.js';
import { asDuckRow, CONFORMANCE, readRows, SAMPLES, tempDir } from '../../helpers/dataset.js';

let tmp: { dir: string; cleanup: () => void };
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

/** Every access-log line of the repository's fixtures and samples (plain or gzipped). */
function fixtureLines(): string[] {
  const lines: string[] = [];
  const cases = JSON.parse(readFileSync(new URL('logstash/access-log-cases.json', CONFORMANCE), 'utf8')) as { cases: { line: string }[] };
  for (const c of cases.cases) lines.push(c.line);
  lines.push(...readFileSync(new URL('aws-docs/access-log-example.log', CONFORMANCE), 'utf8').split('\n'));
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else {
        const raw = readFileSync(path);
        lines.push(...(name.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8').split('\n'));
      }
    }
  };
  walk(new URL('access-logs', SAMPLES).pathname);
  return lines;
}

const BASE = [
  '79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be', 'amzn-s3-demo-bucket', '[06/Feb/2019:00:00:38 +0000]',
  '192.0.2.3', 'arn:aws:iam::123456789012:user/alice', '3E57427F3EXAMPLE', 'REST.GET.OBJECT', 'photos/cat.jpg',
  '"GET /amzn-s3-demo-bucket/photos/cat.jpg?X-Amz-Expires=300 HTTP/1.1"', '200', '-', '1024', '2048', '70', '10', '"-"',
  '"S3Console/0.4"', '-', 'AbC=', 'SigV4', 'ECDHE-RSA-AES128-GCM-SHA256', 'AuthHeader', 'amzn-s3-demo-bucket.s3.us-west-1.amazonaws.com',
  'TLSv1.2', '-', 'Yes', 'us-east-1',
];
const line = (over: Record<number, string>, count = 27, sep = ' '): string => BASE.map((f, i) => over[i] ?? f).slice(0, count).join(sep);

/** Lines made to break a splitter: quotes, spaces, control bytes, lengths, field counts. */
function hostileLines(): string[] {
  return [
    line({}),
    line({}, 18), line({}, 19), line({}, 24), line({}, 25), line({}, 26),
    line({}) + ' newfield1 - x', line({}) + ' -', line({}) + ' ' + Array.from({ length: 40 }, (_, i) => `f${i}`).join(' '),
    line({}, 27, '  '), ' ' + line({}), line({}) + '   ', line({}) + '\r', line({}) + '\t', line({}) + ' \r',
    line({ 7: 'key\twith\ttabs' }), line({ 7: 'a\rb' }), line({ 7: 'a\x01b' }), line({ 7: 'a\x00b' }), line({ 16: '"agent\twith tab"' }),
    line({ 8: '"GET /a"b" HTTP/1.1"' }), line({ 8: '"GET /a" b HTTP/1.1"' }), line({ 15: '"ref " "x"' }), line({ 16: '"ag"ent" x"' }),
    line({ 16: '"a" "b" SigV4"' }), line({ 8: '""' }), line({ 8: '"-"' }), line({ 8: '-' }), line({ 15: '""' }), line({ 16: '"-"' }),
    line({ 7: 'key with spaces' }), line({ 7: '-' }), line({ 7: '--' }), line({ 7: '"' }), line({ 7: '\\N' }), line({ 7: 'NULL' }),
    line({ 9: '-', 11: '-', 12: '-', 13: '-', 14: '-' }), line({ 9: '007', 11: '0000000000000001' }), line({ 11: '9007199254740991' }),
    line({ 13: '2147483647' }), line({ 25: '-' }), line({ 25: 'Yes' }), line({ 0: '-', 1: '-', 3: '-', 4: '-', 5: '-', 6: '-' }),
    line({ 2: '[29/Feb/2024:23:59:60 -1130]' }), line({ 2: '[01/Jan/1970:00:00:00 +0000]' }),
    line({ 8: '"get /lower HTTP/1.1"' }), line({ 8: '"GET"' }), line({ 8: '"GET  /two-spaces HTTP/1.1"' }),
    line({ 8: '"PUT /k?x-amz-expires=12345678901 HTTP/1.1"' }), line({ 8: '"PUT /k?a=1&X-AMZ-EXPIRES=604800&b HTTP/1.1"' }),
    line({ 7: 'ключ/日本語/😀', 16: '"Mozilla/5.0 (ü)"' }), line({ 7: 'k\uFFFDk' }), line({ 7: 'x'.repeat(100_000) }),
    line({ 16: `"${'a "b" '.repeat(500)}"` }), line({ 7: 'a;b,c|d' }), line({ 17: '3HL4kqtJvjVBH40Nrjfkd' }),
    '          ', '', '\t', 'garbage', line({}, 17), line({ 9: 'abc' }), line({ 25: 'No' }), line({ 2: '[bad time]' }),
  ];
}

/** Stage `lines` both ways into Parquet; the two tables, ordered by line. */
async function stageBothWays(lines: string[]): Promise<{ rows: number; onlyInOne: number; plainRows: number }> {
  const scan = new AccessLogScan();
  const before = new TsvWriter();
  const after = new TsvWriter();
  const plain = new PlainLines();
  const plainCheck = new PlainLines();
  let rows = 0;
  let plainRows = 0;
  // One buffer holding every line, as the reader hands them over.
  const all = Buffer.from(lines.join('\n'), 'utf8');
  let s = 0;
  lines.forEach((_, i) => {
    let e = all.indexOf(10, s);
    if (e < 0) e = all.length;
    if (scan.scan(all, s, e)) {
      before.reserve(2 * (e - s) + 256);
      after.reserve(2 * (e - s) + 256);
      stageAccessLogRow(before, all, scan, 0, i + 1);
      stageAccessLogRow(after, all, scan, 0, i + 1, plain);
      if (plainCheck.plain(all, scan.start[0] as number, scan.end[scan.fields - 1] as number)) plainRows++;
      rows++;
    }
    s = e + 1;
  });
  const tsvBefore = join(tmp.dir, 'before.tsv');
  const tsvAfter = join(tmp.dir, 'after.tsv');
  writeFileSync(tsvBefore, before.buf.subarray(0, before.len));
  writeFileSync(tsvAfter, after.buf.subarray(0, after.len));
  const instance = await DuckDBInstance.create(':memory:', { preserve_insertion_order: 'false' });
  const conn = await instance.connect();
  try {
    await conn.run(`CREATE TEMP TABLE src (idx INTEGER, name VARCHAR); INSERT INTO src VALUES (0, 'file.log')`);
    // Before: today's staging and COPY; after: plain lines copied, `-` read as NULL.
    await conn.run(stagingCopySql(ACCESS_LOG, tsvBefore, join(tmp.dir, 'before.parquet'), 'src'));
    await conn.run(stagingCopySql(ACCESS_LOG, tsvAfter, join(tmp.dir, 'after.parquet'), 'src', DASH_IS_NULL));
    const a = `read_parquet('${join(tmp.dir, 'before.parquet')}')`;
    const b = `read_parquet('${join(tmp.dir, 'after.parquet')}')`;
    const r = (await conn.runAndReadAll(`SELECT (SELECT count(*) FROM ${a}) AS n, (SELECT count(*) FROM ${b}) AS m,
      (SELECT count(*) FROM (SELECT * FROM ${a} EXCEPT ALL SELECT * FROM ${b})) + (SELECT count(*) FROM (SELECT * FROM ${b} EXCEPT ALL SELECT * FROM ${a})) AS diff`)).getRowObjects()[0] as { n: bigint; m: bigint; diff: bigint };
    expect(Number(r.n)).toBe(rows);
    expect(Number(r.m)).toBe(rows);
    const types = (await conn.runAndReadAll(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM ${a}) EXCEPT ALL SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM ${b})`)).getRowObjects();
    expect(types).toEqual([]);
    return { rows, onlyInOne: Number(r.diff), plainRows };
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

describe('staging access-log rows from their own bytes', () => {
  it('gives the same table as staging field by field for every fixture and sample line', async () => {
    const lines = fixtureLines();
    const r = await stageBothWays(lines);
    expect(r.rows).toBeGreaterThan(20);
    expect(r.plainRows).toBeGreaterThan(20);
    expect(r.onlyInOne).toBe(0);
  });

  it('gives the same table for lines made to break a splitter', async () => {
    const r = await stageBothWays(hostileLines());
    expect(r.rows).toBeGreaterThan(50);
    expect(r.plainRows).toBeGreaterThan(40);
    expect(r.rows - r.plainRows).toBeGreaterThan(3);
    expect(r.onlyInOne).toBe(0);
  });

  it('gives the same table for generated logs, every quirk often', async () => {
    const lines = [...generateAccessLogLines({ lines: 20_000, seed: 11, days: 3, quirks: 0.5 })];
    const r = await stageBothWays(lines);
    expect(r.rows).toBe(lines.length);
    expect(r.onlyInOne).toBe(0);
  });

  it('looks afresh at a buffer read again from an earlier offset', () => {
    const p = new PlainLines();
    const b = Buffer.from('ab\tc\nxyz\n');
    expect(p.plain(b, 0, 4)).toBe(false);
    expect(p.plain(b, 5, 8)).toBe(true);
    b.write('x\ty', 5);
    expect(p.plain(b, 5, 8)).toBe(false);
    expect(p.plain(Buffer.from('plain'), 0, 5)).toBe(true);
  });

  it('ingests hostile lines, plain and gzipped, exactly as the parser reads each: rows, rejects and counts', async () => {
    const lines = [...hostileLines(), line({ 7: 'x'.repeat(4_300_000) }), ...generateAccessLogLines({ lines: 300, seed: 3, quirks: 0.5 })];
    // Bytes that are not UTF-8 are read as U+FFFD, in that line only.
    const [head, tail] = line({ 7: 'k@@k' }).split('@@') as [string, string];
    const bad = Buffer.concat([Buffer.from(head), Buffer.from([0xff, 0xfe]), Buffer.from(tail)]);
    const content = Buffer.concat([Buffer.from(lines.join('\n') + '\n'), bad, Buffer.from('\n')]);
    const texts = [...lines, new TextDecoder().decode(bad)];
    for (const [name, bytes] of [['hostile.log', content], ['hostile.log.gz', gzipSync(content)]] as const) {
      const file = join(tmp.dir, name);
      writeFileSync(file, bytes);
      const data = join(tmp.dir, `data-${name}`);
      const s = await ingest([file], { data, format: 'access-log', force: false, strict: false });
      const rows = await readRows(data);
      const rejects = readFileSync(join(data, s.rejectsFile as string), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as RejectRecord);
      let r = 0;
      let j = 0;
      let skipped = 0;
      texts.forEach((text, i) => {
        const parsed = parseAccessLogLine(text);
        if (parsed instanceof Reject) {
          if (parsed.reason === 'blank line') skipped++;
          else {
            expect(rejects[j]?.line).toBe(i + 1);
            expect(rejects[j++]?.reason).toBe(parsed.reason);
          }
          return;
        }
        const { source_file, source_line, date: _d, ...rest } = rows[r++] as Record<string, unknown>;
        expect([source_file, source_line]).toEqual([file, String(i + 1)]);
        expect(rest).toEqual(asDuckRow(ACCESS_LOG, parsed as unknown as Record<string, unknown>));
      });
      expect(rows).toHaveLength(r);
      expect(rejects).toHaveLength(j);
      expect([s.lines, s.rows, s.rejected, s.skipped]).toEqual([texts.length, r, j, skipped]);
      expect(j).toBeGreaterThan(4);
      expect(skipped).toBeGreaterThan(1);
      expect(rows.at(-1)?.key).toBe('k\uFFFD\uFFFDk');
    }
  });
});
