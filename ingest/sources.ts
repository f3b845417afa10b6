/**
 * What an ingest reads: files, folders (recursively, in a stable order),
 * `-` for stdin. Each source gets a key (where it came from) and a
 * fingerprint (what it holds), so a re-run can tell "already ingested" from
 * "changed since" without reading whole files.
 */
import { createHash } from 'node:crypto';
import fs, { createReadStream, createWriteStream, statSync } from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable, Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { S3Client } from '@aws-sdk/client-s3';
import { describe, InputError } from '../common/errors.js';
import type { S3Options } from './s3.js';
import { FILE_MODE } from './modes.js';

export interface Source {
  /** Name stored in `source_file` and shown in messages: the path as given, `-` for stdin. */
  name: string;
  /** Identity across runs: the absolute path, or `stdin:<sha256>`. */
  key: string;
  /** Where to read the bytes (stdin is first spooled to a file). */
  path: string;
  size: number;
  /**
   * size + hash of the first and last 64 KiB (S3: ETag and size): equal
   * fingerprints, same content. Empty until known: for a small local file it
   * is taken from the bytes read for parsing (fingerprintBytes), and a file
   * whose stat proves it unchanged (`unchanged`) is not read at all.
   */
  fingerprint: string;
  /** A local file's stat as statKey gives it, when it may be recorded as proof of its content (see statKey). */
  stat?: string;
  /** Its stat equals the one recorded when it was ingested: the same content, not read again. */
  unchanged?: boolean;
  /** An S3 object (`path` is empty): read through `open`. */
  s3?: { bucket: string; key: string; etag: string };
  /** The raw bytes, when they do not come from `path` (S3 objects). */
  open?: () => AsyncIterable<Buffer>;
}

export interface ResolveOptions {
  /** True when a local file of this key was ingested with this stat (statKey): it is neither fingerprinted nor read. */
  unchanged?: (key: string, stat: string) => boolean;
}

export interface ResolveResult {
  sources: Source[];
  /** Hidden files in folders, passed over on purpose. */
  hidden: string[];
  /** Entries of folders passed over for another reason (a link to nothing, a file named s3sift.yaml), with why. */
  passedOver: string[];
}

const EDGE = 64 * 1024;

/** Expand the command line's SOURCE arguments. `spoolDir` receives stdin. */
export async function resolveSources(
  args: readonly string[], spoolDir: string, stdin: Readable = process.stdin, s3?: () => Promise<S3Client>, s3Opts: S3Options = {}, opts: ResolveOptions = {},
): Promise<ResolveResult> {
  const started = BigInt(Date.now()) * 1_000_000n;
  const sources: Source[] = [];
  const hidden: string[] = [];
  const passedOver: string[] = [];
  const seen = new Set<string>();
  // The slot is taken in order, the fingerprint filled in when its reads finish: sources keep the command line's order.
  const add = async (name: string, path: string): Promise<void> => {
    const abs = resolve(path);
    if (seen.has(abs)) return;
    seen.add(abs);
    const at = sources.length;
    sources.push(undefined as unknown as Source);
    try {
      // Synchronous: a stat through the promise API cost 20 µs of the main thread, a synchronous one a few (100,000 files: 2 s against 0.4).
      const st = statSync(abs, { bigint: true });
      const size = Number(st.size);
      const key = statKey(st);
      const src: Source = { name, key: abs, path: abs, size, fingerprint: '' };
      if (opts.unchanged?.(abs, key)) src.unchanged = true;
      else if (size > SMALL_FILE) src.fingerprint = await fingerprint(abs, size);
      if (st.ctimeNs < started - STAT_MARGIN_NS) src.stat = key;
      sources[at] = src;
    } catch (err) {
      throw new InputError(`${name}: cannot read (${(err as NodeJS.ErrnoException).code ?? describe(err)})`, { cause: err });
    }
  };
  for (const arg of args) {
    if (arg === '-') {
      sources.push(await spoolStdin(stdin, spoolDir));
      continue;
    }
    if (arg.startsWith('s3://')) {
      const { keyWindow, listS3Sources, s3Client } = await import('./s3.js');
      const listed = await listS3Sources(arg, s3 ? await s3() : s3Client(), s3Opts.pageSize, keyWindow(s3Opts.since, s3Opts.until));
      for (const src of listed.sources) {
        if (seen.has(src.key)) continue;
        seen.add(src.key);
        sources.push(src);
      }
      hidden.push(...listed.hidden);
      continue;
    }
    let st;
    try {
      st = await stat(arg);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new InputError(code === 'ENOENT' ? `${arg}: no such file or folder` : `${arg}: cannot read (${code ?? String(err)})`, { cause: err });
    }
    if (st.isDirectory()) await inTurn(await walk(arg, hidden, passedOver), (file) => add(file, file));
    else await add(arg, arg);
  }
  return { sources, hidden, passedOver };
}

