/**
 * The manifest (ingest/manifest.ts): a small head naming append-only
 * segments with their lookup indexes; version 1 still read and upgraded;
 * a file's recorded stat spares reading it again only while it proves the
 * content unchanged.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ingest, type IngestOptions } from '../../ingest/ingest.js';
import { JOURNAL } from '../../ingest/dataset.js';
import { KnownSources, loadManifest, loadReplacing, MANIFEST, type ManifestHead } from '../../ingest/manifest.js';
import { generateAccessLogLines } from '../../scripts/gen-access-logs.js';
import { digest, tempDir } from '../helpers/dataset.js';

let tmp: { dir: string; cleanup: () => void };
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

const opts = (over: Partial<IngestOptions> = {}): IngestOptions => ({ data: join(tmp.dir, 'data'), format: 'auto', force: false, strict: false, ...over });
const lines = (n: number, seed: number): string => [...generateAccessLogLines({ lines: n, seed, quirks: 0 })].join('\n') + '\n';
const head = (): ManifestHead => JSON.parse(readFileSync(join(opts().data, MANIFEST), 'utf8')) as ManifestHead;

/** `n` files of a few lines each in folder `name`; returns their paths. */
function files(name: string, n: number, seed: number): string[] {
  const dir = join(tmp.dir, name);
  mkdirSync(dir, { recursive: true });
  return Array.from({ length: n }, (_, i) => {
    const p = join(dir, `log-${String(i).padStart(3, '0')}`);
    writeFileSync(p, lines(4, seed * 1000 + i));
    return p;
  });
}

