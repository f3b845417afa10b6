/**
 * The dataset folder (docs/contract.md) and its one way of changing: a
 * journaled commit. Everything a run writes is staged under `_staging/`;
 * the commit writes `_journal.json` (the point of no return), moves the
 * staged files into place (the run's manifest segment among them), rewrites
 * the manifest's head `_manifest.json`, removes the files the run replaced,
 * and removes the journal. A run killed before the journal leaves nothing visible; one
 * killed after it is finished by the next run (`recover`). Parquet files are
 * never written in place, so a reader never sees half a file.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { link, mkdir, open, readFile, rename, rm, stat, unlink, readdir, writeFile } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DuckDBConnection } from '@duckdb/node-api';
import { DatasetError, describe, writeError, WriteError } from '../common/errors.js';
import { sqlString } from '../common/sql.js';
import { MANIFEST, type Manifest, type ManifestHead, type Retired } from './manifest.js';
import { DIR_MODE, FILE_MODE } from './modes.js';
import { TABLES } from './schema.js';

export { MANIFEST, loadManifest, type Manifest, type ManifestHead, type SourceEntry } from './manifest.js';

export const JOURNAL = '_journal.json';
export const LOCK = '_lock';
export const STAGING = '_staging';
export const REJECTS = 'rejects';

/**
 * A commit: staged files to move in (the run's Parquet and rejects files,
 * its manifest segment), what `_manifest.json` becomes, then files to
 * remove. `manifest` is the version 2 head, or the whole version 1 manifest
 * in a journal left by a version that wrote one document: such a version
 * finishing this journal writes `manifest` as `_manifest.json` too, so it
 * writes the head (and then refuses it by its version) instead of
 * `undefined`. `head` is read from journals of builds that wrote it there.
 */
export interface Journal {
  run: string;
  moves: Array<[from: string, to: string]>;
  deletes: string[];
  manifest?: ManifestHead | Manifest;
  head?: ManifestHead;
}

/** A sortable, unique run id: `20250310T120000Z-1a2b3c`. */
export function newRunId(now = new Date()): string {
  const ts = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${ts}-${randomBytes(3).toString('hex')}`;
}

/**
 * Throw unless `dir` holds an s3sift dataset. Every ingest writes
 * `_manifest.json`, one that read nothing too, and every version always has
 * alongside its Parquet files: a folder without one is a wrong --data, and
 * opening it as empty would answer "0 findings" for data never looked at.
 */
export async function checkDataset(dir: string): Promise<void> {
  const manifest = join(dir, MANIFEST);
  let err: NodeJS.ErrnoException;
  try {
    if ((await stat(manifest)).isFile()) return;
    throw new DatasetError(`${manifest}: not a file; is ${dir} an s3sift dataset? check --data`);
  } catch (e) {
    if (e instanceof DatasetError) throw e;
    err = e as NodeJS.ErrnoException;
  }
  if (err.code !== 'ENOENT' && err.code !== 'ENOTDIR') throw new DatasetError(`${manifest}: cannot read (${describe(err)})`, { cause: err });
  const folder = await stat(dir).then((st) => (st.isDirectory() ? 'folder' : 'not a folder'), () => 'no such folder');
  const why = folder === 'folder' ? `no s3sift dataset here (no ${MANIFEST})` : `${folder}, so no s3sift dataset here`;
  throw new DatasetError(`${dir}: ${why}; ingest logs first with \`s3sift ingest LOGS --data ${dir}\`, or check --data`);
}

/**
 * What changes with every commit: the manifest head's inode, mtime and size
 * ('none' without one). Every commit writes a new head by a rename (another
 * file); its size alone often stays the same (version 2), and a coarse
 * file-system clock gives two commits of one tick the same mtime.
 */
export async function manifestStamp(dir: string): Promise<string> {
  const st = await stat(join(dir, MANIFEST)).catch(() => null);
  return st ? `${st.ino}:${st.mtimeMs}:${st.size}` : 'none';
}

/**
 * Give a folder that holds no dataset yet its (empty) manifest: what makes
 * it a dataset to the commands that read one, so an ingest that found
 * nothing to read leaves "ingested, nothing there", not "no dataset here".
 * Needs the lock.
 */
export async function ensureManifest(dir: string): Promise<void> {
  const path = join(dir, MANIFEST);
  if (await exists(path)) return;
  // No source is known; Parquet files already in the tables' folders (written by another program) are the dataset's.
  const empty: ManifestHead = { version: 3, sources: 0, run: '', segments: [], next: 1, files: await filesOnDisk(dir), retired: [] };
  try {
    await writeAtomic(path, JSON.stringify(empty, null, 1) + '\n');
  } catch (err) {
    await rm(`${path}.tmp-${process.pid}`, { force: true });
    throw writeError(dir, err);
  }
}

/**
 * How long a Parquet file a commit takes out of the dataset stays on disk
 * for readers that opened the dataset before that commit (a `detect`, an
 * export, `serve` between two requests). A later commit removes it.
 */
export const RETIRED_FOR_MS = 60 * 60 * 1000;

