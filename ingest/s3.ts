/**
 * `s3://bucket/prefix` sources: every object under the prefix (listed page
 * by page), known by its URI and its ETag, so a re-run passes over objects
 * already ingested without downloading them and re-reads one whose ETag
 * changed. Objects to read are fetched into the run's staging folder, a few
 * at once, and then read like files (gzip told by content).
 */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { GetObjectCommand, ListObjectsCommand, S3Client, type _Object } from '@aws-sdk/client-s3';
import { InputError } from '../common/errors.js';
import type { Source } from './sources.js';

export interface S3Options {
  /** Any S3-compatible endpoint (path-style addressing is used then). */
  endpoint?: string;
  region?: string;
  /** Objects fetched at once. */
  concurrency?: number;
  /** Keys per listing page (S3's default and most is 1,000). */
  pageSize?: number;
  /** Only objects whose key dates fall in this window (with a day's margin); undated keys are always read. */
  since?: Date;
  until?: Date;
}

export function parseS3Uri(uri: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m || !m[1]) throw new InputError(`${uri}: not an s3://bucket/prefix URI`);
  return { bucket: m[1], prefix: m[2] ?? '' };
}

export function s3Client(o: S3Options = {}): S3Client {
  return new S3Client({
    ...(o.region ? { region: o.region } : {}),
    // Other stores than AWS: path-style addressing, and checksums only where S3 requires them
    // (many stores reject the SDK's default trailing checksums on streamed uploads).
    ...(o.endpoint ? { endpoint: o.endpoint, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' as const } : {}),
    maxAttempts: 5,
  });
}

/** What went wrong, said for the user: no bucket, access denied, or the service's own words. */
export function s3Error(uri: string, err: unknown): InputError {
  const e = err as { name?: string; Code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const code = e.name ?? e.Code ?? '';
  if (code === 'NoSuchBucket') return new InputError(`${uri}: no such bucket`, { cause: err });
  if (code === 'AccessDenied' || e.$metadata?.httpStatusCode === 403) return new InputError(`${uri}: access denied (check the credentials, --profile and the bucket policy)`, { cause: err });
  return new InputError(`${uri}: ${code || 'S3 error'}: ${e.message ?? String(err)}`, { cause: err });
}

/**
 * The date a log object's key carries, in the layouts AWS delivers them:
 * server access logs `prefixYYYY-MM-DD-hh-mm-ss-Unique` (simple) or
 * `prefix<account>/<region>/<bucket>/YYYY/MM/DD/...` (partitioned), and
 * CloudTrail `AWSLogs/[o-id/]<account>/CloudTrail/<region>/YYYY/MM/DD/...`.
 */
export function keyDate(key: string): string | null {
  const partitioned = /(?:^|\/)(\d{4})\/(\d\d)\/(\d\d)\//.exec(key);
  if (partitioned) return `${partitioned[1]}-${partitioned[2]}-${partitioned[3]}`;
  const simple = /(\d{4}-\d\d-\d\d)-\d\d-\d\d-\d\d-[0-9A-Za-z]+$/.exec(key);
  return simple ? (simple[1] as string) : null;
}

/**
 * Every object under `prefix`, page by page. ListObjects (v1) pages by key
 * (Marker) rather than by an opaque token: every S3-compatible store does it,
 * and s3rver's v2 tokens use a cipher OpenSSL 3 refuses.
 */
export async function* listObjects(client: S3Client, bucket: string, prefix: string, pageSize?: number): AsyncGenerator<_Object> {
  let marker: string | undefined;
  do {
    const page = await client.send(new ListObjectsCommand({ Bucket: bucket, Prefix: prefix, Marker: marker, MaxKeys: pageSize }));
    yield* page.Contents ?? [];
    marker = page.IsTruncated ? (page.NextMarker ?? page.Contents?.at(-1)?.Key) : undefined;
  } while (marker);
}

/** Every object under the URI's prefix, as sources (not fetched yet). Hidden (dot) names are passed over. */
export async function listS3Sources(uri: string, client: S3Client, pageSize?: number, window: { since?: Date; until?: Date } = {}): Promise<{ sources: Source[]; hidden: string[]; outside: number }> {
  // A key's date is the day its records were delivered; a day's margin keeps late deliveries in.
  const from = window.since ? new Date(window.since.getTime() - 86_400_000).toISOString().slice(0, 10) : null;
  const to = window.until ? new Date(window.until.getTime() + 86_400_000).toISOString().slice(0, 10) : null;
  let outside = 0;
  const { bucket, prefix } = parseS3Uri(uri);
  const sources: Source[] = [];
  const hidden: string[] = [];
  try {
    for await (const o of listObjects(client, bucket, prefix, pageSize)) {
      if (!o.Key || o.Key.endsWith('/')) continue;
      const name = `s3://${bucket}/${o.Key}`;
      if (o.Key.split('/').some((part) => part.startsWith('.'))) {
        hidden.push(name);
        continue;
      }
      const day = keyDate(o.Key);
      if (day && ((from && day < from) || (to && day > to))) {
        outside++;
        continue;
      }
      const etag = (o.ETag ?? '').replaceAll('"', '');
      sources.push({ name, key: name, path: '', size: o.Size ?? 0, fingerprint: `etag:${etag}:${o.Size ?? 0}`, s3: { bucket, key: o.Key } });
    }
  } catch (err) {
    throw s3Error(uri, err);
  }
  if (sources.length === 0 && hidden.length === 0 && outside === 0) throw new InputError(`${uri}: no objects under this prefix`);
  return { sources, hidden, outside };
}

/** Fetch the S3 sources into `dir` (a few at once); each source's `path` then points at its copy. */
export async function fetchS3Sources(sources: readonly Source[], dir: string, client: S3Client, concurrency = 4): Promise<void> {
  await mkdir(dir, { recursive: true });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < sources.length) {
      const i = next++;
      const src = sources[i] as Source;
      const loc = src.s3 as { bucket: string; key: string };
      const path = join(dir, `s3-${i}`);
      try {
        const r = await client.send(new GetObjectCommand({ Bucket: loc.bucket, Key: loc.key }));
        await pipeline(r.Body as Readable, createWriteStream(path));
      } catch (err) {
        throw s3Error(src.name, err);
      }
      src.path = path;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, sources.length) }, worker));
}
