/**
 * `s3sift publish`: the dataset's Parquet files uploaded to S3 in the layout
 * the Athena DDL expects (`<prefix>/<table>/date=.../<file>.parquet`). Files
 * already there with the same size are left alone; large files go up in
 * parts. Files under the tables' folders that the dataset no longer has
 * (rows an ingest replaced) are deleted, so Athena never counts a row twice.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { DeleteObjectsCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { InputError } from '../common/errors.js';
import { listObjects, parseS3Uri, s3Error } from './s3.js';
import { TABLES } from './schema.js';

export interface PublishSummary {
  uploaded: string[];
  unchanged: number;
  deleted: string[];
  bytes: number;
}

async function localFiles(data: string): Promise<Map<string, { path: string; size: number }>> {
  const out = new Map<string, { path: string; size: number }>();
  for (const t of TABLES) {
    let entries;
    try {
      entries = await readdir(join(data, t.name), { recursive: true, withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      if (!e.isFile() || !e.name.endsWith('.parquet')) continue;
      const path = join(e.parentPath, e.name);
      out.set(relative(data, path).split(sep).join('/'), { path, size: (await stat(path)).size });
    }
  }
  return out;
}

async function remoteFiles(client: S3Client, bucket: string, prefix: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const t of TABLES) {
    for await (const o of listObjects(client, bucket, `${prefix}${t.name}/`)) if (o.Key) out.set(o.Key.slice(prefix.length), o.Size ?? 0);
  }
  return out;
}

/** Upload the dataset at `data` to `uri` (s3://bucket/prefix). */
export async function publish(data: string, uri: string, client: S3Client, onFile?: (key: string) => void): Promise<PublishSummary> {
  const { bucket, prefix: rawPrefix } = parseS3Uri(uri);
  const prefix = rawPrefix && !rawPrefix.endsWith('/') ? `${rawPrefix}/` : rawPrefix;
  const local = await localFiles(data);
  if (local.size === 0) throw new InputError(`${data}: no Parquet files to publish (ingest something first)`);
  let remote: Map<string, number>;
  try {
    remote = await remoteFiles(client, bucket, prefix);
  } catch (err) {
    throw s3Error(uri, err);
  }
  const summary: PublishSummary = { uploaded: [], unchanged: 0, deleted: [], bytes: 0 };
  for (const [rel, f] of [...local].sort(([a], [b]) => a.localeCompare(b))) {
    if (remote.get(rel) === f.size) {
      summary.unchanged++;
      continue;
    }
    // Parts of 16 MiB, 4 at once, for files past one part (lib-storage decides).
    await new Upload({ client, params: { Bucket: bucket, Key: `${prefix}${rel}`, Body: createReadStream(f.path), ContentType: 'application/vnd.apache.parquet' }, partSize: 16 << 20, queueSize: 4 }).done();
    summary.uploaded.push(rel);
    summary.bytes += f.size;
    onFile?.(rel);
  }
  const stale = [...remote.keys()].filter((k) => !local.has(k) && k.endsWith('.parquet'));
  for (let i = 0; i < stale.length; i += 1000) {
    const batch = stale.slice(i, i + 1000);
    await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((k) => ({ Key: `${prefix}${k}` })) } }));
    summary.deleted.push(...batch);
  }
  return summary;
}
