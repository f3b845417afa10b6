/**
 * Plain lines are staged from their own bytes (runs of fields copied at once,
 * `-` read back as NULL); other lines field by field, as every line was
 * before. Both must give the same table: every line is staged both ways and
 * the two Parquet files compared row by row, every column.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
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
import { fixtureLines, hostileLines, line } from '../../helpers/access-log-lines.js';
import { asDuckRow, readRows, tempDir } from '../../helpers/dataset.js';

let tmp: { dir: string; cleanup: () => void };
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

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
