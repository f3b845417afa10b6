/**
 * The manifest: what was ingested, so that re-runs are idempotent. Version 2
 * (docs/dataset.md) is a small head, `_manifest.json`, naming append-only
 * segments: `_manifest.NNNNNN.ndjson` (one source entry a line; a later
 * line for a key supersedes an earlier one) each with its lookup index
 * `_manifest.NNNNNN.idx` (manifest-index.ts). A commit adds one segment
 * with the run's new and changed entries and rewrites the head; segments
 * are merged from the newest back (a newer one never larger than the one
 * before it), so a million sources stay a handful of files. Version 1, one
 * JSON document holding every entry, is still read, and replaced by
 * version 2 at the next commit.
 */
import { createReadStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DatasetError } from '../common/errors.js';
import { buildIndex, entryRecords, Index, IndexBuilder, recordHash, RECORDS_PER_ENTRY } from './manifest-index.js';
import { FILE_MODE } from './modes.js';
import { TABLES } from './schema.js';

export const MANIFEST = '_manifest.json';

/** What the manifest remembers of one ingested source. */
export interface SourceEntry {
  key: string;
  /** The `source_file` value its rows carry. */
  name: string;
  fingerprint: string;
  table: string | null;
  run: string;
  ingested_at: string;
  lines: number;
  rows: number;
  rejected: number;
  skipped: number;
  /** Parquet files (relative to the dataset) holding its rows, shared with the run's other sources. */
  files: string[];
  /** Rejects file (relative) holding its rejected lines, if any. */
  rejects: string | null;
  /**
   * A local file's device, inode, size, mtime and ctime (ns) when they prove
   * its content unchanged on a later run (sources.ts, statKey); absent otherwise.
   */
  stat?: string;
}

/** Every source's live entry, by key. */
export interface Manifest {
  version: number;
  sources: Record<string, SourceEntry>;
}

export interface SegmentRef {
  /** The entries, one JSON object a line (relative to the dataset). */
  entries: string;
  /** Its lookup index (relative). */
  index: string;
  /** Lines in `entries` (some may be superseded by a later segment). */
  lines: number;
}

/** A Parquet file no longer in the dataset, kept for readers that opened it before (docs/dataset.md#what-readers-read). */
export interface Retired {
  /** Relative to the dataset. */
  file: string;
  /** When the commit that retired it was staged (ISO 8601). */
  since: string;
}

/** `_manifest.json` from version 2 on; version 3 adds `files` and `retired`. */
export interface ManifestHead {
  version: 2 | 3;
  /** Sources known (live entries). */
  sources: number;
  /** The run that wrote this head. */
  run: string;
  /** Oldest first; a later segment's entry for a key supersedes an earlier one's. */
  segments: SegmentRef[];
  /** Number of the next segment file. */
  next: number;
  /**
   * The dataset's Parquet files (relative, sorted): what readers read
   * (version 3). A version 2 head has none: its readers read every
   * `.parquet` file in the tables' date folders.
   */
  files?: string[];
  /** Parquet files a commit took out of `files`, removed by a later commit once readers are done with them (version 3). */
  retired?: Retired[];
}

interface Segment {
  index: Index;
  lines: number;
  ref: SegmentRef | null;
  /** The entry at `offset`. */
  read(offset: number): Promise<SourceEntry>;
}

function invalid(dir: string, why: string, cause?: unknown): DatasetError {
  return new DatasetError(`${join(dir, MANIFEST)}: not a valid s3sift manifest (${why}); move _manifest.* aside to start the dataset afresh`, { cause });
}

