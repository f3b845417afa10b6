/**
 * Opens a dataset folder in DuckDB: each declared table becomes a view over
 * its Parquet files (the `date` partition comes back as a column), or an
 * empty table of the declared shape when nothing was ingested yet, so
 * queries never fail for want of data. A folder that is no dataset, or a
 * table that cannot be read, is an error naming it, never empty tables.
 */
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { DatasetError, describe } from '../common/errors.js';
import { checkDataset } from '../ingest/dataset.js';
import { sqlDate, sqlIdentifier, sqlString, sqlTimestamp } from '../common/sql.js';
import { TABLES, duckdbCreateTable, type TableSpec } from '../ingest/schema.js';
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
  /**
   * Read the tables that were empty when the dataset was opened and have
   * Parquet files now (an ingest since): a long-running reader (serve)
   * would otherwise answer from their empty table for ever.
   */
  refreshTables(): Promise<void>;
  close(): void;
}

/** A part of the dataset that cannot be read, named, with why. */
function unreadable(path: string, err: unknown): DatasetError {
  return new DatasetError(`${path}: cannot read (${describe(err)}); the dataset cannot be queried until it can`, { cause: err });
}

/**
 * Whether the table folder `root` holds Parquet files (in its date
 * folders, where the view's glob looks). No folder is a table nothing was
 * ingested into; any other failure to list it, or a date folder, or a
 * Parquet entry that is not a readable file, is an error: a table read as
 * empty because it could not be read would be a wrong answer.
 */
