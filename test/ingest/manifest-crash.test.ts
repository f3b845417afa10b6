/**
 * A commit interrupted at each of its file operations (a move, the head's
 * write, a merged segment's removal, the journal's removal): the manifest
 * head names only files that exist, a reader meanwhile sees the rows as
 * they were before the commit or after it (never both: no row twice), and
 * the next run finishes the commit with the dataset one clean run gives.
 * The same for a compaction.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const fault = vi.hoisted(() => ({ at: 0, calls: 0, journal: '' }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const { existsSync } = await import('node:fs');
  // Only the commit's own steps fail: those made while the journal is in place.
  const failing = <F extends (...a: never[]) => Promise<unknown>>(fn: F): F =>
    (async (...a: Parameters<F>) => {
      if (fault.at > 0 && existsSync(fault.journal) && ++fault.calls === fault.at) throw Object.assign(new Error('injected crash'), { code: 'EIO' });
      return fn(...a);
    }) as F;
  return { ...real, default: real, rename: failing(real.rename), rm: failing(real.rm), unlink: failing(real.unlink) };
});

const { ingest } = await import('../../ingest/ingest.js');
const { compact } = await import('../../ingest/compact.js');
const { loadManifest, MANIFEST } = await import('../../ingest/manifest.js');
const { JOURNAL } = await import('../../ingest/dataset.js');
const { generateAccessLogLines } = await import('../../scripts/gen-access-logs.js');
const { digest, tempDir } = await import('../helpers/dataset.js');
type ManifestHead = import('../../ingest/manifest.js').ManifestHead;

let tmp: { dir: string; cleanup: () => void };
beforeEach(() => {
  tmp = tempDir();
  fault.at = 0;
  fault.calls = 0;
});
afterEach(() => tmp.cleanup());

const lines = (n: number, seed: number): string => [...generateAccessLogLines({ lines: n, seed, quirks: 0 })].join('\n') + '\n';
const opts = (data: string) => ({ data, format: 'auto' as const, force: false, strict: false });

/** What a reader of the manifest sees: every live entry, and that the head names only files there. */
async function manifestState(data: string): Promise<Record<string, unknown>> {
  const head = JSON.parse(readFileSync(join(data, MANIFEST), 'utf8')) as ManifestHead;
  for (const s of head.segments ?? []) for (const f of [s.entries, s.index]) expect(existsSync(join(data, f)), f).toBe(true);
  const m = await loadManifest(data);
  return Object.fromEntries(Object.entries(m.sources).map(([k, e]) => [k, [e.fingerprint, e.rows, e.files.length]]));
}

/**
 * Run `run` on a copy of `base` with the commit's `at`-th file operation
 * failing, for at = 1, 2, ... until a run gets through; after each crash,
 * `check` the copy. Returns how many runs crashed.
 */
async function crashAtEach(base: string, run: (data: string) => Promise<unknown>, check: (data: string, at: number) => Promise<void>): Promise<number> {
  let crashed = 0;
  for (let at = 1; at < 200; at++) {
    const data = join(tmp.dir, `crash-${at}`);
    cpSync(base, data, { recursive: true });
    fault.calls = 0;
    fault.at = at;
    fault.journal = join(data, JOURNAL);
    let failed = false;
    try {
      await run(data);
    } catch {
      failed = true;
    } finally {
      fault.at = 0;
    }
    if (!failed) break;
    crashed++;
    await check(data, at);
  }
  return crashed;
}