/** `_manifest.json` parsed: a version 2 head, a version 1 manifest, or null when there is none. */
async function readTop(dir: string): Promise<ManifestHead | Manifest | null> {
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new DatasetError(`${join(dir, MANIFEST)}: cannot read (${(err as Error).message})`, { cause: err });
  }
  let m: { version?: unknown; sources?: unknown; segments?: unknown };
  try {
    m = JSON.parse(text) as typeof m;
  } catch (err) {
    throw invalid(dir, (err as Error).message, err);
  }
  if (m.version === 1 && typeof m.sources === 'object' && m.sources !== null) return m as Manifest;
  if (m.version === 2 && Array.isArray(m.segments)) return m as ManifestHead;
  if (m.version === 3 && Array.isArray(m.segments) && Array.isArray((m as { files?: unknown }).files) && Array.isArray((m as { retired?: unknown }).retired)) {
    const h = m as ManifestHead;
    // Readers read these files and a commit removes the retired ones: each must be a table's Parquet file in a date folder.
    for (const f of h.files ?? []) if (!isDatasetFile(f)) throw invalid(dir, `files: ${JSON.stringify(f)} is not a table's Parquet file (TABLE/date=.../NAME.parquet)`);
    for (const r of h.retired ?? []) {
      const { file, since } = (r ?? {}) as Partial<Retired>;
      if (!isDatasetFile(file)) throw invalid(dir, `retired: ${JSON.stringify(file)} is not a table's Parquet file (TABLE/date=.../NAME.parquet)`);
      if (typeof since !== 'string' || Number.isNaN(Date.parse(since))) throw invalid(dir, `retired: ${JSON.stringify(file)} has no valid time (since: ${JSON.stringify(since)})`);
    }
    return h;
  }
  if (typeof m.version === 'number' && m.version > 3) {
    // Moving it aside, as for a damaged manifest, would have every source ingested again beside its rows.
    throw new DatasetError(`${join(dir, MANIFEST)}: manifest version ${m.version}, written by a newer s3sift than this one (which reads versions 1 to 3); run that version or a later one on this dataset, and leave the manifest in place`);
  }
  throw invalid(dir, `unknown manifest version ${JSON.stringify(m.version)}`);
}

/** Whether `f` (from a manifest) is a table's Parquet file in a folder of it, relative, by either separator (as dataset.ts, isTableFile, lists them): `TABLE/date=.../NAME.parquet`. */
function isDatasetFile(f: unknown): f is string {
  if (typeof f !== 'string') return false;
  const parts = f.split(/[\\/]/);
  return parts.length === 3 && TABLES.some((t) => t.name === parts[0]) && !['', '.', '..'].includes(parts[1] as string) && (parts[2] as string).endsWith('.parquet');
}

const isHead = (m: ManifestHead | Manifest): m is ManifestHead => m.version === 2 || m.version === 3;

/**
 * The Parquet files the head of `dir` names (relative): what readers read.
 * Null when it names none: a version 1 or 2 manifest (read every file in the
 * tables' date folders), or no manifest.
 */
export async function datasetFiles(dir: string): Promise<string[] | null> {
  const top = await readTop(dir);
  return top !== null && isHead(top) && top.files ? top.files : null;
}

/** Every live entry, by key (the whole manifest in memory: for publish and for tools, not for a run's lookups or replacements). */
export async function loadManifest(dir: string): Promise<Manifest> {
  const top = await readTop(dir);
  if (top === null) return { version: 2, sources: {} };
  if (!isHead(top)) return top;
  const sources: Record<string, SourceEntry> = {};
  for (const seg of top.segments) {
    for await (const { entry } of segmentLines(join(dir, seg.entries))) sources[entry.key] = entry;
  }
  return { version: 2, sources };
}

/**
 * What replacing the rows of `keys` needs of the manifest: their live
 * entries, and the live entries of the other sources sharing a Parquet or
 * rejects file with them (whose rows stay, in a rewritten file). One pass
 * over the segments, holding only those: not every entry of the dataset.
 */