/** Whether `rel` is where a table's Parquet file lives: `TABLE/<folder>/<name>.parquet`. */
export const isTableFile = (rel: string): boolean => {
  const parts = rel.split(sep);
  return parts.length === 3 && rel.endsWith('.parquet') && TABLES.some((t) => t.name === parts[0]);
};

/**
 * The Parquet files in the date folders of `tables` (relative, sorted),
 * folder by folder as DuckDB's glob of the date folders reads them (a date
 * folder that is a link is followed): the dataset's files when a version 1 or 2
 * manifest does not name them. The one listing both readers and commits
 * use, so an upgrading commit keeps every file a reader read.
 */
export async function filesOnDisk(dir: string, tables: readonly string[] = TABLES.map((t) => t.name)): Promise<string[]> {
  const list = async (path: string, skip: readonly string[]): Promise<string[]> =>
    readdir(path).catch((err: NodeJS.ErrnoException) => {
      if (skip.includes(err.code ?? '')) return [] as string[];
      throw new DatasetError(`${path}: cannot read (${describe(err)})`, { cause: err });
    });
  const out: string[] = [];
  for (const table of tables) {
    for (const folder of await list(join(dir, table), ['ENOENT'])) {
      // A plain file beside the date folders is not read.
      for (const name of await list(join(dir, table, folder), ['ENOTDIR'])) {
        const rel = join(table, folder, name);
        if (isTableFile(rel)) out.push(rel);
      }
    }
  }
  return out.sort();
}

/**
 * Make `head` (what the commit `j` writes) name the dataset's Parquet files
 * after it (version 3): those of the head `before` (or, when it names none,
 * those on disk), plus the files `j` moves in, less those it deletes. A
 * Parquet file `j` deletes is retired instead, so that readers that opened
 * the dataset before are not cut short; retired files older than
 * RETIRED_FOR_MS join `j`'s deletes. Needs the lock, after `recover`.
 */
export async function settleFiles(dir: string, before: ManifestHead | null, j: Journal, head: ManifestHead, now = new Date()): Promise<ManifestHead> {
  const files = new Set(before?.files ?? (await filesOnDisk(dir)));
  for (const [, to] of j.moves) if (isTableFile(to)) files.add(to);
  const retired: Retired[] = [];
  for (const r of before?.retired ?? []) {
    // A file listed live too stays live: removing it would take its rows from readers.
    if (files.has(r.file) || retired.some((x) => x.file === r.file)) continue;
    const age = now.getTime() - Date.parse(r.since);
    if (age >= RETIRED_FOR_MS) j.deletes.push(r.file);
    // Retired "later than an hour from now": a clock that was ahead; the hour counts from now, or it would never end.
    else if (age < -RETIRED_FOR_MS) retired.push({ file: r.file, since: now.toISOString() });
    else retired.push(r);
  }
  j.deletes = j.deletes.filter((d) => {
    if (!files.delete(d)) return true;
    retired.push({ file: d, since: now.toISOString() });
    return false;
  });
  return { ...head, version: 3, files: [...files].sort(), retired };
}

/**
 * The first of `paths` (Parquet files) that cannot be read whole (a damaged
 * footer, or a damaged data page that the footer does not show), as a
 * DatasetError naming it, with `then` after the advice; null when each
 * reads. Reads each file in full: for error paths only.
 */
export async function damagedParquet(conn: DuckDBConnection, paths: readonly string[], cause: unknown, then = ''): Promise<DatasetError | null> {
  for (const path of paths) {
    try {
      await conn.run(`SELECT bit_xor(hash(t)) FROM read_parquet(${sqlString(path)}, hive_partitioning = false) AS t`);
    } catch (e) {
      return new DatasetError(`${path}: cannot read this Parquet file (${describe(e)}); it may be damaged: move it aside and ingest its sources again (--force)${then}`, { cause });
    }
  }
  return null;
}

