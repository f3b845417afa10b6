/**
 * Opens a dataset folder in DuckDB: each declared table becomes a view over
 * its Parquet files (the `date` partition comes back as a column), or an
 * empty table of the declared shape when nothing was ingested yet, so
 * queries never fail for want of data. A folder that is no dataset, or a
 * table that cannot be read, is an error naming it, never empty tables.
 *
 * The files are those the manifest's head names (version 3): a reader sees
 * the dataset as one commit left it, never a commit half done, and keeps
 * seeing it until it refreshes (files a later commit retires stay an hour:
 * ingest/dataset.ts, settleFiles). A dataset whose head names no files
 * (written before version 3) is read from the files its date folders hold
 * when it is opened or refreshed, listed then.
 */
import { readdir, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { DatasetError, describe } from '../common/errors.js';
import { checkDataset, damagedParquet, filesOnDisk, manifestStamp } from '../ingest/dataset.js';
import { datasetFiles } from '../ingest/manifest.js';
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
   * Read the dataset as its latest commit left it, when one came since it
   * was opened or last refreshed (one stat when none did): a long-running
   * reader (serve) would otherwise answer from that moment for ever.
   */
  refresh(): Promise<void>;
  /** Each table's Parquet files as the views read them (absolute). */
  files: Map<string, string[]>;
  /** The manifest's stamp (ingest/dataset.ts, manifestStamp) the views were made at. */
  stamp: string;
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

/** How many different sets of columns (name and type) the Parquet files of `files` (an SQL list of them) have. */
async function schemasIn(conn: DuckDBConnection, files: string): Promise<number> {
  const r = await conn.runAndReadAll(`SELECT count(DISTINCT columns) FROM (
    SELECT list(concat_ws(' ', name, duckdb_type) ORDER BY name, duckdb_type) AS columns FROM parquet_schema(${files}) GROUP BY file_name)`);
  return Number(r.getRows()[0]?.[0] ?? 0);
}

/** DuckDB errors that may come from a file it could not read (not SQL the user got wrong: parser, binder, catalog, conversion). */
const READ_ERROR = /(^|: )(IO|Invalid|Invalid Input|Internal|Serialization) Error\b/;

/** A file DuckDB was to read is not there. */
const GONE = /No such file|No files found|Cannot open file|could not be opened/i;

/**
 * Reading the dataset failed with `err`: when a Parquet file of its tables
 * cannot be read whole (a damaged data page, which the footer does not
 * show), a DatasetError naming that file; when files it was reading were
 * removed by a commit since it opened the dataset, a DatasetError saying
 * so; otherwise null (the caller keeps its own error). Each file is read on
 * its own, in full: this costs a scan, so it runs only on this error path,
 * and only for errors that may be a read.
 */
export async function datasetReadError(ds: Pick<OpenDataset, 'conn' | 'dir'> & Partial<Pick<OpenDataset, 'files' | 'stamp'>>, err: unknown): Promise<DatasetError | null> {
  if (err instanceof DatasetError) return err;
  if (!READ_ERROR.test(describe(err))) return null;
  if (ds.stamp !== undefined && GONE.test(describe(err)) && (await manifestStamp(ds.dir)) !== ds.stamp) {
    return new DatasetError(`${ds.dir}: the dataset changed while this read it: a commit since it began removed files it was reading (${describe(err)}); run it again`, { cause: err });
  }
  for (const t of TABLES) {
    const files = ds.files?.get(t.name) ?? (await filesOnDisk(ds.dir, [t.name]).catch(() => [])).map((f) => join(ds.dir, f));
    const damaged = await damagedParquet(ds.conn, files, err);
    if (damaged) return damaged;
  }
  return null;
}

/** The first of `files` whose footer cannot be read, if any. */
async function unreadableFooter(conn: DuckDBConnection, files: readonly string[]): Promise<string | null> {
  for (const file of files) {
    try {
      await conn.run(`SELECT count(*) FROM parquet_schema(${sqlString(file)})`);
    } catch {
      return file;
    }
  }
  return null;
}

/**
 * The Parquet files of a table, `listed` by the manifest of `dir`, each
 * checked to be a file: one missing or unreadable is an error (the
 * dataset's files and its manifest disagree), never a table read short.
 */
async function listedFiles(dir: string, listed: readonly string[]): Promise<string[]> {
  const files = listed.map((f) => join(dir, f));
  for (const file of files) {
    const st = await stat(file).catch((err: unknown) => {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ENOENT') throw new DatasetError(`${file}: named by the dataset's manifest, but missing; the dataset cannot be queried until it is back (or its sources are ingested again into a new dataset)`, { cause: err });
      throw unreadable(file, err);
    });
    if (!st.isFile()) throw new DatasetError(`${file}: not a file`);
  }
  return files;
}

/** The view `all` over the Parquet files `files` of the table `t` (folder `root`); reads every file's footer. */
async function createTableView(conn: DuckDBConnection, t: TableSpec, root: string, files: readonly string[], all: string): Promise<void> {
  try {
    await createTableViewOf(conn, t, `[${files.map(sqlString).join(', ')}]`, all);
  } catch (err) {
    // A truncated or damaged footer, a file DuckDB may not open: its error does not always name the file.
    const file = await unreadableFooter(conn, files);
    throw new DatasetError(`${root}: cannot read the table's Parquet files: ${file ? `${file}: ` : ''}${describe(err)}`, { cause: err });
  }
}

/** The view `all` over `files` (an SQL list of them). */
async function createTableViewOf(conn: DuckDBConnection, t: TableSpec, files: string, all: string): Promise<void> {
  // union_by_name only when files differ (several versions wrote them): it binds several times slower.
  // Without it, columns are still matched by name, and a file written later without one is an error, never a wrong answer.
  const union = (await schemasIn(conn, files)) > 1;
  const read = `read_parquet(${files}, hive_partitioning = true, hive_types = {'date': DATE}, union_by_name = ${union})`;
  // Files written by an earlier version may lack a column declared since: it reads as NULL.
  const have = new Set((await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${read}`)).getRows().map((r) => String(r[0])));
  const cols = t.columns.map((c) => (have.has(c.name) ? sqlIdentifier(c.name) : `CAST(NULL AS ${c.type}) AS ${sqlIdentifier(c.name)}`));
  await conn.run(`CREATE VIEW ${all} AS SELECT ${cols.join(', ')}, "date" FROM ${read}`);
}

/**
 * `_all_<table>` for each table, as the manifest of `dir` names its files
 * now: a view over them, or an empty table of the declared shape. Returns
 * each table's files and the stamp they are of.
 */
async function createTables(conn: DuckDBConnection, dir: string, replace: Map<string, 'view' | 'table'> | null): Promise<{ files: Map<string, string[]>; kinds: Map<string, 'view' | 'table'>; stamp: string }> {
  const stamp = await manifestStamp(dir);
  const listed = await datasetFiles(dir);
  const files = new Map<string, string[]>();
  const kinds = new Map<string, 'view' | 'table'>();
  for (const t of TABLES) {
    const root = join(dir, t.name);
    const all = sqlIdentifier(`_all_${t.name}`);
    // A head from before version 3 names no files: those its date folders hold now, listed once. A view over
    // a glob would list them again at every query, and a later commit's retired files beside their
    // replacements would be read twice.
    const own = listed === null
      ? (await hasParquet(root)) ? (await filesOnDisk(dir, [t.name])).map((f) => join(dir, f)) : []
      : await listedFiles(dir, listed.filter((f) => f.split(sep)[0] === t.name));
    const old = replace?.get(t.name);
    if (old) await conn.run(`DROP ${old === 'view' ? 'VIEW' : 'TABLE'} ${all}`);
    if (own.length > 0) {
      await createTableView(conn, t, root, own, all);
      kinds.set(t.name, 'view');
    } else {
      await conn.run(duckdbCreateTable(t, `_all_${t.name}`).replace(/\n\)$/, ',\n  "date" DATE\n)'));
      kinds.set(t.name, 'table');
    }
    files.set(t.name, own);
  }
  return { files, kinds, stamp };
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
  let made;
  try {
    await installDialect(conn, opts.intel);
    // Every query binds the tables' views, which reads each file's footer: keep them (an entry is dropped when its file changes).
    await conn.run('SET parquet_metadata_cache = true');
    made = await createTables(conn, dir, null);
    for (const t of TABLES) {
      const where: string[] = [];
      if (opts.since) where.push(`event_time >= ${sqlTimestamp(opts.since)} AND ("date" IS NULL OR "date" >= ${sqlDate(opts.since)})`);
      if (opts.until) where.push(`event_time < ${sqlTimestamp(opts.until)} AND ("date" IS NULL OR "date" <= ${sqlDate(opts.until)})`);
      await conn.run(`CREATE VIEW ${sqlIdentifier(t.name)} AS SELECT * FROM ${sqlIdentifier(`_all_${t.name}`)}${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`);
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
  let kinds = made.kinds;
  let pending: Promise<void> | null = null;
  const ds: OpenDataset = {
    instance,
    conn,
    dir: resolve(dir),
    window: { since: opts.since, until: opts.until },
    files: made.files,
    stamp: made.stamp,
    async refresh() {
      if (opts.noDataset) return;
      // A refresh under way may be reading an older head than the stamp seen here: wait for it, then look again.
      while ((await manifestStamp(dir)) !== ds.stamp) {
        pending ??= (async () => {
          // On a connection of its own, in one transaction: a query running meanwhile sees the tables before or after, never none.
          const c = await instance.connect();
          try {
            await c.run('BEGIN TRANSACTION');
            try {
              const now = await createTables(c, dir, kinds);
              await c.run('COMMIT');
              kinds = now.kinds;
              ds.files = now.files;
              ds.stamp = now.stamp;
            } catch (err) {
              await c.run('ROLLBACK');
              throw err;
            }
          } finally {
            c.closeSync();
          }
        })().finally(() => (pending = null));
        await pending;
      }
    },
    close() {
      conn.closeSync();
      instance.closeSync();
    },
  };
  return ds;
}
