/**
 * `s3sift compact`: a date partition's small Parquet files rewritten into
 * one. Each ingest run writes a file per table and date, so a dataset fed
 * every few minutes gathers hundreds of small files a day, and every query
 * opens them all. Compaction is a commit like an ingest's (dataset.ts): the
 * merged file is staged, the journal moves it in, the sources' manifest
 * entries name it instead of the files it merged, and the head's file list
 * swaps them in one atomic write, so a reader sees the files before or the
 * file after, never both. The merged files are retired, not removed: they
 * stay for readers that opened the dataset before (settleFiles).
 */
import { mkdir, rm, stat } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { DatasetError, describe } from '../common/errors.js';
import { sqlString } from '../common/sql.js';
import { commit, damagedParquet, filesOnDisk, lock, newRunId, recover, RETIRED_FOR_MS, settleFiles, STAGING, type Journal } from './dataset.js';
import { KnownSources, loadHolding, stageManifest, type ManifestHead, type SourceEntry } from './manifest.js';
import { DIR_MODE, ownerOnly } from './modes.js';
import { ROW_GROUP_BYTES, ROW_GROUP_ROWS } from './staging.js';

/** A file below this size is small: compaction merges it. */
export const SMALL_FILE_BYTES = 32 << 20;
/** Most bytes of small files merged into one file. */
export const MERGED_BYTES = 256 << 20;
/** Merge groups of a partition a file may join (the latest); past them it starts a group. */
const OPEN_GROUPS = 64;
/** Small files in one partition from which an ingest suggests compacting. */
export const HINT_FILES = 16;

/**
 * A column whose value a table's files are split by (staging.ts, writerFor):
 * CloudTrail management events are kept apart from data events, so a query
 * for one kind skips the other's files by their statistics. Merging keeps
 * the kinds apart too.
 */
const PART_COLUMN: Readonly<Record<string, string>> = { cloudtrail: 'management_event' };

export interface CompactOptions {
  data: string;
  /** Only this table's partitions. */
  table?: string;
  /** Only this date partition (`YYYY-MM-DD`, or `__HIVE_DEFAULT_PARTITION__`). */
  date?: string;
  /** Say what would be merged; write nothing. */
  dryRun?: boolean;
  /** Each merge as it is staged (not committed yet). */
  onMerge?: (m: Merge) => void;
}

/** Small files merged into one. */
export interface Merge {
  /** `TABLE/date=...`. */
  partition: string;
  /** The files merged (relative). */
  files: string[];
  bytes: number;
  /** The merged file (relative); empty in a dry run. */
  into: string;
  intoBytes: number;
  rows: number;
}

export interface CompactSummary {
  /** The commit's run id; null when nothing was committed. */
  run: string | null;
  merges: Merge[];
  /** Files retired by earlier commits, removed now (their hour is up). */
  removed: number;
  /** When the files this run retired may be removed (by a later commit). */
  retiredUntil: string | null;
  /** An interrupted commit finished first. */
  recovered: string | null;
  /** Small files left alone in partitions with other small files, and why (KeptApart). */
  keptApart: KeptApart;
  seconds: number;
}

interface Sized {
  file: string;
  bytes: number;
}

/** The partition (`TABLE/<folder>`) of a table file. */
const partitionOf = (rel: string): string => dirname(rel);

/** The small files among `files` (relative), by partition, sorted by name (a run's id is when it ran). */
export async function smallFiles(dir: string, files: readonly string[]): Promise<Map<string, Sized[]>> {
  const out = new Map<string, Sized[]>();
  for (const file of [...files].sort()) {
    let bytes: number;
    try {
      bytes = (await stat(join(dir, file))).size;
    } catch (err) {
      throw new DatasetError(`${join(dir, file)}: cannot read (${describe(err)}); the dataset's manifest names it`, { cause: err });
    }
    if (bytes >= SMALL_FILE_BYTES) continue;
    const p = partitionOf(file);
    let list = out.get(p);
    if (!list) out.set(p, (list = []));
    list.push({ file, bytes });
  }
  return out;
}

/** Partitions among `partitions` holding HINT_FILES or more small files, with how many: where an ingest suggests compacting. */
export async function compactable(dir: string, files: readonly string[], partitions: ReadonlySet<string>): Promise<Array<{ partition: string; files: number }>> {
  const small = await smallFiles(dir, files.filter((f) => partitions.has(partitionOf(f))));
  return [...small].filter(([, list]) => list.length >= HINT_FILES).map(([partition, list]) => ({ partition, files: list.length }));
}

/**
 * The files of one partition in merge groups: files of one column set (one
 * version wrote them) and one part (PART_COLUMN), in name order, at most
 * MERGED_BYTES a group; only groups of two or more files. Two files holding
 * rows of different sources of one name (`-` for stdin, a relative path given
 * from two folders) never share a group: rows carry a source's name, not its
 * key, so replacing one of them (replace.ts) would drop the other's rows too.
 * Files no source names are merged only with one another.
 */