describe('a commit interrupted at any file operation', () => {
  it('leaves a head naming files that exist, and the next run finishes it: the same dataset as a clean run', async () => {
    const logs = join(tmp.dir, 'logs');
    mkdirSync(logs);
    const base = join(tmp.dir, 'base');
    // Three runs of one source: segments of 2 and 1 lines; the fourth run (one changed, one new) merges all of them.
    for (let i = 0; i < 3; i++) {
      writeFileSync(join(logs, `a${i}`), lines(5, i + 1));
      await ingest([join(logs, `a${i}`)], opts(base));
    }
    expect((JSON.parse(readFileSync(join(base, MANIFEST), 'utf8')) as ManifestHead).segments.map((s) => s.lines)).toEqual([2, 1]);
    writeFileSync(join(logs, 'a1'), lines(7, 40));
    writeFileSync(join(logs, 'a3'), lines(6, 41));

    const before = await digest(base);
    const clean = join(tmp.dir, 'clean');
    cpSync(base, clean, { recursive: true });
    await ingest([logs], opts(clean));
    const want = { rows: await digest(clean), manifest: await manifestState(clean) };
    expect(Object.keys(want.manifest)).toHaveLength(4);

    const crashed = await crashAtEach(base, (data) => ingest([logs], opts(data)), async (data, at) => {
      // A reader between the crash and the next run: the manifest, and the rows as the dataset before or after the commit.
      const between = await manifestState(data);
      if (!existsSync(join(data, JOURNAL))) expect(Object.keys(between).length, `crash at ${at}`).toBeGreaterThanOrEqual(3);
      expect([before, want.rows], `crash at ${at}`).toContainEqual(await digest(data));
      await ingest([logs], opts(data));
      expect({ rows: await digest(data), manifest: await manifestState(data) }, `crash at ${at}`).toEqual(want);
    });
    expect(crashed).toBeGreaterThan(5);
  }, 120_000);

  it('of a compaction: readers meanwhile see the files before or the merged file, and the next run finishes it', async () => {
    const logs = join(tmp.dir, 'logs');
    mkdirSync(logs);
    const base = join(tmp.dir, 'base');
    for (let i = 0; i < 4; i++) {
      writeFileSync(join(logs, `a${i}`), lines(30, i + 1));
      await ingest([join(logs, `a${i}`)], opts(base));
    }
    const before = { rows: await digest(base), manifest: await manifestState(base) };
    const clean = join(tmp.dir, 'clean');
    cpSync(base, clean, { recursive: true });
    expect((await compact({ data: clean })).merges.length).toBeGreaterThan(0);
    const after = { rows: await digest(clean), manifest: await manifestState(clean) };
    expect(after.rows).toEqual(before.rows);

    const crashed = await crashAtEach(base, (data) => compact({ data }), async (data, at) => {
      expect(await digest(data), `crash at ${at}`).toEqual(before.rows);
      // The next run (here an ingest that finds nothing new) finishes the commit.
      await ingest([logs], opts(data));
      expect({ rows: await digest(data), manifest: await manifestState(data) }, `crash at ${at}`).toEqual(after);
      expect((await compact({ data })).merges, `crash at ${at}`).toEqual([]);
    });
    expect(crashed).toBeGreaterThan(3);
  }, 120_000);

  it('leaves a journal that a version writing one document finishes into the same head (then refuses it by its version)', async () => {
    const logs = join(tmp.dir, 'logs');
    mkdirSync(logs);
    writeFileSync(join(logs, 'a'), lines(5, 1));
    const data = join(tmp.dir, 'data');
    await ingest([join(logs, 'a')], opts(data));
    // The dataset as a version writing one document left it; the upgrading commit is interrupted.
    const v1 = { version: 1, sources: (await loadManifest(data)).sources };
    for (const n of readdirSync(data)) if (n.startsWith('_manifest.')) rmSync(join(data, n));
    writeFileSync(join(data, MANIFEST), JSON.stringify(v1, null, 1) + '\n');
    writeFileSync(join(logs, 'b'), lines(5, 2));
    fault.at = 1;
    fault.journal = join(data, JOURNAL);
    await expect(ingest([logs], opts(data))).rejects.toThrow('injected crash');
    fault.at = 0;
    // Such a version's recovery writes the journal's `manifest` as _manifest.json, whatever it holds.
    const journal = JSON.parse(readFileSync(join(data, JOURNAL), 'utf8')) as { manifest?: unknown };
    const older = JSON.stringify(journal.manifest, null, 1) + '\n';
    await ingest([logs], opts(data));
    expect(older).toBe(readFileSync(join(data, MANIFEST), 'utf8'));
    expect(Object.keys(await manifestState(data)).sort()).toEqual([join(logs, 'a'), join(logs, 'b')]);
  });
});