/** Files fingerprinted at once: each is a stat, an open, a read and a close, mostly waiting on the disk. */
const AT_ONCE = 16;

/**
 * `fn` for each item, up to AT_ONCE at a time, each started in the items'
 * order (its first synchronous step too); the first error is thrown once
 * those started have settled.
 */
async function inTurn<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async (): Promise<void> => {
    while (next < items.length && failed === undefined) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(AT_ONCE, items.length) }, worker));
  if (failed !== undefined) throw failed;
}

/** The config file's name (query/config.ts CONFIG_FILE; ingest does not load the query layer). */
const CONFIG_FILE_NAME = 's3sift.yaml';

/** Files below `dir`, sorted, skipping dot-files and dot-folders, and files named s3sift.yaml (the config: listed in `passedOver`). */
async function walk(dir: string, hidden: string[], passedOver: string[]): Promise<string[]> {
  const out: string[] = [];
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw new InputError(`${dir}: cannot list folder (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.name.startsWith('.')) hidden.push(p);
    else if (e.isDirectory()) out.push(...(await walk(p, hidden, passedOver)));
    // s3sift's own config file (docs/config.md) may sit among the logs it describes: not read as a log, and said
    // (a log of that name would otherwise vanish without a word). A folder of that name is read.
    else if (e.name === CONFIG_FILE_NAME) passedOver.push(`${p}: named ${CONFIG_FILE_NAME}, s3sift's config file: passed over, not read as a log`);
    else if (e.isFile()) out.push(p);
    else if (e.isSymbolicLink()) {
      // A link to a file is read; a link to a folder is not followed (no cycles); a link to nothing is said.
      const target = await stat(p).catch(() => null);
      if (target?.isFile()) out.push(p);
      else passedOver.push(`${p}: ${target ? 'a link to a folder (not followed)' : 'a link to nothing'}, passed over`);
    }
  }
  return out;
}

/**
 * A file's device, inode, size, mtime and ctime, to the nanosecond. Any
 * write to a file, or a rename onto its path, changes its ctime (which no
 * program can set back) or its inode, so a file whose statKey equals the one
 * recorded when it was read still holds what was read: provided the
 * recorded ctime was already STAT_MARGIN_NS old when the run that recorded
 * it started, so that no write in the same tick of a coarse clock can have
 * followed the read. The file's timestamps are taken to come from a clock
 * within a second of this machine's.
 */
function statKey(st: BigIntStats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/** How old a file's ctime must be, when a run starts, for the run to record its stat (statKey). */
const STAT_MARGIN_NS = 2_000_000_000n;

/** The fingerprint of content read whole: the same as `fingerprint` gives for the file holding it. */
export function fingerprintBytes(buf: Buffer): string {
  const size = buf.length;
  return edgeHash(size, buf.subarray(0, Math.min(EDGE, size)), size > EDGE ? buf.subarray(size - Math.min(EDGE, size - EDGE)) : null);
}

/** A file's fingerprint from its first and last EDGE bytes, read from the file. */
async function fingerprint(path: string, size: number): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(Math.min(EDGE, size));
    await fh.read(head, 0, head.length, 0);
    let tail: Buffer | null = null;
    if (size > EDGE) {
      tail = Buffer.alloc(Math.min(EDGE, size - EDGE));
      await fh.read(tail, 0, tail.length, size - tail.length);
    }
    return edgeHash(size, head, tail);
  } finally {
    await fh.close();
  }
}