describe('the manifest', () => {
  it('is a small head naming one segment per run, merged back so that a newer one is never larger than the one before', async () => {
    const all = files('logs', 12, 1);
    for (const f of all) await ingest([f], opts());
    const h = head();
    expect(h).toMatchObject({ version: 3, sources: 12 });
    // 12 one-source runs: a binary counter leaves 8 + 4.
    expect(h.segments.map((s) => s.lines)).toEqual([8, 4]);
    const names = readdirSync(opts().data).filter((n) => n.startsWith('_manifest')).sort();
    expect(names).toEqual([MANIFEST, ...h.segments.flatMap((s) => [s.entries, s.index])].sort());
    const m = await loadManifest(opts().data);
    expect(Object.keys(m.sources).sort()).toEqual([...all].sort());
    // A re-run of the folder finds every source known.
    const again = await ingest([join(tmp.dir, 'logs')], opts());
    expect([again.sources, again.passed.length]).toEqual([0, 12]);
  });

  it('replaces the rows of a source from an older segment when it changed, and keeps the others', async () => {
    const all = files('logs', 5, 2);
    await ingest([join(tmp.dir, 'logs')], opts());
    const late = files('more', 1, 3);
    await ingest(late, opts());
    writeFileSync(all[2] as string, lines(6, 99));
    const s = await ingest([join(tmp.dir, 'logs')], opts());
    expect([s.sources, s.replaced]).toEqual([1, [all[2]]]);
    expect((await digest(opts().data)).rows).toBe(4 * 4 + 6 + 4);
    const m = await loadManifest(opts().data);
    expect(Object.keys(m.sources)).toHaveLength(6);
    expect(m.sources[all[2] as string]?.rows).toBe(6);
    // Every entry still names files that exist.
    for (const e of Object.values(m.sources)) for (const f of e.files) expect(statSync(join(opts().data, f)).isFile()).toBe(true);
    expect(head().sources).toBe(6);
  });

  it('holds, to replace a source, only its entry and the live entries sharing a file with it, not every entry', async () => {
    const [a, b, c] = files('logs', 3, 14);
    const d = files('more', 1, 15);
    await ingest([join(tmp.dir, 'logs')], opts());
    await ingest(d, opts());
    writeFileSync(c as string, lines(5, 98));
    await ingest([join(tmp.dir, 'logs')], opts());
    // a and b now share the file the replacement of c rewrote; their entries of the first run named the file before.
    const known = await KnownSources.open(opts().data);
    expect(Object.keys((await loadReplacing(opts().data, known, [b as string])).sources).sort()).toEqual([a, b].sort());
    writeFileSync(b as string, lines(3, 97));
    const s = await ingest([join(tmp.dir, 'logs')], opts());
    expect(s.replaced).toEqual([b]);
    expect((await digest(opts().data)).rows).toBe(4 + 3 + 5 + 4);
    const m = await loadManifest(opts().data);
    for (const e of Object.values(m.sources)) for (const f of e.files) expect(statSync(join(opts().data, f)).isFile()).toBe(true);
  });

  it('reads a version 1 manifest (one document), passes over its sources, and writes version 3 at the next commit', async () => {
    const all = files('logs', 3, 4);
    await ingest([join(tmp.dir, 'logs')], opts());
    // The dataset as a version that wrote one JSON document left it.
    const v1 = { version: 1, sources: (await loadManifest(opts().data)).sources };
    for (const n of readdirSync(opts().data)) if (n.startsWith('_manifest.')) rmSync(join(opts().data, n));
    writeFileSync(join(opts().data, MANIFEST), JSON.stringify(v1, null, 1) + '\n');
    const known = await KnownSources.open(opts().data);
    expect([known.count, known.same(all[0] as string, v1.sources[all[0] as string]?.fingerprint ?? '')]).toEqual([3, true]);

    const nothing = await ingest([join(tmp.dir, 'logs')], opts());
    expect([nothing.sources, nothing.passed.map((p) => p.reason)]).toEqual([0, ['already ingested', 'already ingested', 'already ingested']]);
    expect(head()).toMatchObject({ version: 1 });

    const late = files('more', 1, 5);
    await ingest(late, opts());
    expect(head()).toMatchObject({ version: 3, sources: 4 });
    const m = await loadManifest(opts().data);
    expect(Object.keys(m.sources).sort()).toEqual([...all, ...late].sort());
    expect(m.sources[all[1] as string]).toEqual(v1.sources[all[1] as string]);
  });

  it('replaces a changed source of a version 1 manifest, keeping the rows of the sources that shared its file', async () => {
    const all = files('logs', 3, 16);
    await ingest([join(tmp.dir, 'logs')], opts());
    const v1 = { version: 1, sources: (await loadManifest(opts().data)).sources };
    for (const n of readdirSync(opts().data)) if (n.startsWith('_manifest.')) rmSync(join(opts().data, n));
    writeFileSync(join(opts().data, MANIFEST), JSON.stringify(v1, null, 1) + '\n');
    writeFileSync(all[1] as string, lines(7, 96));
    const s = await ingest([join(tmp.dir, 'logs')], opts());
    expect([s.sources, s.replaced]).toEqual([1, [all[1]]]);
    expect((await digest(opts().data)).rows).toBe(4 + 7 + 4);
    expect(head()).toMatchObject({ version: 3, sources: 3 });
  });

  it('finishes a commit that a version writing one document left in its journal', async () => {
    const [one] = files('logs', 1, 6);
    await ingest([one as string], opts());
    const v1 = { version: 1, sources: (await loadManifest(opts().data)).sources };
    for (const n of readdirSync(opts().data)) if (n.startsWith('_manifest.')) rmSync(join(opts().data, n));
    writeFileSync(join(opts().data, MANIFEST), '{"version":1,"sources":{}}\n');
    writeFileSync(join(opts().data, JOURNAL), JSON.stringify({ run: 'old', moves: [], deletes: [], manifest: v1 }));
    const s = await ingest([one as string], opts());
    expect([s.recovered, s.sources, s.passed.map((p) => p.reason)]).toEqual(['old', 0, ['already ingested']]);
  });

  it('says which manifest file is unreadable and what to do', async () => {
    files('logs', 1, 7);
    await ingest([join(tmp.dir, 'logs')], opts());
    const idx = head().segments[0]?.index as string;
    writeFileSync(join(opts().data, idx), 'nonsense');
    await expect(ingest([join(tmp.dir, 'logs')], opts())).rejects.toThrow(
      `${join(opts().data, MANIFEST)}: not a valid s3sift manifest (${idx}: not an s3sift manifest index); move _manifest.* aside to start the dataset afresh`,
    );
  });
});

