/** The staging of rows by date (ingest/staging.ts, `Stage`). */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseCloudTrailRecord, type CloudTrailRow } from '../../ingest/cloudtrail/record.js';
import { cloudTrailRowBound, stageCloudTrailRow } from '../../ingest/cloudtrail/stage-row.js';
import { CLOUDTRAIL } from '../../ingest/schema.js';
import { ingest } from '../../ingest/ingest.js';
import { Stage } from '../../ingest/staging.js';
import { generateAccessLogLines } from '../../scripts/gen-access-logs.js';
import { readRows, tempDir } from '../helpers/dataset.js';

let tmp: { dir: string; cleanup: () => void };
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

const DAY_MS = 86_400_000;

/** A time on day `d` after 2000-01-01, `i` seconds in. */
const at = (d: number, i: number): string => new Date(Date.UTC(2000, 0, 1) + d * DAY_MS + i * 1000).toISOString();

/**
 * A CloudTrail stage writing Parquet to `out` (a date quiet after 20 rows)
 * over a fresh DuckDB; `put` stages a record of that time and part, with a
 * tick every 10 records.
 */
async function staged(body: (s: { stage: Stage; out: string; put: (eventTime: string, part?: 0 | 1) => Promise<void> }) => Promise<void>): Promise<void> {
  const instance = await DuckDBInstance.create(':memory:', { preserve_insertion_order: 'false' });
  const conn = await instance.connect();
  try {
    const out = join(tmp.dir, 'out');
    const stage = await Stage.create(conn, CLOUDTRAIL, join(tmp.dir, 'tsv'), out, 'run', ['a.ndjson'], { idleRows: 20 });
    let n = 0;
    const put = async (eventTime: string, part: 0 | 1 = 1): Promise<void> => {
      const row = parseCloudTrailRecord({ eventTime, eventName: 'GetObject', managementEvent: part === 1 }) as CloudTrailRow;
      stageCloudTrailRow(stage.writerFor(row.event_time?.getTime() ?? NaN, cloudTrailRowBound(row), part), row, 0, ++n);
      if (n % 10 === 0) await stage.tick();
    };
    await body({ stage, out, put });
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

describe('Stage', () => {
  it.runIf(existsSync('/proc/self/fd'))('opens no file for a date until its rows are written out: records of 1,500 dates between two ticks hold few descriptors', async () => {
    // Each date's file was opened with its first row: a chunk of records of that many dates (150 KB of NDJSON)
    // ran out of descriptors under the usual limit of 1,024 and stopped the run ("EMFILE: too many open files").
    const instance = await DuckDBInstance.create(':memory:');
    const conn = await instance.connect();
    try {
      const stage = await Stage.create(conn, CLOUDTRAIL, join(tmp.dir, 'tsv'), join(tmp.dir, 'out'), 'run', ['a.ndjson']);
      const open = (): number => readdirSync('/proc/self/fd').length;
      const before = open();
      for (let i = 0; i < 1500; i++) {
        const row = parseCloudTrailRecord({ eventTime: new Date(Date.UTC(2000, 0, 1) + i * DAY_MS).toISOString(), eventName: 'GetObject' }) as CloudTrailRow;
        stageCloudTrailRow(stage.writerFor(row.event_time?.getTime() ?? NaN, cloudTrailRowBound(row), 1), row, 0, i + 1);
      }
      expect(open() - before).toBeLessThan(20);
      await stage.abort();
    } finally {
      conn.closeSync();
      instance.closeSync();
    }
  });

  it('gives the dates of a chunk small writers: 2,000 dates taken up again between two ticks hold little memory', async () => {
    // Each date file (new, or parked and taken up again) had a 1 MiB writer: shuffled lines of thousands of dates
    // held gigabytes of them until the next tick, and allocating them was most of the run.
    const instance = await DuckDBInstance.create(':memory:', { preserve_insertion_order: 'false' });
    const conn = await instance.connect();
    try {
      const stage = await Stage.create(conn, CLOUDTRAIL, join(tmp.dir, 'tsv'), join(tmp.dir, 'out'), 'run', ['a.ndjson'], { idleRows: 20 });
      let n = 0;
      const put = (day: number): void => {
        const row = parseCloudTrailRecord({ eventTime: new Date(Date.UTC(2000, 0, 1) + day * DAY_MS).toISOString(), eventName: 'GetObject' }) as CloudTrailRow;
        stageCloudTrailRow(stage.writerFor(row.event_time?.getTime() ?? NaN, cloudTrailRowBound(row), 1), row, 0, ++n);
      };
      // Out of order: a date converted for going quiet comes back.
      put(0);
      for (let i = 0; i < 30; i++) put(1);
      await stage.tick();
      put(0);
      const external = (): number => process.memoryUsage().external;
      const before = external();
      for (let d = 0; d < 2000; d++) put(10 + d);
      await stage.tick();
      for (let d = 0; d < 2000; d++) put(10 + d);
      expect(external() - before).toBeLessThan(512 << 20);
      await stage.abort();
    } finally {
      conn.closeSync();
      instance.closeSync();
    }
  });

  it('converts dates during a run in date order that has a few records without a time, and keeps those in one file', async () => {
    // The NULL partition's file went quiet, was converted, and its next record "came back": the run was taken for
    // one out of order, and the dates after it were parked until the end (2 of 40 converted during the run).
    await staged(async ({ stage, out, put }) => {
      let n = 0;
      for (let d = 0; d < 40; d++) for (let i = 0; i < 50; i++) await put(++n % 60 === 0 ? 'soon' : at(d, i));
      // Converted while the run goes on: all but the last date or two.
      expect(readdirSync(out).length).toBeGreaterThanOrEqual(38);
      const files = await stage.finish();
      expect(files.filter((f) => f.startsWith('date=__HIVE_DEFAULT_PARTITION__/'))).toHaveLength(1);
      expect(files).toHaveLength(41);
    });
  });

  it('converts dates during a CloudTrail run in date order whose data events come now and then', async () => {
    // A date's data-event file went quiet among its management events and was converted; the next data event of
    // the same date "came back", and the run was taken for one out of order (4 of 40 dates converted during it).
    await staged(async ({ stage, out, put }) => {
      let n = 0;
      for (let d = 0; d < 40; d++) for (let i = 0; i < 50; i++) await put(at(d, i), ++n % 40 === 0 ? 0 : 1);
      expect(readdirSync(out).length).toBeGreaterThanOrEqual(38);
      await stage.finish();
    });
  });

  it('converts dates during a run in date order with a late record a day, and parks only the dates that came back', async () => {
    // Parking every date once one had come back made such a run (400,000 lines over 20 days) 20% slower: every
    // COPY waited for the end. Now only a date that came back waits.
    await staged(async ({ stage, out, put }) => {
      for (let d = 0; d < 40; d++) {
        for (let i = 0; i < 50; i++) await put(at(d, i));
        // A record of two days before, late.
        if (d >= 2) await put(at(d - 2, 99));
      }
      // Every date but the last few converted during the run (their COPYs queued); the late records' files wait for
      // the end, one a date.
      expect(readdirSync(out).length).toBeGreaterThanOrEqual(36);
      const files = await stage.finish();
      expect(readdirSync(out).length).toBe(40);
      expect(files.length).toBe(40 + 38);
    });
  });
});

describe('date files when the dates come out of order', () => {
  /** Ingest `lines` as one file; the files written per date, and each row's date, request ID and bytes, sorted. */
  async function ingestLines(lines: string[], label: string): Promise<{ perDate: Map<string, number>; rows: string[] }> {
    const file = join(tmp.dir, `${label}.log`);
    writeFileSync(file, lines.join('\n') + '\n');
    const data = join(tmp.dir, `data-${label}`);
    const s = await ingest([file], { data, format: 'access-log', force: false, strict: false, parseWorkers: 0 });
    const perDate = new Map<string, number>();
    for (const f of s.files) perDate.set(f.split('/')[1] as string, (perDate.get(f.split('/')[1] as string) ?? 0) + 1);
    const rows = (await readRows(data, 'access_log', 'request_id')).map((r) => `${String(r.date)}|${String(r.request_id)}|${String(r.bytes_sent)}`).sort();
    return { perDate, rows };
  }

  it('keeps each date in one or two files, with every row, where shuffled lines made a file each time a date came back', async () => {
    // 30,000 lines over 120 days: in order, one file a date; shuffled, each quiet date was converted and the next row
    // of it began another file (a folder of many buckets' logs, or shuffled sources; 40,000 lines over 2,000 days made
    // 26,626 files in 242 s). Once a date comes back, quiet dates are parked on disk and converted at the end.
    const lines = [...generateAccessLogLines({ lines: 30_000, seed: 21, days: 120, quirks: 0 })];
    const ordered = await ingestLines(lines, 'ordered');
    let seed = 5;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const shuffled = [...lines];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j] as string, shuffled[i] as string];
    }
    const out = await ingestLines(shuffled, 'shuffled');
    expect(ordered.perDate.size).toBeGreaterThan(100);
    expect([...ordered.perDate.values()].every((n) => n === 1)).toBe(true);
    expect([...out.perDate.keys()].sort()).toEqual([...ordered.perDate.keys()].sort());
    expect(Math.max(...out.perDate.values())).toBeLessThanOrEqual(2);
    expect(out.rows).toEqual(ordered.rows);
  });
});
