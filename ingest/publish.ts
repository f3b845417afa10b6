/**
 * `s3sift publish`: the dataset's Parquet files (those its manifest names) uploaded to S3 in the layout
 * the Athena DDL expects (`<prefix>/<table>/date=.../<file>.parquet`). Files
 * already there with the same size are left alone; large files go up in
 * parts. Files this dataset published to the same place earlier and no
 * longer has (rows an ingest replaced) are deleted, so Athena never counts a
 * row twice; what it published where (and its size) is kept in
 * `_published.json`: one overwritten there since (another size) is not ours
 * any more, and left alone. Anything
 * else under the prefix is left alone, and counted. A dataset folder that
 * cannot be read stops the run before anything is uploaded or deleted.
 */
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { DeleteObjectsCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { DatasetError, describe, InputError, writeError } from '../common/errors.js';
import { checkDataset, loadManifest, lock, MANIFEST, writeAtomic } from './dataset.js';
import { datasetFiles } from './manifest.js';
import { listObjects, parseS3Uri, s3Error } from './s3.js';
import { TABLES } from './schema.js';

/** What the dataset published where: `_published.json`. */
export const PUBLISHED = '_published.json';

export interface PublishedRecord {
  version: 1;
  /** By destination (`s3://bucket/prefix/`): each file published there (relative key) and its size. */
  destinations: Record<string, { updated_at: string; files: Record<string, number> }>;
}

export interface PublishSummary {
  uploaded: string[];
  unchanged: number;
  deleted: string[];
  bytes: number;
  /** Files under the prefix's table folders this dataset never published there (as its record goes): left alone. */
  foreign: string[];
  /** No record of an earlier publish to this destination: nothing could be known stale, so nothing was deleted. */
  firstPublish: boolean;
}

/**
 * The Parquet files the dataset's manifest names, by key (relative,
 * `/`-separated). A file in a table folder that the manifest does not name
 * is not the dataset's (yet): a commit interrupted after moving its files in
 * and before writing the head leaves such files beside the ones they
 * replace, and uploading both would count their rows twice.
 */
async function manifestFiles(data: string): Promise<Set<string>> {
  let m;
  try {
    // A version 3 head names them; before it, the sources' entries do (the whole manifest read).
    const listed = await datasetFiles(data);
    if (listed) return new Set(listed.map((f) => f.split(sep).join('/')));
    m = await loadManifest(data);
  } catch (err) {
    if (err instanceof DatasetError) throw err;
    throw unreadable(join(data, MANIFEST), err);
  }
  const out = new Set<string>();
  for (const e of Object.values(m.sources)) for (const f of e.files) out.add(f.split(sep).join('/'));
  return out;
}

/** The dataset's Parquet files by key (relative, `/`-separated). A table nothing was ingested into has no folder; any other failure to read stops publish. */
async function localFiles(data: string): Promise<Map<string, { path: string; size: number }>> {
  const named = await manifestFiles(data);
  const out = new Map<string, { path: string; size: number }>();
  for (const t of TABLES) {
    const root = join(data, t.name);
    let entries;
    try {
      entries = await readdir(root, { recursive: true, withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw unreadable(root, err);
    }
    for (const e of entries) {
      if (!e.name.endsWith('.parquet') || e.isDirectory()) continue;
      const path = join(e.parentPath, e.name);
      let st;
      try {
        st = await stat(path);
      } catch (err) {
        throw unreadable(path, err);
      }
      if (!st.isFile()) throw new DatasetError(`${path}: not a file; nothing was published or deleted`);
      const rel = relative(data, path).split(sep).join('/');
      if (named.has(rel)) out.set(rel, { path, size: st.size });
    }
  }
  for (const rel of named) {
    if (!out.has(rel)) throw new DatasetError(`${join(data, ...rel.split('/'))}: named by the manifest but missing; nothing was published or deleted`);
  }
  return out;
}

function unreadable(path: string, err: unknown): DatasetError {
  return new DatasetError(`${path}: cannot read (${describe(err)}); nothing was published or deleted`, { cause: err });
}

/** Everything under the tables' folders of the prefix, by key relative to it. */
async function remoteFiles(client: S3Client, bucket: string, prefix: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const t of TABLES) {
    for await (const o of listObjects(client, bucket, `${prefix}${t.name}/`)) if (o.Key) out.set(o.Key.slice(prefix.length), o.Size ?? 0);
  }
  return out;
}

export async function loadPublished(data: string): Promise<PublishedRecord> {
  const path = join(data, PUBLISHED);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, destinations: {} };
    throw new DatasetError(`${path}: cannot read (${describe(err)}); nothing was published or deleted`, { cause: err });
  }
  try {
    const r = JSON.parse(text) as PublishedRecord;
    if (r.version !== 1 || typeof r.destinations !== 'object' || r.destinations === null) throw new Error('unknown version');
    return r;
  } catch (err) {
    throw new DatasetError(`${path}: not a valid s3sift publish record (${describe(err)}); move it aside (the next publish then deletes nothing)`, { cause: err });
  }
}

/** Set what `dest` holds from this dataset in the record, under the dataset's lock (another publish may write it too). */
async function savePublished(data: string, dest: string, files: Map<string, number>): Promise<void> {
  const unlock = await lock(data);
  try {
    const record = await loadPublished(data);
    record.destinations[dest] = { updated_at: new Date().toISOString(), files: Object.fromEntries([...files].sort(([a], [b]) => a.localeCompare(b))) };
    try {
      await writeAtomic(join(data, PUBLISHED), JSON.stringify(record, null, 1) + '\n');
    } catch (err) {
      throw writeError(join(data, PUBLISHED), err);
    }
  } finally {
    await unlock();
  }
}