describe('a known file proved unchanged by its stat', () => {
  it('is not read again while its stat is the one recorded; one rewritten with the same size and mtime is read and replaced', async () => {
    const [a, b] = files('logs', 2, 8);
    // The stat is recorded only for a file whose ctime is 2 s older than the run.
    await sleep(2100);
    await ingest([join(tmp.dir, 'logs')], opts());
    const m = await loadManifest(opts().data);
    expect(m.sources[a as string]?.stat).toMatch(/^\d+:\d+:\d+:\d+:\d+$/);

    const known = await KnownSources.open(opts().data);
    const st = statSync(a as string);
    // Same size, same mtime, other content: only the ctime says it changed.
    const before = readFileSync(a as string, 'utf8');
    writeFileSync(a as string, before.replace(/GET/g, 'PUT').slice(0, before.length).padEnd(before.length, ' '));
    utimesSync(a as string, st.atime, st.mtime);
    expect(statSync(a as string).size).toBe(st.size);
    expect(known.same(a as string, m.sources[a as string]?.fingerprint as string)).toBe(true);
    const s = await ingest([join(tmp.dir, 'logs')], opts());
    expect(s.replaced).toEqual([a]);
    expect(s.passed).toEqual([{ name: b, reason: 'already ingested' }]);
  });

  it('is not recorded for a file changed within 2 s of the run: the next run fingerprints it', async () => {
    const [a] = files('logs', 1, 9);
    await ingest([a as string], opts());
    expect((await loadManifest(opts().data)).sources[a as string]?.stat).toBeUndefined();
    const s = await ingest([a as string], opts());
    expect(s.passed).toEqual([{ name: a, reason: 'already ingested' }]);
  });

  it('is recorded by the first run that finds the file known and its ctime 2 s old, so the run after does not read it', async () => {
    const [a] = files('logs', 1, 12);
    await ingest([a as string], opts());
    await sleep(2100);
    const s = await ingest([a as string], opts());
    expect([s.sources, s.passed]).toEqual([0, [{ name: a, reason: 'already ingested' }]]);
    const e = (await loadManifest(opts().data)).sources[a as string];
    expect(e?.stat).toMatch(/^\d+:\d+:\d+:\d+:\d+$/);
    expect((await KnownSources.open(opts().data)).unchanged(a as string, e?.stat as string)).toBe(true);
    expect(head().sources).toBe(1);
  });
});

describe('a manifest segment gone or not matching its index', () => {
  it('stops naming the entries file when it is missing, instead of passing over sources on its index alone', async () => {
    const [a] = files('logs', 1, 10);
    await ingest([a as string], opts());
    const seg = head().segments[0]?.entries as string;
    rmSync(join(opts().data, seg));
    await expect(ingest([a as string], opts())).rejects.toThrow(`${join(opts().data, MANIFEST)}: not a valid s3sift manifest (cannot read ${seg}:`);
  });

  it('stops naming the segment file and line when a line is no entry (a merge or a replacement reads it whole)', async () => {
    const [a, b] = files('logs', 2, 13);
    await ingest([a as string], opts());
    const seg = head().segments[0]?.entries as string;
    const path = join(opts().data, seg);
    writeFileSync(path, readFileSync(path, 'utf8').replace(/"rows"/, '"rows'));
    await expect(ingest([b as string], opts())).rejects.toThrow(`${path}:1: not a manifest entry (`);
    await expect(loadManifest(opts().data)).rejects.toThrow(`${path}:1: not a manifest entry (`);
  });

  it('stops naming the index when it belongs to another segment', async () => {
    const [a, b, c] = files('logs', 3, 11);
    await ingest([a as string, b as string], opts());
    await ingest([c as string], opts());
    const [one, two] = head().segments as [ManifestHead['segments'][number], ManifestHead['segments'][number]];
    writeFileSync(join(opts().data, one.index), readFileSync(join(opts().data, two.index)));
    await expect(ingest([join(tmp.dir, 'logs')], opts())).rejects.toThrow(`(${one.index} does not index ${one.entries}`);
  });
});