async function mergeGroups(
  conn: DuckDBConnection, dir: string, partition: string, small: readonly Sized[], names: ReadonlyMap<string, ReadonlyMap<string, string>>,
): Promise<{ groups: Sized[][]; apart: KeptApart }> {
  const paths = small.map((s) => join(dir, s.file));
  const list = `[${paths.map(sqlString).join(', ')}]`;
  const schemas = new Map<string, string>();
  for (const [file, columns] of (await conn.runAndReadAll(`SELECT file_name, list(concat_ws(' ', name, duckdb_type) ORDER BY name, duckdb_type)::VARCHAR FROM parquet_schema(${list}) GROUP BY file_name`)).getRows()) {
    schemas.set(String(file), String(columns));
  }
  const partColumn = PART_COLUMN[partition.split(sep)[0] as string];
  const parts = new Map<string, string>();
  if (partColumn) {
    const withColumn = paths.filter((p) => (schemas.get(p) ?? '').includes(`${partColumn} BOOLEAN`));
    if (withColumn.length) {
      // As ingest splits them: NULL (older event versions) goes with true.
      const c = `coalesce(${partColumn}, true)`;
      const rows = await conn.runAndReadAll(
        `SELECT filename, bool_and(${c}), bool_or(${c}) FROM read_parquet([${withColumn.map(sqlString).join(', ')}], filename = true, hive_partitioning = false) GROUP BY filename`,
      );
      for (const [file, all, any] of rows.getRows()) parts.set(String(file), all === true ? 'all' : any === true ? 'mixed' : 'none');
    }
  }
  interface Group {
    files: Sized[];
    bytes: number;
    /** The sources' names its files hold rows of, with their keys. */
    names: Map<string, string>;
  }
  const byKind = new Map<string, Group[]>();
  const clashed = new Set<Group>();
  for (const s of small) {
    const path = join(dir, s.file);
    // A file no source entry names (taken in from the folder by a first ingest) is merged only with such files:
    // a replacement drops a merged file whose sources all go (replace.ts), rows of no source with it.
    const kind = `${schemas.get(path) ?? ''}\n${parts.get(path) ?? ''}\n${names.has(s.file) ? 'sources' : 'none'}`;
    let groups = byKind.get(kind);
    if (!groups) byKind.set(kind, (groups = []));
    const own = names.get(s.file) ?? new Map<string, string>();
    const fits = (g: Group): boolean => g.bytes + s.bytes <= MERGED_BYTES && [...own].every(([name, key]) => (g.names.get(name) ?? key) === key);
    // The latest groups only: files that clash with all (stdin sources, every one named `-`) stay linear.
    let g = groups.slice(-OPEN_GROUPS).find(fits);
    if (!g) {
      groups.push((g = { files: [], bytes: 0, names: new Map() }));
      // Kept out of every group with room by the names its rows carry, and those groups by its: if any ends up
      // alone, that is why.
      const roomy = groups.slice(-OPEN_GROUPS - 1, -1).filter((o) => o.bytes + s.bytes <= MERGED_BYTES);
      if (roomy.length) for (const o of [g, ...roomy]) clashed.add(o);
    }
    g.files.push(s);
    g.bytes += s.bytes;
    for (const [name, key] of own) g.names.set(name, key);
  }
  const apart: KeptApart = { names: 0, kinds: 0 };
  for (const groups of byKind.values()) {
    for (const g of groups) {
      if (g.files.length !== 1) continue;
      if (groups.length === 1) apart.kinds++;
      else if (clashed.has(g)) apart.names++;
    }
  }
  return { groups: [...byKind.values()].flat().map((g) => g.files).filter((g) => g.length >= 2), apart };
}

/**
 * Small files of a partition with others that stay as they are: `names`,
 * alone because their rows carry a source name that other files' rows carry
 * for another source; `kinds`, the only small file of their columns (another
 * s3sift version wrote them), CloudTrail part, or of no source.
 */
export interface KeptApart {
  names: number;
  kinds: number;
}

/** Rows in `paths` (Parquet files), from their footers. */
async function rowsIn(conn: DuckDBConnection, paths: readonly string[]): Promise<number> {
  const r = await conn.runAndReadAll(`SELECT count(*) FROM read_parquet([${paths.map(sqlString).join(', ')}], hive_partitioning = false)`);
  return Number(r.getRows()[0]?.[0] ?? 0);
}

