/**
 * The lookup file beside each manifest segment (`_manifest.NNNNNN.idx`): a
 * hash table of fixed-size slots, read whole into one Buffer and probed in
 * place, so asking "is this source known with this content" of a million
 * sources parses nothing. Each slot holds the first 12 bytes of a SHA-256 of
 * a kind and its parts, and 6 bytes: the entry's byte offset in its segment
 * plus one (0: an empty slot). Kinds: the source's key, its fingerprint, the
 * pair (key, fingerprint), and (key, stat) when the stat was recorded.
 */
import { createHash } from 'node:crypto';

const MAGIC = 's3sidx1\n';
const HEADER = 16;
const HASH = 12;
const SLOT = HASH + 6;
/** Slots per record at least: probes stay short. */
const SPREAD = 1.5;

export type IndexKind = 'key' | 'fingerprint' | 'content' | 'stat';

/** The 12-byte hash a record of `kind` is filed under. */
export function recordHash(kind: IndexKind, ...parts: string[]): Buffer {
  const h = createHash('sha256');
  h.update(kind);
  for (const p of parts) h.update('\0').update(p);
  return h.digest().subarray(0, HASH);
}

/** The records of one entry at `offset` in its segment. */
export function entryRecords(e: { key: string; fingerprint: string; stat?: string | null }, offset: number): Array<[Buffer, number]> {
  const out: Array<[Buffer, number]> = [
    [recordHash('key', e.key), offset],
    [recordHash('fingerprint', e.fingerprint), offset],
    [recordHash('content', e.key, e.fingerprint), offset],
  ];
  if (e.stat) out.push([recordHash('stat', e.key, e.stat), offset]);
  return out;
}

/** Records at most per entry (entryRecords). */
export const RECORDS_PER_ENTRY = 4;

/** An index being built, sized for at most `records` records: they go straight into its slots. */
export class IndexBuilder {
  private readonly buf: Buffer;
  private readonly slots: number;
  private count = 0;

  constructor(private readonly max: number) {
    this.slots = Math.max(8, Math.ceil(max * SPREAD));
    this.buf = Buffer.alloc(HEADER + this.slots * SLOT);
    this.buf.write(MAGIC, 0, 'latin1');
    this.buf.writeUInt32LE(this.slots, 8);
  }

  add(hash: Buffer, offset: number): void {
    if (++this.count > this.max) throw new Error(`manifest index: more than the ${this.max} records it was sized for`);
    const { buf, slots } = this;
    let s = hash.readUInt32LE(0) % slots;
    while (buf.readUIntLE(HEADER + s * SLOT + HASH, 6) !== 0) s = (s + 1) % slots;
    const at = HEADER + s * SLOT;
    hash.copy(buf, at, 0, HASH);
    buf.writeUIntLE(offset + 1, at + HASH, 6);
  }

  finish(): Buffer {
    this.buf.writeUInt32LE(this.count, 12);
    return this.buf;
  }
}

/** An index of `records` (hash, offset in the segment). */
export function buildIndex(records: ReadonlyArray<readonly [Buffer, number]>): Buffer {
  const b = new IndexBuilder(records.length);
  for (const [hash, offset] of records) b.add(hash, offset);
  return b.finish();
}

/** A loaded index: the offsets of the entries filed under a hash. */
export class Index {
  private readonly slots: number;

  constructor(private readonly buf: Buffer, where: string) {
    if (buf.length < HEADER || buf.toString('latin1', 0, 8) !== MAGIC) throw new Error(`${where}: not an s3sift manifest index`);
    this.slots = buf.readUInt32LE(8);
    if (buf.length !== HEADER + this.slots * SLOT) throw new Error(`${where}: truncated (${buf.length} bytes, ${HEADER + this.slots * SLOT} expected)`);
  }

  /** Records filed (RECORDS_PER_ENTRY at most, 3 at least, an entry). */
  get records(): number {
    return this.buf.readUInt32LE(12);
  }

  /** Offsets filed under `hash` (several for a fingerprint shared by entries). */
  find(hash: Buffer): number[] {
    const out: number[] = [];
    const { buf, slots } = this;
    let s = hash.readUInt32LE(0) % slots;
    for (let n = 0; n < slots; n++) {
      const at = HEADER + s * SLOT;
      const v = buf.readUIntLE(at + HASH, 6);
      if (v === 0) break;
      if (buf.compare(hash, 0, HASH, at, at + HASH) === 0) out.push(v - 1);
      s = (s + 1) % slots;
    }
    return out;
  }
}
