/**
 * Many small sources (S3 delivers access logs as objects of a few KB):
 * listed and stat-ed, read whole a few ahead of the parser and fingerprinted
 * from the bytes read
 * (ingest/sources.ts), with nothing lost and nothing reordered.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, type IngestOptions } from '../../ingest/ingest.js';
import { resolveSources } from '../../ingest/sources.js';
import { generateAccessLogLines } from '../../scripts/gen-access-logs.js';
import { readRows, tempDir } from '../helpers/dataset.js';

let tmp: { dir: string; cleanup: () => void };
beforeAll(() => {
  tmp = tempDir();
});
afterAll(() => tmp.cleanup());

const opts = (data: string, over: Partial<IngestOptions> = {}): IngestOptions => ({ data, format: 'auto', force: false, strict: false, ...over });

/** `n` files of `per` lines each (every fifth gzipped, sizes varying), in a folder; returns the folder and every line in name order. */
function folder(name: string, n: number, per: number): { dir: string; all: string[] } {
  const dir = join(tmp.dir, name);
  mkdirSync(dir, { recursive: true });
  const all: string[] = [];
  const lines = [...generateAccessLogLines({ lines: n * per * 2, seed: 11, quirks: 0 })];
  for (let i = 0; i < n; i++) {
    // Varying sizes: one file in seven is ten times larger (still small), so reads finish out of turn.
    const count = i % 7 === 0 ? per * 2 : per;
    const mine = lines.splice(0, count);
    all.push(...mine);
    const text = mine.join('\n') + '\n';
    writeFileSync(join(dir, `2025-03-10-${String(i).padStart(4, '0')}${i % 5 === 0 ? '.gz' : ''}`), i % 5 === 0 ? gzipSync(text) : text);
  }
  return { dir, all };
}

describe('many small sources', () => {
  it('lists them in name order, however the stats finish, leaving small files to be fingerprinted from the bytes read to parse them', async () => {
    const { dir } = folder('order', 200, 3);
    const r = await resolveSources([dir], tmp.dir);
    const names = r.sources.map((s) => s.name);
    expect(names).toHaveLength(200);
    expect(names).toEqual([...names].sort());
    expect(r.sources.every((s) => s.fingerprint === '' && s.size > 0)).toBe(true);
  });

  it('ingests every line of every file once, plain and gzipped, read ahead of the parser', async () => {
    const { dir, all } = folder('all', 300, 5);
    const data = join(tmp.dir, 'all-data');
    const s = await ingest([dir], opts(data));
    expect([s.sources, s.rows, s.rejected, s.unreadable]).toEqual([300, all.length, 0, []]);
    const rows = await readRows(data);
    expect(rows.map((r) => r.request_id)).toEqual(all.map((l) => l.split(' ')[6] ?? ''));
    // A re-run finds nothing new.
    expect(await ingest([dir], opts(data))).toMatchObject({ sources: 0, rows: 0 });
  });
});

describe('fingerprints', () => {
  it('of a small file read whole equal those of the file read at its edges (a file read either way is known either way)', async () => {
    const { fingerprintBytes, SMALL_FILE } = await import('../../ingest/sources.js');
    const dir = join(tmp.dir, 'edges');
    mkdirSync(dir);
    for (const size of [SMALL_FILE + 1, 300 << 10]) {
      const bytes = Buffer.alloc(size, 0);
      for (let i = 0; i < size; i += 997) bytes[i] = i % 251;
      const path = join(dir, `f-${size}.log`);
      writeFileSync(path, bytes);
      const { sources } = await resolveSources([path], tmp.dir);
      expect(sources[0]?.fingerprint).toBe(fingerprintBytes(bytes));
    }
    // The whole of a file under the edges is hashed once; over them, its last edge is hashed too.
    expect(fingerprintBytes(Buffer.from('abc'))).toMatch(/^3:[0-9a-f]{32}$/);
    expect(fingerprintBytes(Buffer.alloc(100 << 10, 1))).not.toBe(fingerprintBytes(Buffer.alloc(100 << 10, 2)));
  });
});