/** The fingerprint: the size, and a hash of the first EDGE bytes and of the last EDGE bytes not among them. */
function edgeHash(size: number, head: Buffer, tail: Buffer | null): string {
  const h = createHash('sha256').update(head);
  if (tail) h.update(tail);
  return `${size}:${h.digest('hex').slice(0, 32)}`;
}

let spooled = 0;

/** Copy stdin to a file (hashing it whole), so it can be read like any file. */
async function spoolStdin(stdin: Readable, spoolDir: string): Promise<Source> {
  const path = join(spoolDir, `stdin-${++spooled}`);
  const h = createHash('sha256');
  let size = 0;
  await pipeline(
    stdin,
    new Transform({
      transform(chunk: Buffer, _enc, cb) {
        h.update(chunk);
        size += chunk.length;
        cb(null, chunk);
      },
    }),
    createWriteStream(path, { mode: FILE_MODE }),
  );
  const digest = h.digest('hex');
  return { name: '-', key: `stdin:${digest}`, path, size, fingerprint: `${size}:${digest.slice(0, 32)}` };
}

/** True when the bytes start with the gzip magic number. */
export function isGzip(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/**
 * The source's content as a stream of chunks, gunzipped when the content is
 * gzip (by its magic number, whatever the name says). `onRaw` sees the count
 * of raw bytes read, for progress. Breaking off the iteration closes the
 * underlying file or download.
 */
export async function openContent(src: Source, onRaw: (n: number) => void): Promise<AsyncIterable<Buffer>> {
  const raw: AsyncIterable<Buffer> = src.open ? src.open() : createReadStream(src.path, { highWaterMark: readChunk(src.size) });
  return decode(counted(raw, onRaw));
}

/**
 * Bytes read at once from a file of `size`: 1 MiB, or less for a smaller
 * file. Each read allocates its chunk whole: S3's access-log objects are a
 * few KB, and a 1 MiB chunk for each of 10,000 of them was 10 GB of
 * allocation, a quarter of the run in garbage collection. (A file that grew
 * since its size was taken is still read to its end, in more reads.)
 */
function readChunk(size: number): number {
  return Math.min(1 << 20, Math.max(16 << 10, size + 1));
}

/** Local files at most this big are read whole, ahead of the reader (localReadAhead), and fingerprinted from those bytes. */
export const SMALL_FILE = 256 << 10;
/** Small files read ahead at most (at most 4 MiB held). */
const READ_AHEAD = 16;

/**
 * Reads sources in the order given, the small ones whole and a few ahead
 * of the source being parsed (at most `atOnce` of at most `maxSize` bytes
 * in memory), so the disk or the network stays busy while the parser works.
 * Each source gets an `open` that yields its bytes (a large one streamed
 * when its turn comes); `done(src)` frees them and reads further ahead.
 */
export class ReadAhead {
  private readonly ahead = new Map<Source, Promise<Buffer>>();
  private next = 0;

  constructor(
    private readonly sources: readonly Source[],
    private readonly readWhole: (src: Source) => Promise<Buffer>,
    private readonly stream: (src: Source) => AsyncIterable<Buffer>,
    private readonly atOnce: number,
    private readonly maxSize: number,
  ) {
    for (const src of sources) src.open = () => this.bytes(src);
    this.fill();
  }

  private fill(): void {
    while (this.next < this.sources.length && this.ahead.size < this.atOnce) {
      const src = this.sources[this.next++] as Source;
      if (src.size > this.maxSize) continue;
      const read = this.readWhole(src);
      read.catch(() => {}); // reported when the source is read
      this.ahead.set(src, read);
    }
  }

  /** The bytes of a small source read ahead (undefined for one streamed). */
  whole(src: Source): Promise<Buffer> | undefined {
    return this.ahead.get(src);
  }

  private async *bytes(src: Source): AsyncGenerator<Buffer> {
    const read = this.ahead.get(src);
    if (read) yield await read;
    else yield* this.stream(src);
  }

  /** The reader is through with `src`: free its bytes and read further ahead. */
  done(src: Source): void {
    this.ahead.delete(src);
    this.fill();
  }
}

/**
 * Local files read ahead: small ones whole, 16 ahead. Read one after the
 * other, each small file's open, read and close left the parser idle: S3
 * delivers access logs as objects of a few KB, and 10,000 of them spent 40%
 * of the run waiting.
 */
export function localReadAhead(sources: readonly Source[]): ReadAhead {
  return new ReadAhead(sources, (src) => readSmall(src.path, src.size), (src) => createReadStream(src.path, { highWaterMark: readChunk(src.size) }), READ_AHEAD, SMALL_FILE);
}

/**
 * A small file read whole in three calls (open, read, close: readFile adds
 * an fstat and a read to find the end), through the callback API: a
 * FileHandle's open and close cost 100 µs of the main thread each, most of
 * the time of 100,000 small files. A read of a regular file that returns
 * less than asked is at its end; a file that grew since its size was taken
 * is read on to its end.
 */
function readSmall(path: string, size: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    fs.open(path, 'r', (err, fd) => {
      if (err) return reject(err);
      const parts: Buffer[] = [];
      let total = 0;
      const finish = (failed: Error | null, out?: Buffer): void => fs.close(fd, () => (failed ? reject(failed) : resolve(out as Buffer)));
      const next = (want: number): void => {
        const buf = Buffer.allocUnsafe(want);
        fs.read(fd, buf, 0, want, total, (e, n) => {
          if (e) return finish(e);
          parts.push(buf.subarray(0, n));
          total += n;
          if (n < want) finish(null, parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, total));
          else next(64 << 10);
        });
      };
      next(size + 4096);
    });
  });
}