async function hasParquet(root: string): Promise<boolean> {
  let parts;
  try {
    parts = await readdir(root, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw unreadable(root, err);
  }
  let found = false;
  for (const p of parts) {
    const folder = join(root, p.name);
    if (!p.isDirectory() && !p.isSymbolicLink()) {
      if (p.name.startsWith('date=')) throw new DatasetError(`${folder}: not a folder; a table's date partitions are folders of Parquet files`);
      continue;
    }
    let files;
    try {
      files = await readdir(folder, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOTDIR' && !p.name.startsWith('date=')) continue;
      throw unreadable(folder, err);
    }
    for (const f of files) {
      if (!f.name.endsWith('.parquet')) continue;
      found = true;
      if (f.isFile()) continue;
      // A link (or anything else the view's glob picks up) must lead to a file.
      const file = join(folder, f.name);
      const st = await stat(file).catch((err: unknown) => {
        throw unreadable(file, err);
      });
      if (!st.isFile()) throw new DatasetError(`${file}: not a file`);
    }
  }
  return found;
}

export interface OpenOptions {
  /** Only rows with `event_time` at or after this (and their date partitions). */
  since?: Date;
  /** Only rows with `event_time` before this. */
  until?: Date;
  /** The threat-intel lists `s3sift_intel_labels` matches (`--intel`); none: it matches nothing. */
  intel?: IntelSet;
  /** Open a folder that is no dataset (no manifest) as empty tables: for planning queries, never for answers. */
  noDataset?: boolean;
}

/** How many different sets of columns (name and type) the Parquet files of `glob` (an SQL string) have. */
async function schemasIn(conn: DuckDBConnection, glob: string): Promise<number> {
  const r = await conn.runAndReadAll(`SELECT count(DISTINCT columns) FROM (
    SELECT list(concat_ws(' ', name, duckdb_type) ORDER BY name, duckdb_type) AS columns FROM parquet_schema(${glob}) GROUP BY file_name)`);
  return Number(r.getRows()[0]?.[0] ?? 0);
}

/** DuckDB errors that may come from a file it could not read (not SQL the user got wrong: parser, binder, catalog, conversion). */
const READ_ERROR = /(^|: )(IO|Invalid|Invalid Input|Internal|Serialization) Error\b/;

/**
 * Reading the dataset failed with `err`: when a Parquet file of its tables
 * cannot be read whole (a damaged data page, which the footer does not
 * show), a DatasetError naming that file; otherwise null (the caller keeps
 * its own error). Each file is read on its own, in full: this costs a scan,
 * so it runs only on this error path, and only for errors that may be a read.
 */
export async function datasetReadError(ds: Pick<OpenDataset, 'conn' | 'dir'>, err: unknown): Promise<DatasetError | null> {
  if (err instanceof DatasetError) return err;
  if (!READ_ERROR.test(describe(err))) return null;
  for (const t of TABLES) {
    const root = join(ds.dir, t.name);
    let files: string[];
    try {
      files = (await readdir(root, { recursive: true })).map(String).filter((f) => f.endsWith('.parquet')).sort();
    } catch {
      continue;
    }
    for (const f of files) {
      const file = join(root, f);
      try {
        await ds.conn.run(`SELECT bit_xor(hash(t)) FROM read_parquet(${sqlString(file)}) AS t`);
      } catch (e) {
        return new DatasetError(`${file}: cannot read this Parquet file (${describe(e)}); it may be damaged: move it aside and ingest its sources again (--force)`, { cause: err });
      }
    }
  }
  return null;
}

/** The first Parquet file of the table folder `root` whose footer cannot be read, if any. */
async function unreadableFooter(conn: DuckDBConnection, root: string): Promise<string | null> {
  const files = (await readdir(root, { recursive: true }).catch(() => [] as string[])).map(String).filter((f) => f.endsWith('.parquet')).sort();
  for (const f of files) {
    const file = join(root, f);
    try {
      await conn.run(`SELECT count(*) FROM parquet_schema(${sqlString(file)})`);
    } catch {
      return file;
    }
  }
  return null;
}

/** The view `all` over the Parquet files of the table `t` under `root`; reads every file's footer. */
async function createTableView(conn: DuckDBConnection, t: TableSpec, root: string, all: string): Promise<void> {
  try {
    await createTableViewOf(conn, t, root, all);
  } catch (err) {
    // A truncated or damaged footer, a file DuckDB may not open: its error does not always name the file.
    const file = await unreadableFooter(conn, root);
    throw new DatasetError(`${root}: cannot read the table's Parquet files: ${file ? `${file}: ` : ''}${describe(err)}`, { cause: err });
  }
}

async function createTableViewOf(conn: DuckDBConnection, t: TableSpec, root: string, all: string): Promise<void> {
  const glob = sqlString(join(root, '*', '*.parquet'));
  // union_by_name only when files differ (several versions wrote them): it binds several times slower.
  // Without it, columns are still matched by name, and a file written later without one is an error, never a wrong answer.
  const union = (await schemasIn(conn, glob)) > 1;
  const files = `read_parquet(${glob}, hive_partitioning = true, hive_types = {'date': DATE}, union_by_name = ${union})`;
  // Files written by an earlier version may lack a column declared since: it reads as NULL.
  const have = new Set((await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${files}`)).getRows().map((r) => String(r[0])));
  const cols = t.columns.map((c) => (have.has(c.name) ? sqlIdentifier(c.name) : `CAST(NULL AS ${c.type}) AS ${sqlIdentifier(c.name)}`));
  await conn.run(`CREATE VIEW ${all} AS SELECT ${cols.join(', ')}, "date" FROM ${files}`);
}

/**
 * Open `dir` read-only: views `access_log`, `cloudtrail` over its Parquet
 * files (`date` comes back as a column), `s3_requests` over both, and the
 * shared SQL dialect. With `since`/`until` every view holds that window only
 * (whole date partitions outside it are never read), and `s3_requests_history`
 * what came before `since` (nothing without it).
 */
export async function openDataset(dir: string, opts: OpenOptions = {}): Promise<OpenDataset> {
  if (!opts.noDataset) await checkDataset(dir);
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  const empty = new Set<TableSpec>();
  try {
    await installDialect(conn, opts.intel);
    // Every query binds the tables' views, which reads each file's footer: keep them (an entry is dropped when its file changes).
    await conn.run('SET parquet_metadata_cache = true');
    for (const t of TABLES) {
      const root = join(dir, t.name);
      const all = sqlIdentifier(`_all_${t.name}`);
      if (await hasParquet(root)) {
        await createTableView(conn, t, root, all);
      } else {
        empty.add(t);
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
    async refreshTables() {
      for (const t of [...empty]) {
        const root = join(dir, t.name);
        if (!(await hasParquet(root))) continue;
        // In one transaction: a query running meanwhile sees the empty table or the files, never no table.
        await conn.run('BEGIN TRANSACTION');
        try {
          await conn.run(`DROP TABLE ${sqlIdentifier(`_all_${t.name}`)}`);
          await createTableView(conn, t, root, sqlIdentifier(`_all_${t.name}`));
          await conn.run('COMMIT');
        } catch (err) {
          await conn.run('ROLLBACK');
          throw err;
        }
        empty.delete(t);
      }
    },
    close() {
      conn.closeSync();
      instance.closeSync();
    },
  };
}
