/**
 * Opens a dataset folder in DuckDB: each declared table becomes a view over
 * its Parquet files (the `date` partition comes back as a column), or an
 * empty table of the declared shape when nothing was ingested yet, so
 * queries never fail for want of data.
 */
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { sqlDate, sqlIdentifier, sqlString, sqlTimestamp } from '../common/sql.js';
import { TABLES, duckdbCreateTable } from '../ingest/schema.js';
import { installDialect } from './dialect.js';
import type { IntelSet } from './intel.js';
import { HISTORY, s3RequestsSql } from './views.js';


export interface OpenDataset {
  instance: DuckDBInstance;
  conn: DuckDBConnection;
  /** The dataset folder, resolved. */
  dir: string;
  /** The window every view holds (none: all of it). */
  window?: OpenOptions;
  close(): void;
}

async function hasParquet(dir: string): Promise<boolean> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true });
  } catch {
    return false;
  }
  return entries.some((e) => e.isFile() && e.name.endsWith('.parquet'));
}

export interface OpenOptions {
  /** Only rows with `event_time` at or after this (and their date partitions). */
  since?: Date;
  /** Only rows with `event_time` before this. */
  until?: Date;
  /** The threat-intel lists `s3sift_intel_labels` matches (`--intel`); none: it matches nothing. */
  intel?: IntelSet;
}

/** How many different sets of columns (name and type) the Parquet files of `glob` (an SQL string) have. */
async function schemasIn(conn: DuckDBConnection, glob: string): Promise<number> {
  const r = await conn.runAndReadAll(`SELECT count(DISTINCT columns) FROM (
    SELECT list(concat_ws(' ', name, duckdb_type) ORDER BY name, duckdb_type) AS columns FROM parquet_schema(${glob}) GROUP BY file_name)`);
  return Number(r.getRows()[0]?.[0] ?? 0);
}

/**
 * Open `dir` read-only: views `access_log`, `cloudtrail` over its Parquet
 * files (`date` comes back as a column), `s3_requests` over both, and the
 * shared SQL dialect. With `since`/`until` every view holds that window only
 * (whole date partitions outside it are never read), and `s3_requests_history`
 * what came before `since` (nothing without it).
 */
export async function openDataset(dir: string, opts: OpenOptions = {}): Promise<OpenDataset> {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    await installDialect(conn, opts.intel);
    // Every query binds the tables' views, which reads each file's footer: keep them (an entry is dropped when its file changes).
    await conn.run('SET parquet_metadata_cache = true');
    for (const t of TABLES) {
      const root = join(dir, t.name);
      const all = sqlIdentifier(`_all_${t.name}`);
      if (await hasParquet(root)) {
        const glob = sqlString(join(root, '*', '*.parquet'));
        // union_by_name only when files differ (several versions wrote them): it binds several times slower.
        // Without it, columns are still matched by name, and a file written later without one is an error, never a wrong answer.
        const union = (await schemasIn(conn, glob)) > 1;
        const files = `read_parquet(${glob}, hive_partitioning = true, hive_types = {'date': DATE}, union_by_name = ${union})`;
        // Files written by an earlier version may lack a column declared since: it reads as NULL.
        const have = new Set((await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${files}`)).getRows().map((r) => String(r[0])));
        const cols = t.columns.map((c) => (have.has(c.name) ? sqlIdentifier(c.name) : `CAST(NULL AS ${c.type}) AS ${sqlIdentifier(c.name)}`));
        await conn.run(`CREATE VIEW ${all} AS SELECT ${cols.join(', ')}, "date" FROM ${files}`);
      } else {
        await conn.run(duckdbCreateTable(t, `_all_${t.name}`).replace(/\n\)$/, ',\n  "date" DATE\n)'));
      }
      const where: string[] = [];
      if (opts.since) where.push(`event_time >= ${sqlTimestamp(opts.since)} AND ("date" IS NULL OR "date" >= ${sqlDate(opts.since)})`);
      if (opts.until) where.push(`event_time < ${sqlTimestamp(opts.until)} AND ("date" IS NULL OR "date" <= ${sqlDate(opts.until)})`);
      await conn.run(`CREATE VIEW ${sqlIdentifier(t.name)} AS SELECT * FROM ${all}${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`);
    }
    await conn.run(s3RequestsSql());
    // What came before the window, for detections that judge an event against its principal's own
    // history (docs/detections.md#baselines): nothing without `since`.
    await conn.run(s3RequestsSql(undefined, '_all_'));
    const before = opts.since ? `event_time < ${sqlTimestamp(opts.since)} AND ("date" IS NULL OR "date" <= ${sqlDate(opts.since)})` : 'false';
    await conn.run(`CREATE VIEW ${HISTORY} AS SELECT * FROM _all_s3_requests WHERE ${before}`);
  } catch (err) {
    conn.closeSync();
    instance.closeSync();
    throw err;
  }
  return {
    instance,
    conn,
    dir: resolve(dir),
    window: { since: opts.since, until: opts.until },
    close() {
      conn.closeSync();
      instance.closeSync();
    },
  };
}