export async function loadReplacing(dir: string, known: KnownSources, keys: readonly string[]): Promise<Manifest> {
  const sources: Record<string, SourceEntry> = {};
  const files = new Set<string>();
  const rejects = new Set<string>();
  for (const k of keys) {
    const e = await known.entry(k);
    if (!e) throw invalid(dir, `no entry for ${k}, which its index holds`);
    sources[k] = e;
    for (const f of e.files) files.add(f);
    if (e.rejects) rejects.add(e.rejects);
  }
  const replaced = new Set(keys);
  const sharing = (e: SourceEntry): boolean => e.files.some((f) => files.has(f)) || (e.rejects !== null && rejects.has(e.rejects));
  // Oldest first: a later entry of a key decides whether it is held.
  const keep = (e: SourceEntry): void => {
    if (replaced.has(e.key)) return;
    if (sharing(e)) sources[e.key] = e;
    else delete sources[e.key];
  };
  if (known.legacy) known.legacy.forEach(keep);
  for (const seg of known.head?.segments ?? []) {
    for await (const { entry } of segmentLines(join(dir, seg.entries))) keep(entry);
  }
  return { version: 2, sources };
}

/**
 * The live entries of the sources with rows in any of `files` (relative
 * Parquet files): one pass over the segments, holding only those.
 */
export async function loadHolding(dir: string, known: KnownSources, files: ReadonlySet<string>): Promise<SourceEntry[]> {
  const held = new Map<string, SourceEntry>();
  // Oldest first: a later entry of a key decides whether it is held.
  const keep = (e: SourceEntry): void => {
    if (e.files.some((f) => files.has(f))) held.set(e.key, e);
    else held.delete(e.key);
  };
  if (known.legacy) known.legacy.forEach(keep);
  for (const seg of known.head?.segments ?? []) {
    for await (const { entry } of segmentLines(join(dir, seg.entries))) keep(entry);
  }
  return [...held.values()];
}

/** A segment's entries with their byte offsets; a file that cannot be read, or a line that is no entry, is an error naming it. */
async function* segmentLines(path: string): AsyncGenerator<{ entry: SourceEntry; offset: number }> {
  let offset = 0;
  let n = 0;
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      const at = offset;
      offset += Buffer.byteLength(line) + 1;
      n++;
      if (!line) continue;
      let entry: SourceEntry;
      try {
        entry = JSON.parse(line) as SourceEntry;
      } catch (err) {
        throw new DatasetError(`${path}:${n}: not a manifest entry (${(err as Error).message}); move _manifest.* aside to start the dataset afresh`, { cause: err });
      }
      yield { entry, offset: at };
    }
  } catch (err) {
    if (err instanceof DatasetError) throw err;
    throw new DatasetError(`${path}: cannot read (${(err as Error).message})`, { cause: err });
  }
}