/** Upload the dataset at `data` to `uri` (s3://bucket/prefix). */
export async function publish(data: string, uri: string, client: S3Client, onFile?: (key: string) => void): Promise<PublishSummary> {
  const { bucket, prefix: rawPrefix } = parseS3Uri(uri);
  const prefix = rawPrefix && !rawPrefix.endsWith('/') ? `${rawPrefix}/` : rawPrefix;
  const dest = `s3://${bucket}/${prefix}`;
  await checkDataset(data);
  // The manifest and the files it names are read under the lock: a commit removes merged segments and replaced files.
  const unlock = await lock(data);
  let local: Map<string, { path: string; size: number }>;
  try {
    local = await localFiles(data);
  } finally {
    await unlock();
  }
  if (local.size === 0) throw new InputError(`${data}: no Parquet files to publish (ingest something first)`);
  const earlier = (await loadPublished(data)).destinations[dest];
  let remote: Map<string, number>;
  try {
    remote = await remoteFiles(client, bucket, prefix);
  } catch (err) {
    throw s3Error(uri, err);
  }
  // What this dataset has at the destination: recorded before, or the very file it holds (same key and size).
  const ours = new Map<string, number>(Object.entries(earlier?.files ?? {}));
  const summary: PublishSummary = { uploaded: [], unchanged: 0, deleted: [], bytes: 0, foreign: [], firstPublish: earlier === undefined };
  try {
    for (const [rel, f] of [...local].sort(([a], [b]) => a.localeCompare(b))) {
      if (remote.get(rel) === f.size) {
        summary.unchanged++;
        ours.set(rel, f.size);
        continue;
      }
      const key = `${prefix}${rel}`;
      try {
        // Parts of 16 MiB, 4 at once, for files past one part (lib-storage decides).
        await new Upload({ client, params: { Bucket: bucket, Key: key, Body: createReadStream(f.path), ContentType: 'application/vnd.apache.parquet' }, partSize: 16 << 20, queueSize: 4 }).done();
      } catch (err) {
        throw uploadError(`s3://${bucket}/${key}`, f.path, err);
      }
      ours.set(rel, f.size);
      summary.uploaded.push(rel);
      summary.bytes += f.size;
      onFile?.(rel);
    }
  } finally {
    // Even after a failed upload: what went up is this dataset's, so a later publish may delete it once stale.
    if (ours.size) await savePublished(data, dest, ours);
  }
  // One the record has whose size there is no longer the one published was overwritten since by someone else: theirs now.
  const replaced = [...ours].filter(([k, size]) => !local.has(k) && remote.has(k) && remote.get(k) !== size).map(([k]) => k);
  for (const k of replaced) ours.delete(k);
  for (const k of remote.keys()) if (!local.has(k) && !ours.has(k)) summary.foreign.push(k);
  // Stale: published from here, no longer in the dataset. One the record has that is gone already is just forgotten.
  const stale = [...ours.keys()].filter((k) => !local.has(k));
  for (const k of stale) if (!remote.has(k)) ours.delete(k);
  const toDelete = stale.filter((k) => remote.has(k));
  const failed: string[] = [];
  try {
    for (let i = 0; i < toDelete.length; i += 1000) {
      const batch = toDelete.slice(i, i + 1000);
      let out;
      try {
        out = await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((k) => ({ Key: `${prefix}${k}` })) } }));
      } catch (err) {
        throw s3Error(`${dest}${batch[0]}${batch.length > 1 ? ` (and ${batch.length - 1} more)` : ''}`, err);
      }
      // DeleteObjects answers 200 with the keys it could not delete in Errors.
      const refused = new Map((out.Errors ?? []).map((e) => [e.Key ?? '', `${e.Code ?? 'error'}: ${e.Message ?? ''}`.replace(/: $/, '')]));
      for (const k of batch) {
        const why = refused.get(`${prefix}${k}`);
        if (why !== undefined) failed.push(`s3://${bucket}/${prefix}${k}: ${why}`);
        else {
          summary.deleted.push(k);
          ours.delete(k);
        }
      }
    }
  } finally {
    if (stale.length || replaced.length) await savePublished(data, dest, ours);
  }
  if (failed.length) {
    throw new InputError(`${failed.length} stale file(s) could not be deleted, so Athena counts their rows twice until they are: ${failed[0]}${failed.length > 1 ? ` (and ${failed.length - 1} more)` : ''}; run publish again`);
  }
  return summary;
}

/** An upload that failed, in one line: the object, and S3's code and message (or the local read error). */
function uploadError(uri: string, path: string, err: unknown): InputError {
  const e = err as { name?: string; Code?: string; $metadata?: unknown; code?: string };
  // A failure to read the local file (it changed under us) is not S3's.
  if (e.$metadata === undefined && typeof e.code === 'string' && e.code.startsWith('E')) return new InputError(`${path}: cannot read (${describe(err)}) while uploading it to ${uri}; nothing stale was deleted`, { cause: err });
  const inner = s3Error(uri, err);
  return new InputError(`upload failed: ${inner.message}; nothing stale was deleted`, { cause: err });
}
