/**
 * `s3://bucket/prefix` sources: every object under the prefix (listed page
 * by page), known by its URI and its ETag, so a re-run passes over objects
 * already ingested without downloading them and re-reads one whose ETag
 * changed. Objects to read are streamed straight into the parsers: the small
 * ones fetched a few ahead of the reader, the large ones when their turn
 * comes (gzip told by content).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { GetObjectCommand, ListObjectsCommand, S3Client, type _Object } from '@aws-sdk/client-s3';
import { InputError } from '../common/errors.js';
import { dayText } from '../common/time.js';
import { ReadAhead, type Source } from './sources.js';

export interface S3Options {
  /** Any S3-compatible endpoint (path-style addressing is used then). */
  endpoint?: string;
  region?: string;
  /** Objects fetched at once (default 4). */
  concurrency?: number;
  /** Objects up to this size are fetched ahead into memory (default PREFETCH_MAX); larger ones stream in turn. */
  prefetchMax?: number;
  /** A client to use instead of one made from the options above. */
  client?: S3Client;
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
  if (code === 'PreconditionFailed' || e.$metadata?.httpStatusCode === 412) return new InputError(`${uri}: replaced while being read; run again to read the new version`, { cause: err });
  if (code === 'NoSuchKey') return new InputError(`${uri}: deleted since it was listed`, { cause: err });
  if (code === 'NoSuchBucket') return new InputError(`${uri}: no such bucket`, { cause: err });
  if (code === 'AccessDenied' || e.$metadata?.httpStatusCode === 403) return new InputError(`${uri}: access denied (check the credentials, --profile and the bucket policy)`, { cause: err });
  return new InputError(`${uri}: ${code || 'S3 error'}: ${e.message ?? String(err)}`, { cause: err });
}

/** A log object's key split around its date: `stem` + the day as the layout writes it + the rest. */
export interface KeyDate {
  /** YYYY-MM-DD */
  day: string;
  /** The key up to the date. */
  stem: string;
  /** The separator the layout writes a day with (`2025/03/10` or `2025-03-10`). */
  sep: '/' | '-';
}

/**
 * The date a log object's key carries, in the layouts AWS delivers them:
 * server access logs `prefixYYYY-MM-DD-hh-mm-ss-Unique` (simple) or
 * `prefix<account>/<region>/<bucket>/YYYY/MM/DD/...` (partitioned), and
 * CloudTrail `AWSLogs/[o-id/]<account>/CloudTrail/<region>/YYYY/MM/DD/...`.
 */
export function keyDate(key: string): KeyDate | null {
  const partitioned = /^(|.*?\/)(\d{4})\/(\d\d)\/(\d\d)\//.exec(key);
  if (partitioned) return { day: `${partitioned[2]}-${partitioned[3]}-${partitioned[4]}`, stem: partitioned[1] as string, sep: '/' };
  const simple = /^(.*?)(\d{4}-\d\d-\d\d)-\d\d-\d\d-\d\d-[0-9A-Za-z]+$/.exec(key);
  return simple ? { day: simple[2] as string, stem: simple[1] as string, sep: '-' } : null;
}

/** Days (YYYY-MM-DD, inclusive) whose keys a listing keeps. */
export interface KeyWindow {
  from?: string;
  to?: string;
}

/** The key days to list for events in [since, until): a day's margin each side, for late deliveries. */
export function keyWindow(since?: Date, until?: Date): KeyWindow | undefined {
  if (!since && !until) return undefined;
  const day = (t: number): string => dayText(new Date(t));
  return { ...(since ? { from: day(since.getTime() - 86_400_000) } : {}), ...(until ? { to: day(until.getTime() + 86_400_000) } : {}) };
}

export interface Listing {
  /** Keys the window kept out without listing them (at least one: a count is unknown). */
  pruned: boolean;
}

/**
 * Every object under `prefix`, page by page. ListObjects (v1) pages by key
 * (Marker) rather than by an opaque token: every S3-compatible store does it,
 * s3rver's v2 tokens use a cipher OpenSSL 3 refuses, and a marker lets the
 * listing jump. With a window, dated keys are pruned without being listed:
 * keys sort by date within a layout's stem, so on meeting a key dated before
 * the window the listing restarts at `stem + first day`, and on meeting one
 * after it, past the stem's last possible date (`stem + 9999`). A year of
 * daily keys under one stem costs two jumps instead of a year of pages.
 */
