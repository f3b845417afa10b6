import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { athenaStatements } from '../../query/athena/run.js';
import { openDataset } from '../../query/dataset.js';
import { paramsFor, runDetection, toFindings } from '../../query/detect.js';
import { datasetFor } from '../../query/detection-tests.js';
import { loadDetections, type Detection, type DetectionTest } from '../../query/detection.js';
import { nativeFunctionIn } from '../../query/dialect.js';
import { groupMinutes, shapeFindings } from '../../query/finding-groups.js';
import type { Finding } from '../../query/finding.js';
import { rowsOf } from '../../query/rows.js';

/**
 * Every detection test, through the Athena path (rows, then the findings
 * with their IDs as a run shapes them): the SQL as the runner sends
 * it to Athena (values written in, a window as WITH queries over the tables
 * by their full names, array columns cast to JSON) must find what the
 * detection finds on DuckDB. The rendered SQL runs on DuckDB, with Trino's
 * type names written DuckDB's way (ARRAY(VARCHAR) is VARCHAR[]) and the
 * tables under a schema named as the Athena database: this checks the
 * rendering (placement of values, windows, shadowing, JSON casts), while
 * test/query/dialect.test.ts checks the functions against Trino's results.
 */
const library = (await loadDetections()).filter((d) => !nativeFunctionIn(d.sql));
const WINDOW = { since: new Date('2000-01-01T00:00:00Z'), until: new Date('2100-01-01T00:00:00Z') };

/** Trino type syntax in DuckDB's spelling. */
const duckdbTypes = (sql: string): string => sql.replace(/\bARRAY\((JSON|VARCHAR|DOUBLE|BIGINT|INTEGER)\)/g, '$1[]');

/** A test's parameter values as --param text (how the runner receives them). */
function overrides(d: Detection, t: DetectionTest): Record<string, string> {
  return Object.fromEntries(Object.entries(t.params ?? {}).map(([k, v]) => [`${d.id}.${k}`, Array.isArray(v) ? v.join(',') : String(v)]));
}

const key = (f: object): string => JSON.stringify(f);

describe('every detection test gives the same findings through the Athena path', () => {
  for (const d of library) {
    it(d.id, async () => {
      for (const t of d.tests) {
        const dir = mkdtempSync(join(tmpdir(), 's3sift-apath-'));
        try {
          const ds = await openDataset(await datasetFor(t, dir));
          try {
            await ds.conn.run('CREATE SCHEMA athena_db');
            for (const table of ['access_log', 'cloudtrail', 's3_requests']) await ds.conn.run(`CREATE VIEW athena_db.${table} AS SELECT * FROM main.${table}`);
            const params = paramsFor(d, {}, t.params ?? {});
            // The findings of a run too (finding-groups.ts): their IDs, merges and groups come out the same from the same rows.
            const shaped = (fs: Finding[]): string[] => shapeFindings(d, fs, groupMinutes(d, params)).map(key).sort();
            const rows = await runDetection(ds.conn, d, params);
            const direct = [rows.map(key).sort(), shaped(rows)];
            for (const window of [{}, WINDOW]) {
              const sql = (await athenaStatements([d], { database: 'athena_db', ...window }, overrides(d, t))).get(d.id);
              expect(typeof sql, String(sql)).toBe('string');
              const viaRows = toFindings(d, rowsOf(await ds.conn.runAndReadAll(duckdbTypes(sql as string))));
              const viaAthena = [viaRows.map(key).sort(), shaped(viaRows)];
              expect([t.name, Object.keys(window).length ? 'window' : 'no window', viaAthena]).toEqual([t.name, Object.keys(window).length ? 'window' : 'no window', direct]);
            }
          } finally {
            ds.close();
          }
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
    }, 60_000);
  }
});