/** Write a file so that readers see the old or the new content, never a part. */
export async function writeAtomic(path: string, content: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w', FILE_MODE);
  try {
    await fh.writeFile(content);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await syncDir(dirname(path));
}

async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Not every platform can fsync a folder; the rename is still atomic.
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Carry out a journal; safe to repeat after a crash at any point. */
export async function applyJournal(dir: string, j: Journal): Promise<void> {
  for (const [from, to] of j.moves) {
    const src = join(dir, from);
    const dst = join(dir, to);
    if (await exists(src)) {
      await mkdir(dirname(dst), { recursive: true, mode: DIR_MODE });
      await rename(src, dst);
    }
  }
  // The head names the moved segments and no longer the deleted ones: it is written between the two.
  await writeAtomic(join(dir, MANIFEST), JSON.stringify(j.head ?? j.manifest, null, 1) + '\n');
  for (const d of j.deletes) await rm(join(dir, d), { force: true });
  await unlink(join(dir, JOURNAL));
  await syncDir(dir);
  await rm(join(dir, STAGING, j.run), { recursive: true, force: true });
}

/**
 * Commit: write the journal, then apply it. A failure before the journal is
 * in place commits nothing; one after it is finished by the next run.
 */
export async function commit(dir: string, j: Journal): Promise<void> {
  try {
    await writeAtomic(join(dir, JOURNAL), JSON.stringify(j));
  } catch (err) {
    await rm(`${join(dir, JOURNAL)}.tmp-${process.pid}`, { force: true });
    throw writeError(dir, err);
  }
  try {
    await applyJournal(dir, j);
  } catch (err) {
    throw new WriteError(`${dir}: the commit stopped part-way (${describe(err)}); the next s3sift ingest into this folder finishes it`, { cause: err });
  }
}

/**
 * Bring the dataset to a committed state: finish a commit that a crash
 * interrupted, and drop what uncommitted runs staged. Needs the lock.
 */
export async function recover(dir: string): Promise<{ finished: string | null }> {
  let finished: string | null = null;
  let text: string | null = null;
  try {
    text = await readFile(join(dir, JOURNAL), 'utf8');
  } catch {
    text = null;
  }
  if (text !== null) {
    let j: Journal | null = null;
    try {
      j = JSON.parse(text) as Journal;
    } catch {
      // A journal that did not finish writing was never renamed into place;
      // one that does not parse is not ours to guess at.
      throw new DatasetError(`${join(dir, JOURNAL)}: unreadable journal; move it aside and re-run the ingest`);
    }
    await applyJournal(dir, j);
    finished = j.run;
  }
  await rm(join(dir, STAGING), { recursive: true, force: true });
  // Half-written temporary files of an interrupted atomic write.
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (name.includes('.tmp-')) await rm(join(dir, name), { force: true });
    // Lock attempts of runs killed before they cleaned up: `_lock.<pid>.<random hex>` (`_lock.<pid>` from earlier versions).
    const attempt = new RegExp(`^${LOCK}\\.(\\d+)(?:\\.[0-9a-f]+)?$`).exec(name);
    if (attempt && !isAlive(Number(attempt[1]))) await rm(join(dir, name), { force: true });
  }
  return { finished };
}

/**
 * Take the dataset's write lock, or fail naming the holder. A lock left by a
 * process that is gone (on this host) is taken over.
 */
export async function lock(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, LOCK);
  const me = JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() });
  // The lock appears with its content in one step (a hard link), so no one ever reads an empty lock.
  // The attempt's own file is unique to this attempt: two ingests of one process must not share it.
  const mine = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(mine, me, { mode: FILE_MODE, flag: 'wx' });
  } catch (err) {
    throw new DatasetError(`${dir}: cannot write the dataset folder (${(err as Error).message})`, { cause: err });
  }
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await link(mine, path);
        return async () => {
          await rm(path, { force: true });
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new DatasetError(`${dir}: cannot write the dataset folder (${(err as Error).message})`, { cause: err });
      }
      await breakStaleLock(dir, path);
    }
  } finally {
    await rm(mine, { force: true });
  }
  throw new DatasetError(`${dir}: could not take the write lock ${path}; another s3sift may be starting: try again`);
}

/**
 * Remove the lock if its holder is gone; throw naming it if it is not. Two
 * runs may find the same stale lock at once: only the one that creates
 * `_lock.break` may remove it (and it checks the holder again first), so
 * neither can remove a lock the other has just taken. A lock whose holder
 * is alive is refused at once, without the guard, so runs that meet a busy
 * lock together are each told who holds it.
 */
async function breakStaleLock(dir: string, path: string): Promise<void> {
  const first = await lockHolder(path);
  if (first === null) return;
  refuseLive(dir, path, first);
  const guard = `${path}.break`;
  try {
    await (await open(guard, 'wx', FILE_MODE)).close();
  } catch {
    // Another run is breaking it; one left by a run that died here is old.
    const st = await stat(guard).catch(() => null);
    if (st && Date.now() - st.mtimeMs > 30_000) await rm(guard, { force: true });
    await sleep(50);
    return;
  }
  try {
    const holder = await lockHolder(path);
    if (holder === null) return;
    refuseLive(dir, path, holder);
    await rm(path, { force: true });
  } finally {
    await rm(guard, { force: true });
  }
}

/** Who holds the lock: null when there is no lock; an unreadable one has no holder (it is stale). */
async function lockHolder(path: string): Promise<{ pid?: number; host?: string } | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as { pid?: number; host?: string };
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? null : {};
  }
}

/** Throw naming the holder, unless it is a process of this machine that is gone. */
function refuseLive(dir: string, path: string, holder: { pid?: number; host?: string }): void {
  if (holder.pid !== undefined && holder.host === hostname() && isAlive(holder.pid)) {
    throw new DatasetError(`${dir} is being written by another s3sift (pid ${holder.pid}); wait for it to finish`);
  }
  if (holder.pid !== undefined && holder.host !== hostname()) {
    throw new DatasetError(`${dir} is locked by s3sift pid ${holder.pid} on ${holder.host}; if that run is gone, remove ${path}`);
  }
}

/** True when process `pid` runs on this host (one of another user's counts). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