export async function* listObjects(client: S3Client, bucket: string, prefix: string, pageSize?: number, window?: KeyWindow, listing: Listing = { pruned: false }): AsyncGenerator<_Object> {
  let marker: string | undefined;
  for (;;) {
    const page = await client.send(new ListObjectsCommand({ Bucket: bucket, Prefix: prefix, Marker: marker, MaxKeys: pageSize }));
    const contents = page.Contents ?? [];
    let jump: string | undefined;
    for (const o of contents) {
      const d = window && o.Key ? keyDate(o.Key) : null;
      if (d && window?.from && d.day < window.from) jump = d.stem + window.from.replaceAll('-', d.sep);
      else if (d && window?.to && d.day > window.to) jump = d.stem + '9999';
      if (jump !== undefined) {
        listing.pruned = true;
        if (jump > (o.Key as string)) break;
        jump = undefined; // a key past the stem's last date: already as far as a jump goes
        continue;
      }
      yield o;
    }
    if (jump !== undefined) marker = jump;
    else if (page.IsTruncated) marker = page.NextMarker ?? contents.at(-1)?.Key;
    else return;
  }
}

/** Every object under the URI's prefix, as sources (not fetched). Hidden (dot) names are passed over. */
export async function listS3Sources(uri: string, client: S3Client, pageSize?: number, window?: KeyWindow): Promise<{ sources: Source[]; hidden: string[] }> {
  const { bucket, prefix } = parseS3Uri(uri);
  const sources: Source[] = [];
  const hidden: string[] = [];
  const listing: Listing = { pruned: false };
  try {
    for await (const o of listObjects(client, bucket, prefix, pageSize, window, listing)) {
      if (!o.Key || o.Key.endsWith('/')) continue;
      const name = `s3://${bucket}/${o.Key}`;
      if (o.Key.split('/').some((part) => part.startsWith('.'))) {
        hidden.push(name);
        continue;
      }
      const etag = (o.ETag ?? '').replaceAll('"', '');
      sources.push({ name, key: name, path: '', size: o.Size ?? 0, fingerprint: `etag:${etag}:${o.Size ?? 0}`, s3: { bucket, key: o.Key, etag } });
    }
  } catch (err) {
    throw s3Error(uri, err);
  }
  if (sources.length === 0 && hidden.length === 0 && !listing.pruned) throw new InputError(`${uri}: no objects under this prefix`);
  return { sources, hidden };
}

/** Times a GET whose body broke off is resumed from where it stopped. */
const RESUMES = 3;

/**
 * An object's bytes as they arrive. A body that breaks off (a reset
 * connection) is resumed where it stopped, with a ranged GET that must match
 * the listed ETag (an object replaced meanwhile is an error, not a splice).
 * The request itself is retried by the SDK (throttling, 5xx, timeouts).
 */
export async function* objectBytes(client: S3Client, name: string, loc: { bucket: string; key: string; etag?: string }): AsyncGenerator<Buffer> {
  let offset = 0;
  let resumes = 0;
  for (;;) {
    let body: AsyncIterable<Uint8Array>;
    try {
      const r = await client.send(new GetObjectCommand({
        Bucket: loc.bucket, Key: loc.key,
        ...(loc.etag ? { IfMatch: `"${loc.etag}"` } : {}),
        ...(offset > 0 ? { Range: `bytes=${offset}-` } : {}),
      }));
      body = r.Body as AsyncIterable<Uint8Array>;
    } catch (err) {
      throw s3Error(name, err);
    }
    try {
      for await (const chunk of body) {
        offset += chunk.length;
        yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
      }
      return;
    } catch (err) {
      if (++resumes > RESUMES) throw new InputError(`${name}: the download broke off ${RESUMES + 1} times, last at byte ${offset}: ${(err as Error).message}`, { cause: err });
      await sleep(100 * 2 ** resumes);
    }
  }
}

/** Objects up to this size are fetched ahead into memory; larger ones stream when their turn comes. */
export const PREFETCH_MAX = 8 << 20;

/**
 * S3 sources read ahead (sources.ts ReadAhead): objects of at most
 * `prefetchMax` bytes fetched whole, `concurrency` at a time, so the network
 * stays busy while the parser works and memory stays bounded whatever the
 * object count; larger ones stream when their turn comes.
 */
export function s3ReadAhead(sources: readonly Source[], client: S3Client, concurrency = 4, prefetchMax = PREFETCH_MAX): ReadAhead {
  const bytes = (src: Source): AsyncIterable<Buffer> => objectBytes(client, src.name, src.s3 as NonNullable<Source['s3']>);
  const whole = async (src: Source): Promise<Buffer> => {
    const parts: Buffer[] = [];
    for await (const chunk of bytes(src)) parts.push(chunk);
    return Buffer.concat(parts);
  };
  return new ReadAhead(sources, whole, bytes, concurrency, prefetchMax);
}