/** A local file's content as openContent gives a source's: gunzipped when gzip; breaking off closes the file. */
export function fileContent(path: string): AsyncIterable<Buffer> {
  return decode(counted(createReadStream(path, { highWaterMark: 1 << 20 }), () => {}));
}

async function* counted(chunks: AsyncIterable<Buffer>, onRaw: (n: number) => void): AsyncGenerator<Buffer> {
  for await (const c of chunks) {
    onRaw(c.length);
    yield c;
  }
}

/** Raw chunks in, content out: gunzipped if the first two bytes say gzip. */
async function* decode(raw: AsyncGenerator<Buffer>): AsyncGenerator<Buffer> {
  const head: Buffer[] = [];
  let got = 0;
  while (got < 2) {
    const r = await raw.next();
    if (r.done) break;
    head.push(r.value);
    got += r.value.length;
  }
  async function* all(): AsyncGenerator<Buffer> {
    yield* head;
    yield* raw;
  }
  if (!isGzip(Buffer.concat(head, Math.min(got, 2)))) {
    yield* all();
    return;
  }
  const input = Readable.from(all(), { objectMode: false });
  const gunzip = createGunzip({ chunkSize: 1 << 20 });
  input.on('error', (err) => gunzip.destroy(err));
  gunzip.on('close', () => input.destroy());
  input.pipe(gunzip);
  yield* gunzip as AsyncIterable<Buffer>;
}

/**
 * The first `n` bytes of the (decompressed) content, for format detection,
 * and whether reading them failed (a corrupt stream or a failed read is
 * reported when the source is read for real).
 */
export async function peekContent(src: Source, n = 64 * 1024): Promise<{ head: Buffer; failed: boolean }> {
  const parts: Buffer[] = [];
  let got = 0;
  let failed = false;
  try {
    for await (const chunk of await openContent(src, () => {})) {
      parts.push(chunk);
      got += chunk.length;
      if (got >= n) break;
    }
  } catch {
    failed = true;
  }
  return { head: Buffer.concat(parts).subarray(0, n), failed };
}
