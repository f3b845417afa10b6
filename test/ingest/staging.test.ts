/** The staging of rows by date (ingest/staging.ts, `Stage`). */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseCloudTrailRecord, type CloudTrailRow } from '../../ingest/cloudtrail/record.js';
import { cloudTrailRowBound, stageCloudTrailRow } from '../../ingest/cloudtrail/stage-row.js';
import { CLOUDTRAIL } from '../../ingest/schema.js';
import { Stage } from '../../ingest/staging.js';
import { tempDir } from '../helpers/dataset.js';

let tmp: { dir: string; cleanup: () => void };
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

const DAY_MS = 86_400_000;

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
});