/** One line of a segment file, read at its offset. */
async function readLineAt(path: string, offset: number): Promise<SourceEntry> {
  const fh = await open(path, 'r');
  try {
    const parts: Buffer[] = [];
    for (let pos = offset; ; ) {
      const buf = Buffer.alloc(4096);
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      const nl = buf.subarray(0, bytesRead).indexOf(10);
      if (nl >= 0 || bytesRead === 0) {
        parts.push(buf.subarray(0, nl >= 0 ? nl : bytesRead));
        break;
      }
      parts.push(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    const line = Buffer.concat(parts).toString('utf8');
    try {
      return JSON.parse(line) as SourceEntry;
    } catch (err) {
      throw new DatasetError(`${path}: no manifest entry at byte ${offset} (its index does not match it); move _manifest.* aside to start the dataset afresh`, { cause: err });
    }
  } finally {
    await fh.close();
  }
}

/**
 * The sources the dataset knows, for a run's questions ("known with this
 * content?"): the indexes are read whole, an entry only when a question
 * needs its details. A version 1 manifest is indexed in memory.
 */
export class KnownSources {
  private constructor(
    readonly head: ManifestHead | null,
    /** Entries of a version 1 manifest, written as a segment by the next commit. */
    readonly legacy: SourceEntry[] | null,
    private readonly segments: Segment[],
  ) {}

  static async open(dir: string): Promise<KnownSources> {
    const top = await readTop(dir);
    if (top === null) return new KnownSources(null, null, []);
    if (!isHead(top)) {
      const entries = Object.values(top.sources);
      const index = new Index(buildIndex(entries.flatMap((e, i) => entryRecords(e, i))), MANIFEST);
      return new KnownSources(null, entries, [{ index, lines: entries.length, ref: null, read: async (i) => entries[i] as SourceEntry }]);
    }
    const segments: Segment[] = [];
    for (const ref of top.segments) {
      const path = join(dir, ref.index);
      let buf: Buffer;
      try {
        buf = await readFile(path);
      } catch (err) {
        throw invalid(dir, `cannot read ${ref.index}: ${(err as Error).message}`, err);
      }
      let index: Index;
      try {
        index = new Index(buf, ref.index);
      } catch (err) {
        throw invalid(dir, (err as Error).message, err);
      }
      // An index proves nothing without its entries: one missing, or not theirs, would pass sources over unread.
      if (index.records < 3 * ref.lines || index.records > RECORDS_PER_ENTRY * ref.lines) {
        throw invalid(dir, `${ref.index} does not index ${ref.entries}: ${index.records} records for ${ref.lines} entries`);
      }
      const entries = join(dir, ref.entries);
      try {
        if (!(await stat(entries)).isFile()) throw new Error('not a file');
      } catch (err) {
        throw invalid(dir, `cannot read ${ref.entries}: ${(err as Error).message}`, err);
      }
      segments.push({ index, lines: ref.lines, ref, read: (offset) => readLineAt(entries, offset) });
    }
    return new KnownSources(top, null, segments);
  }

  /** Sources known. */
  get count(): number {
    return this.head?.sources ?? this.legacy?.length ?? 0;
  }

  /** Where the live entry of `key` is: the newest segment filing it, its last offset there. */
  private live(key: string): { seg: number; offset: number } | null {
    const h = recordHash('key', key);
    for (let i = this.segments.length - 1; i >= 0; i--) {
      const found = (this.segments[i] as Segment).index.find(h);
      if (found.length) return { seg: i, offset: Math.max(...found) };
    }
    return null;
  }

  has(key: string): boolean {
    return this.live(key) !== null;
  }

  /** True when `key` is known with this fingerprint. */
  same(key: string, fingerprint: string): boolean {
    const at = this.live(key);
    return at !== null && (this.segments[at.seg] as Segment).index.find(recordHash('content', key, fingerprint)).includes(at.offset);
  }

  /** True when `key` is known with this recorded stat (proof that its content did not change). */
  unchanged(key: string, stat: string): boolean {
    const at = this.live(key);
    return at !== null && (this.segments[at.seg] as Segment).index.find(recordHash('stat', key, stat)).includes(at.offset);
  }

  /** The live entry of `key`, if known. */
  async entry(key: string): Promise<SourceEntry | null> {
    const at = this.live(key);
    return at === null ? null : (this.segments[at.seg] as Segment).read(at.offset);
  }

  /** A live entry with this fingerprint (same content under another key, or the same key), if any. */
  async twin(fingerprint: string): Promise<SourceEntry | null> {
    const h = recordHash('fingerprint', fingerprint);
    for (let i = this.segments.length - 1; i >= 0; i--) {
      const seg = this.segments[i] as Segment;
      for (const offset of seg.index.find(h)) {
        const e = await seg.read(offset);
        const at = this.live(e.key);
        if (e.fingerprint === fingerprint && at?.seg === i && at.offset === offset) return e;
      }
    }
    return null;
  }
}

const segmentName = (n: number, ext: string): string => `_manifest.${String(n).padStart(6, '0')}.${ext}`;

/**
 * Write `entries` (at most `max` of them) as segment number `n` into `work`:
 * its entries file and index (`_manifest.NNNNNN.ndjson`, `.idx`). The index
 * is filled as the entries go by, in memory proportional to `max` (about
 * 100 bytes an entry).
 */
export async function writeSegment(work: string, n: number, entries: AsyncIterable<SourceEntry> | Iterable<SourceEntry>, max: number): Promise<SegmentRef> {
  const ref: SegmentRef = { entries: segmentName(n, 'ndjson'), index: segmentName(n, 'idx'), lines: 0 };
  const index = new IndexBuilder(max * RECORDS_PER_ENTRY);
  const fh = await open(join(work, ref.entries), 'w', FILE_MODE);
  try {
    let offset = 0;
    let pending: string[] = [];
    let pendingBytes = 0;
    for await (const e of entries) {
      const line = JSON.stringify(e) + '\n';
      for (const [hash, at] of entryRecords(e, offset)) index.add(hash, at);
      const bytes = Buffer.byteLength(line);
      offset += bytes;
      pending.push(line);
      pendingBytes += bytes;
      ref.lines++;
      if (pendingBytes >= 1 << 20) {
        await fh.write(pending.join(''));
        pending = [];
        pendingBytes = 0;
      }
    }
    await fh.write(pending.join(''));
    await fh.sync();
  } finally {
    await fh.close();
  }
  const ix = await open(join(work, ref.index), 'w', FILE_MODE);
  try {
    await ix.writeFile(index.finish());
    await ix.sync();
  } finally {
    await ix.close();
  }
  return ref;
}

/** Segments at most: past it the newest two are merged whatever their sizes. */
const MAX_SEGMENTS = 32;

/**
 * Stage the manifest after a run whose new and changed entries are
 * `changed`: its segment (the version 1 entries first, when upgrading) and
 * any merges, written into `work` (the dataset's `prefix` folder), their
 * moves and the merged segments' deletes added to `moves`/`deletes`.
 * Returns the head to write.
 */
export async function stageManifest(
  dir: string, work: string, prefix: string, run: string, known: KnownSources, changed: readonly SourceEntry[],
  moves: Array<[string, string]>, deletes: string[],
): Promise<ManifestHead> {
  let next = known.head?.next ?? 1;
  const added = changed.filter((e) => !known.has(e.key)).length;
  const segments: Array<SegmentRef & { staged: boolean }> = (known.head?.segments ?? []).map((s) => ({ ...s, staged: false }));
  if (known.legacy) segments.push({ ...(await writeSegment(work, next++, known.legacy, known.legacy.length)), staged: true });
  segments.push({ ...(await writeSegment(work, next++, changed, changed.length)), staged: true });
  // Merge from the newest back while the one before is no larger (a binary counter: about log2 of the sources' segments).
  for (;;) {
    const last = segments.at(-1);
    const prev = segments.at(-2);
    if (!last || !prev || (prev.lines > last.lines && segments.length <= MAX_SEGMENTS)) break;
    const older = join(prev.staged ? work : dir, prev.entries);
    const newerEntries = join(last.staged ? work : dir, last.entries);
    const newer = new Index(await readFile(join(last.staged ? work : dir, last.index)), last.index);
    async function* merged(): AsyncGenerator<SourceEntry> {
      for await (const { entry } of segmentLines(older)) {
        if (newer.find(recordHash('key', entry.key)).length === 0) yield entry;
      }
      for await (const { entry } of segmentLines(newerEntries)) yield entry;
    }
    const ref = { ...(await writeSegment(work, next++, merged(), prev.lines + last.lines)), staged: true };
    for (const s of [prev, last]) {
      if (!s.staged) deletes.push(s.entries, s.index);
    }
    segments.splice(-2, 2, ref);
  }
  for (const s of segments) if (s.staged) for (const f of [s.entries, s.index]) moves.push([join(prefix, f), f]);
  return { version: 2, sources: known.count + added, run, segments: segments.map(({ entries, index, lines }) => ({ entries, index, lines })), next };
}