/** Compact the dataset at `opts.data`: each date partition's small files merged into one. */
export async function compact(opts: CompactOptions): Promise<CompactSummary> {
  const started = performance.now();
  const dir = opts.data;
  const unlock = await lock(dir);
  try {
    const { finished } = await recover(dir);
    const summary: CompactSummary = { run: null, merges: [], removed: 0, retiredUntil: null, recovered: finished, keptApart: { names: 0, kinds: 0 }, seconds: 0 };
    const known = await KnownSources.open(dir);
    const live = known.head?.files ?? (await filesOnDisk(dir));
    const wanted = live.filter((f) => {
      const [table, folder] = f.split(sep);
      return (!opts.table || table === opts.table) && (!opts.date || folder === `date=${opts.date}`);
    });
    const small = await smallFiles(dir, wanted);
    // The sources with rows in the small files: their names decide what may be merged, their entries change with it.
    const held = await loadHolding(dir, known, new Set([...small.values()].flat().map((s) => s.file)));
    const names = new Map<string, Map<string, string>>();
    for (const e of held) {
      for (const f of e.files) {
        let m = names.get(f);
        if (!m) names.set(f, (m = new Map()));
        m.set(e.name, e.key);
      }
    }
    const run = newRunId();
    const work = join(dir, STAGING, run);
    const prefix = join(STAGING, run);
    const journal: Journal = { run, moves: [], deletes: [] };
    const mergedInto = new Map<string, string>();
    const instance = await DuckDBInstance.create(':memory:', { threads: '2', preserve_insertion_order: 'false', temp_directory: join(work, 'duckdb.tmp') });
    try {
      const conn = await instance.connect();
      try {
        let n = 0;
        for (const [partition, files] of small) {
          if (files.length < 2) continue;
          const { groups, apart } = await mergeGroups(conn, dir, partition, files, names);
          summary.keptApart.names += apart.names;
          summary.keptApart.kinds += apart.kinds;
          for (const group of groups) {
            const paths = group.map((s) => join(dir, s.file));
            const m: Merge = { partition, files: group.map((s) => s.file), bytes: group.reduce((t, s) => t + s.bytes, 0), into: '', intoBytes: 0, rows: 0 };
            if (!opts.dryRun) {
              const rel = join(partition, `${run}-c${n++}.parquet`);
              const out = join(work, rel);
              await mkdir(dirname(out), { recursive: true, mode: DIR_MODE });
              await conn.run(
                `COPY (SELECT * FROM read_parquet([${paths.map(sqlString).join(', ')}], hive_partitioning = false))
                 TO ${sqlString(out)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${ROW_GROUP_ROWS}, ROW_GROUP_SIZE_BYTES ${ROW_GROUP_BYTES})`,
              );
              await ownerOnly(out);
              const [before, after] = [await rowsIn(conn, paths), await rowsIn(conn, [out])];
              // Never commit a merge that lost or gained a row.
              if (before !== after) throw new DatasetError(`${join(dir, partition)}: merging ${group.length} files gave ${after} rows, not ${before}; nothing was changed`);
              m.into = rel;
              m.intoBytes = (await stat(out)).size;
              m.rows = after;
              journal.moves.push([join(prefix, rel), rel]);
              for (const s of group) {
                mergedInto.set(s.file, rel);
                journal.deletes.push(s.file);
              }
            } else {
              m.rows = await rowsIn(conn, paths);
            }
            summary.merges.push(m);
            opts.onMerge?.(m);
          }
        }
      } catch (err) {
        // A damaged file is named (exit 2), not an internal error.
        if (err instanceof DatasetError) throw err;
        throw (await damagedParquet(conn, [...small.values()].flat().map((s) => join(dir, s.file)), err, '; nothing was changed')) ?? err;
      } finally {
        conn.closeSync();
      }
    } catch (err) {
      await rm(work, { recursive: true, force: true }).catch(() => {});
      throw err;
    } finally {
      instance.closeSync();
    }
    // Nothing to commit: what was staged goes.
    const uncommitted = async (): Promise<CompactSummary> => {
      await rm(work, { recursive: true, force: true });
      summary.seconds = (performance.now() - started) / 1000;
      return summary;
    };
    if (opts.dryRun) return uncommitted();
    try {
      // The sources whose rows moved name the merged file instead.
      const changed: SourceEntry[] = held.filter((e) => e.files.some((f) => mergedInto.has(f))).map((e) => ({
        ...e,
        files: [...new Set(e.files.map((f) => mergedInto.get(f) ?? f))],
      }));
      // A version 1 manifest names no retired files: with nothing merged there is nothing to commit.
      if (journal.moves.length === 0 && !known.head) return await uncommitted();
      await mkdir(work, { recursive: true, mode: DIR_MODE });
      const head: ManifestHead = changed.length || !known.head
        ? await stageManifest(dir, work, prefix, run, known, changed, journal.moves, journal.deletes)
        : { ...known.head, run };
      // settleFiles decides which retired files are due: those join the deletes.
      journal.manifest = await settleFiles(dir, known.head, journal, head);
      if (journal.moves.length === 0 && journal.deletes.length === 0) return await uncommitted();
      const retired = new Set(known.head?.retired?.map((r) => r.file));
      summary.removed = journal.deletes.filter((d) => retired.has(d)).length;
      // From the journal on, what was staged belongs to the commit: the next run finishes it.
      summary.run = run;
      await commit(dir, journal);
      if (mergedInto.size) summary.retiredUntil = new Date(Date.now() + RETIRED_FOR_MS).toISOString();
    } catch (err) {
      if (!summary.run) await rm(work, { recursive: true, force: true }).catch(() => {});
      throw err;
    }
    summary.seconds = (performance.now() - started) / 1000;
    return summary;
  } finally {
    await unlock();
  }
}
