/**
 * `s3sift compact` (ingest/compact.ts) and what readers read
 * (query/dataset.ts): a date partition's small files merged into one, the
 * rows unchanged; readers take their files from the manifest's head, so a
 * reader sees the files before the commit or after it, never both; merged
 * files are retired for an hour, then removed by a later commit.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { renderSummary } from '../../cli/commands/ingest.js';
import { compact, HINT_FILES } from '../../ingest/compact.js';
import { RETIRED_FOR_MS } from '../../ingest/dataset.js';
import { ingest, type IngestOptions } from '../../ingest/ingest.js';
import { loadManifest, MANIFEST, type ManifestHead } from '../../ingest/manifest.js';
import { datasetReadError, openDataset } from '../../query/dataset.js';
import { generateAccessLogLines } from '../../scripts/gen-access-logs.js';
import { digest, tempDir } from '../helpers/dataset.js';

let tmp: { dir: string; cleanup: () => void };
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

const DAY = Date.UTC(2025, 2, 10);
const data = (): string => join(tmp.dir, 'data');
const opts = (over: Partial<IngestOptions> = {}): IngestOptions => ({ data: data(), format: 'auto', force: false, strict: false, ...over });
/** `n` access-log lines, all of 2025-03-10. */
const lines = (n: number, seed: number): string => [...generateAccessLogLines({ lines: n, seed, quirks: 0, start: DAY, days: 0.5 })].join('\n') + '\n';
const head = (dir = data()): ManifestHead => JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8')) as ManifestHead;
const onDisk = (dir = data(), table = 'access_log'): string[] =>
  readdirSync(join(dir, table), { recursive: true }).map(String).filter((f) => f.endsWith('.parquet')).map((f) => join(table, f)).sort();

/** `n` sources ingested one run each (so `n` small files in one partition); returns their paths. */
async function ingestEach(n: number, seed = 1): Promise<string[]> {
  const logs = join(tmp.dir, 'logs');
  mkdirSync(logs, { recursive: true });
  const paths: string[] = [];
  for (let i = 0; i < n; i++) {
    const p = join(logs, `log-${seed}-${i}`);
    writeFileSync(p, lines(20, seed * 100 + i));
    await ingest([p], opts());
    paths.push(p);
  }
  return paths;
}

async function count(dir = data(), sql = 'SELECT count(*)::INTEGER FROM access_log'): Promise<number> {
  const ds = await openDataset(dir);
  try {
    return (await ds.conn.runAndReadAll(sql)).getRows()[0]?.[0] as number;
  } finally {
    ds.close();
  }
}

describe('compact', () => {
  it("merges a partition's small files into one: the same rows, the sources' entries naming it, the merged files retired", async () => {
    const sources = await ingestEach(5);
    const before = await digest(data());
    expect(head().files).toHaveLength(5);
    const s = await compact({ data: data() });
    expect(s.merges).toHaveLength(1);
    const [m] = s.merges as [(typeof s.merges)[number]];
    expect(m).toMatchObject({ partition: join('access_log', 'date=2025-03-10'), rows: 100 });
    expect(m.files).toHaveLength(5);
    expect(await digest(data())).toEqual(before);
    const h = head();
    expect(h.version).toBe(3);
    expect(h.files).toEqual([m.into]);
    expect(h.retired?.map((r) => r.file).sort()).toEqual([...m.files].sort());
    // Retired files stay on disk for readers that opened the dataset before; no reader counts them.
    expect(onDisk()).toEqual([...m.files, m.into].sort());
    const entries = (await loadManifest(data())).sources;
    for (const p of sources) expect(entries[p]?.files).toEqual([m.into]);
    // A re-run knows every source; compacting again finds nothing to merge.
    expect((await ingest([join(tmp.dir, 'logs')], opts())).passed).toHaveLength(5);
    expect((await compact({ data: data() })).merges).toEqual([]);
  });

  it('keeps a reader that opened the dataset before on the files it opened, and a refresh reads the merged file: never a row twice', async () => {
    await ingestEach(3);
    const n = await count();
    const ds = await openDataset(data());
    try {
      const q = async (): Promise<number> => (await ds.conn.runAndReadAll('SELECT count(*)::INTEGER FROM access_log')).getRows()[0]?.[0] as number;
      expect(await q()).toBe(n);
      await compact({ data: data() });
      // Old and merged files are both on disk now: a glob of the folders would count every row twice.
      expect(onDisk()).toHaveLength(4);
      expect(await q()).toBe(n);
      await ds.refresh();
      expect(ds.files.get('access_log')?.map((f) => f.slice(data().length + 1))).toEqual(head().files);
      expect(await q()).toBe(n);
    } finally {
      ds.close();
    }
    expect(await count()).toBe(n);
  });

  it('replaces a changed source inside a merged file, keeping the rows of the sources merged with it', async () => {
    const sources = await ingestEach(4);
    await compact({ data: data() });
    const changed = sources[1] as string;
    writeFileSync(changed, lines(7, 999));
    const s = await ingest([changed], opts());
    expect(s.replaced).toEqual([changed]);
    expect(await count()).toBe(3 * 20 + 7);
    expect(await count(data(), `SELECT count(*)::INTEGER FROM access_log WHERE source_file = '${changed}'`)).toBe(7);
  });

  it('never merges the rows of two sources of one name (stdin twice): replacing one keeps the other\'s rows', async () => {
    // Rows carry a source's name, not its key: in one file, a replacement could not tell the two apart.
    const [a, b] = [lines(20, 11), lines(20, 12)];
    await ingest(['-'], opts({ stdin: Readable.from([a]) }));
    await ingest(['-'], opts({ stdin: Readable.from([b]) }));
    await ingestEach(2);
    const s = await compact({ data: data() });
    expect(s.merges.flatMap((m) => m.files)).toHaveLength(3);
    expect(s.keptApart).toEqual({ names: 1, kinds: 0 });
    expect(await count()).toBe(80);
    await ingest(['-'], opts({ stdin: Readable.from([a]), force: true }));
    expect(await count()).toBe(80);
    expect(await count(data(), "SELECT count(*)::INTEGER FROM access_log WHERE source_file = '-'")).toBe(40);
  });

  it('never merges a file no source names (taken in by a first ingest) with sources\' files: replacing a source keeps its rows', async () => {
    // A Parquet file in the folder before the dataset had a manifest: the first ingest takes it in, no source entry names it.
    const other = join(tmp.dir, 'other');
    const log = join(tmp.dir, 'foreign.log');
    writeFileSync(log, lines(20, 5));
    await ingest([log], opts({ data: other }));
    const [foreign] = head(other).files as [string];
    mkdirSync(join(data(), 'access_log', 'date=2025-03-10'), { recursive: true });
    writeFileSync(join(data(), foreign), readFileSync(join(other, foreign)));
    const empty = join(tmp.dir, 'empty.log');
    writeFileSync(empty, '');
    await ingest([empty], opts());
    expect(head().files).toEqual([foreign]);
    const [source] = await ingestEach(1);
    expect(await count()).toBe(40);
    await compact({ data: data() });
    writeFileSync(source as string, lines(7, 999));
    await ingest([source as string], opts());
    expect(await count()).toBe(20 + 7);
    expect(await count(data(), `SELECT count(*)::INTEGER FROM access_log WHERE source_file = '${log}'`)).toBe(20);
  });

  it('keeps CloudTrail management events and data events in files of their own', async () => {
    const logs = join(tmp.dir, 'trail');
    mkdirSync(logs);
    for (let i = 0; i < 3; i++) {
      const rec = (name: string, mgmt: boolean, j: number): object => ({
        eventVersion: '1.08', eventTime: `2025-03-10T0${i}:00:0${j}Z`, eventSource: 's3.amazonaws.com', eventName: name, awsRegion: 'us-east-1',
        eventID: `e-${i}-${j}`, requestID: `r-${i}-${j}`, eventType: 'AwsApiCall', managementEvent: mgmt, eventCategory: mgmt ? 'Management' : 'Data',
        userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::111122223333:user/a', accountId: '111122223333' },
        requestParameters: { bucketName: 'b', ...(mgmt ? {} : { key: `k${j}` }) },
      });
      const p = join(logs, `t${i}.json`);
      writeFileSync(p, JSON.stringify({ Records: [rec('GetObject', false, 1), rec('PutBucketPolicy', true, 2)] }));
      await ingest([p], opts());
    }
    expect(head().files?.filter((f) => f.startsWith('cloudtrail'))).toHaveLength(6);
    const before = await digest(data(), 'cloudtrail');
    const s = await compact({ data: data() });
    expect(s.merges).toHaveLength(2);
    expect(await digest(data(), 'cloudtrail')).toEqual(before);
    const ds = await openDataset(data());
    try {
      const r = await ds.conn.runAndReadAll(`SELECT filename, bool_and(management_event), bool_or(management_event) FROM read_parquet(${JSON.stringify(head().files?.map((f) => join(data(), f))).replace(/"/g, "'")}, filename = true) GROUP BY ALL ORDER BY 2`);
      expect(r.getRows().map((x) => [x[1], x[2]])).toEqual([[false, false], [true, true]]);
    } finally {
      ds.close();
    }
  });

  it('says what it would merge in a dry run, and changes nothing', async () => {
    await ingestEach(3);
    const h = readFileSync(join(data(), MANIFEST), 'utf8');
    const files = onDisk();
    const s = await compact({ data: data(), dryRun: true });
    expect(s.merges.map((m) => [m.files.length, m.rows, m.into])).toEqual([[3, 60, '']]);
    expect(s.run).toBeNull();
    expect(readFileSync(join(data(), MANIFEST), 'utf8')).toBe(h);
    expect(onDisk()).toEqual(files);
    expect(readdirSync(data())).not.toContain('_staging');
  });

  it('merges only the partition --table and --date name', async () => {
    const logs = join(tmp.dir, 'logs');
    mkdirSync(logs);
    for (let i = 0; i < 4; i++) {
      const p = join(logs, `x${i}`);
      // Two days: each run writes a file into each.
      writeFileSync(p, [...generateAccessLogLines({ lines: 10, seed: i + 1, quirks: 0, start: DAY, days: 2 })].join('\n') + '\n');
      await ingest([p], opts());
    }
    expect((await compact({ data: data(), table: 'cloudtrail' })).merges).toEqual([]);
    const s = await compact({ data: data(), date: '2025-03-11' });
    expect(s.merges.map((m) => m.partition)).toEqual([join('access_log', 'date=2025-03-11')]);
    expect(head().files?.filter((f) => f.includes('date=2025-03-10'))).toHaveLength(4);
  });

  it('removes retired files at a later commit once their hour is up, and not before', async () => {
    await ingestEach(3);
    await compact({ data: data() });
    const retired = head().retired?.map((r) => r.file) ?? [];
    expect(retired).toHaveLength(3);
    // A commit within the hour keeps them.
    await ingestEach(1, 2);
    expect(head().retired?.map((r) => r.file)).toEqual(retired);
    for (const f of retired) expect(existsSync(join(data(), f))).toBe(true);
    // An hour later (the head's clock set back), the next commit removes them.
    const h = head();
    const old = new Date(Date.now() - RETIRED_FOR_MS - 1000).toISOString();
    writeFileSync(join(data(), MANIFEST), JSON.stringify({ ...h, retired: h.retired?.map((r) => ({ ...r, since: old })) }));
    const s = await compact({ data: data() });
    expect(s.removed).toBe(3);
    expect(head().retired?.map((r) => r.file)).not.toContain(retired[0]);
    for (const f of retired) expect(existsSync(join(data(), f))).toBe(false);
    expect(await count()).toBe(4 * 20);
  });

  it('never removes a file the head lists live, even when it is listed retired too; a retired time far ahead restarts its hour', async () => {
    await ingestEach(2);
    const h = head();
    const [f1, f2] = h.files as [string, string];
    const old = new Date(Date.now() - RETIRED_FOR_MS - 1000).toISOString();
    const ahead = new Date(Date.now() + 50 * RETIRED_FOR_MS).toISOString();
    writeFileSync(join(data(), MANIFEST), JSON.stringify({ ...h, retired: [{ file: f1, since: old }, { file: f1, since: old }, { file: 'access_log/date=2025-03-10/x.parquet', since: ahead }] }));
    await ingestEach(1, 2);
    expect(head().files).toEqual(expect.arrayContaining([f1, f2]));
    expect(existsSync(join(data(), f1))).toBe(true);
    expect(await count()).toBe(60);
    const [x] = head().retired ?? [];
    expect(x?.file).toBe('access_log/date=2025-03-10/x.parquet');
    expect(Date.parse(x?.since ?? '')).toBeLessThanOrEqual(Date.now());
  });

  it('refuses a manifest of a newer version naming it, without saying to move it aside', async () => {
    await ingestEach(1);
    writeFileSync(join(data(), MANIFEST), JSON.stringify({ ...head(), version: 4 }));
    for (const run of [() => openDataset(data()), () => compact({ data: data() }), () => ingestEach(1, 2)]) {
      const err = await run().then(() => null, (e: unknown) => e as Error);
      expect(err?.message).toContain('manifest version 4, written by a newer s3sift than this one');
      expect(err?.message).not.toContain('aside to start');
    }
  });

  it('reads a dataset whose manifest names no files (version 2) from its folders, and names them from then on', async () => {
    await ingestEach(3);
    const n = await count();
    const h = head();
    writeFileSync(join(data(), MANIFEST), JSON.stringify({ version: 2, sources: h.sources, run: h.run, segments: h.segments, next: h.next }));
    expect(await count()).toBe(n);
    const s = await compact({ data: data() });
    expect(s.merges).toHaveLength(1);
    expect(head()).toMatchObject({ version: 3, files: [s.merges[0]?.into] });
    expect(await count()).toBe(n);
  });

  it('refuses a manifest naming a file outside the tables\' date folders: never read, never removed', async () => {
    await ingestEach(2);
    const h = head();
    const outside = join(tmp.dir, 'outside.parquet');
    writeFileSync(outside, 'not ours');
    const [first] = h.files as [string];
    const seg = h.segments[0]?.entries as string;
    const old = new Date(Date.now() - RETIRED_FOR_MS - 1000).toISOString();
    // A file read from outside the dataset.
    writeFileSync(join(data(), MANIFEST), JSON.stringify({ ...h, files: [...(h.files ?? []), 'access_log/../../outside.parquet'] }));
    await expect(openDataset(data())).rejects.toThrow(/not a valid s3sift manifest \(files: "access_log\/\.\.\/\.\.\/outside\.parquet" is not a table's Parquet file/);
    // A retired "file" that is the manifest's own segment, or outside: a commit would remove it.
    for (const file of [seg, 'access_log/../../outside.parquet', `${first}\u001b[2J`]) {
      writeFileSync(join(data(), MANIFEST), JSON.stringify({ ...h, retired: [{ file, since: old }] }));
      await expect(compact({ data: data() })).rejects.toThrow(/not a valid s3sift manifest \(retired: /);
    }
    expect(existsSync(join(data(), seg))).toBe(true);
    expect(existsSync(outside)).toBe(true);
    const err = await compact({ data: data() }).then(() => null, (e: unknown) => e as Error);
    expect(err?.message).toContain('\\u001b[2J');
    expect(err?.message).not.toContain('\u001b');
  });

  it('a refresh asked for while another is reading an older head reads the latest commit, not the one the other read', async () => {
    await ingestEach(3);
    const h = head();
    const [f1, f2, f3] = h.files as [string, string, string];
    const put = (files: string[]): string => JSON.stringify({ ...h, files });
    writeFileSync(join(data(), MANIFEST), put([f1]));
    const ds = await openDataset(data());
    try {
      // The first refresh finds a head it reads slowly (a FIFO: its read waits for our write).
      const fifo = join(data(), 'head.fifo');
      expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
      renameSync(fifo, join(data(), MANIFEST));
      const first = ds.refresh();
      let fd = -1;
      for (let i = 0; fd < 0 && i < 500; i++) {
        try {
          fd = openSync(join(data(), MANIFEST), constants.O_WRONLY | constants.O_NONBLOCK);
        } catch {
          await new Promise((r) => setTimeout(r, 10));
        }
      }
      expect(fd).toBeGreaterThanOrEqual(0);
      // Meanwhile a commit writes the latest head; a second refresh is asked for, then the first read ends (an older head).
      writeFileSync(join(data(), 'next'), put([f1, f2, f3]));
      renameSync(join(data(), 'next'), join(data(), MANIFEST));
      const second = ds.refresh();
      writeSync(fd, put([f1, f2]));
      closeSync(fd);
      await Promise.all([first, second]);
      expect((await ds.conn.runAndReadAll('SELECT count(*)::INTEGER FROM access_log')).getRows()[0]?.[0]).toBe(60);
    } finally {
      ds.close();
    }
  });

  it('keeps a reader that opened a version 2 dataset on the files it found: a compact that upgrades it adds no row twice', async () => {
    await ingestEach(3);
    const h = head();
    writeFileSync(join(data(), MANIFEST), JSON.stringify({ version: 2, sources: h.sources, run: h.run, segments: h.segments, next: h.next }));
    const ds = await openDataset(data());
    try {
      await compact({ data: data() });
      // The merged-away files are retired, still on disk beside the merged file: a glob of the folders would read both.
      expect(onDisk()).toHaveLength(4);
      expect((await ds.conn.runAndReadAll('SELECT count(*)::INTEGER FROM access_log')).getRows()[0]?.[0]).toBe(60);
      await ds.refresh();
      expect((await ds.conn.runAndReadAll('SELECT count(*)::INTEGER FROM access_log')).getRows()[0]?.[0]).toBe(60);
    } finally {
      ds.close();
    }
  });

  it('compacts a version 1 dataset: its entries name the merged file, and a changed source is replaced in it', async () => {
    const sources = await ingestEach(3);
    const v1 = { version: 1, sources: (await loadManifest(data())).sources };
    writeFileSync(join(data(), MANIFEST), JSON.stringify(v1));
    const s = await compact({ data: data() });
    const [m] = s.merges as [(typeof s.merges)[number]];
    expect(m.files).toHaveLength(3);
    expect(head()).toMatchObject({ version: 3, files: [m.into] });
    const entries = (await loadManifest(data())).sources;
    for (const p of sources) expect(entries[p]?.files).toEqual([m.into]);
    writeFileSync(sources[2] as string, lines(7, 999));
    await ingest([sources[2] as string], opts());
    expect(await count()).toBe(47);
  });

  it('stops a reader whose files a later commit removed, saying the dataset changed under it (never a short answer)', async () => {
    await ingestEach(3);
    const ds = await openDataset(data());
    try {
      await compact({ data: data() });
      // Past the hour: the next commit removes the merged-away files the reader still names.
      const h = head();
      const old = new Date(Date.now() - RETIRED_FOR_MS - 1000).toISOString();
      writeFileSync(join(data(), MANIFEST), JSON.stringify({ ...h, retired: h.retired?.map((r) => ({ ...r, since: old })) }));
      await ingestEach(1, 3);
      const err = await ds.conn.runAndReadAll('SELECT count(*) FROM access_log').then(() => null, (e: unknown) => e);
      expect(err).not.toBeNull();
      const named = await datasetReadError(ds, err);
      expect(named?.message).toContain(`${ds.dir}: the dataset changed while this read it: a commit since it began removed files it was reading`);
      expect(named?.message).toContain('run it again');
    } finally {
      ds.close();
    }
  });

  it('upgrading a version 2 dataset keeps the files of a date folder that is a link, as its readers read them', async () => {
    await ingestEach(3);
    const n = await count();
    const h = head();
    writeFileSync(join(data(), MANIFEST), JSON.stringify({ version: 2, sources: h.sources, run: h.run, segments: h.segments, next: h.next }));
    const day = join(data(), 'access_log', 'date=2025-03-10');
    renameSync(day, join(tmp.dir, 'day'));
    symlinkSync(join(tmp.dir, 'day'), day);
    expect(await count()).toBe(n);
    await compact({ data: data() });
    expect(head().files).toHaveLength(1);
    expect(await count()).toBe(n);
  });

  it('replaced files are retired too: a reader that opened before a replacing ingest keeps its rows', async () => {
    const [first] = await ingestEach(2);
    const ds = await openDataset(data());
    try {
      writeFileSync(first as string, lines(5, 77));
      await ingest([first as string], opts());
      expect((await ds.conn.runAndReadAll('SELECT count(*)::INTEGER FROM access_log')).getRows()[0]?.[0]).toBe(40);
      await ds.refresh();
      expect((await ds.conn.runAndReadAll('SELECT count(*)::INTEGER FROM access_log')).getRows()[0]?.[0]).toBe(25);
    } finally {
      ds.close();
    }
  });
});

describe('ingest suggests compacting', () => {
  it(`when a partition it wrote to holds ${HINT_FILES} small files or more`, async () => {
    await ingestEach(HINT_FILES - 1);
    const logs = join(tmp.dir, 'last');
    mkdirSync(logs);
    writeFileSync(join(logs, 'a'), lines(20, 5));
    const s = await ingest([join(logs, 'a')], opts());
    expect(s.compactable).toEqual([{ partition: join('access_log', 'date=2025-03-10'), files: HINT_FILES }]);
    expect(renderSummary(s, data())).toContain(`note: ${join('access_log', 'date=2025-03-10')} holds ${HINT_FILES} small Parquet files: \`s3sift compact --data ${data()}\` merges them`);
    await compact({ data: data() });
    writeFileSync(join(logs, 'b'), lines(20, 6));
    expect((await ingest([join(logs, 'b')], opts())).compactable).toEqual([]);
  });
});

describe('s3sift compact', () => {
  const cli = (args: string[]): { code: number | null; stdout: string; stderr: string } => {
    const r = spawnSync(process.execPath, ['bin/s3sift', ...args], { encoding: 'utf8' });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it('says what it merged, and that nothing needed merging the second time', async () => {
    await ingestEach(3);
    const r = cli(['compact', '--data', data()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`compacted ${data()}: 3 files into 1 in 1 date partition(s)`);
    expect(r.stderr).toMatch(/^merged access_log\/date=2025-03-10: 3 files \(.* MB, 60 rows\) into access_log\/date=2025-03-10\/.*-c0\.parquet/);
    const again = cli(['compact', '--data', data()]);
    expect([again.code, again.stdout.trim()]).toEqual([0, `nothing to compact in ${data()}: no date partition holds two small Parquet files that can be merged`]);
  });

  it('says why small files were left as they are: stdin sources, whose rows carry one name, are never merged together', async () => {
    for (const seed of [11, 12, 13]) await ingest(['-'], opts({ stdin: Readable.from([lines(20, seed)]) }));
    const r = cli(['compact', '--data', data()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`nothing to compact in ${data()}: no date partition holds two small Parquet files that can be merged`);
    expect(r.stdout).toContain('3 small file(s) left as they are, in partitions with other small files:');
    expect(r.stdout).toContain("3 hold rows of a source whose name other files' rows carry for another source (stdin `-`, or one");
    expect(head().files).toHaveLength(3);
  });

  it('says why a CloudTrail partition\'s management-events file and data-events file were left as they are', async () => {
    const logs = join(tmp.dir, 'trail');
    mkdirSync(logs);
    const rec = (name: string, mgmt: boolean, j: number): object => ({
      eventVersion: '1.08', eventTime: `2025-03-10T00:00:0${j}Z`, eventSource: 's3.amazonaws.com', eventName: name, awsRegion: 'us-east-1',
      eventID: `e-${j}`, requestID: `r-${j}`, eventType: 'AwsApiCall', managementEvent: mgmt, eventCategory: mgmt ? 'Management' : 'Data',
      userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::111122223333:user/a', accountId: '111122223333' },
      requestParameters: { bucketName: 'b', ...(mgmt ? {} : { key: `k${j}` }) },
    });
    const p = join(logs, 't.json');
    writeFileSync(p, JSON.stringify({ Records: [rec('GetObject', false, 1), rec('PutBucketPolicy', true, 2)] }));
    await ingest([p], opts());
    const r = cli(['compact', '--data', data(), '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('2 small file(s) left as they are, in partitions with other small files:');
    // Not "another s3sift version wrote them": one version wrote both, one file for each kind of event.
    expect(r.stdout).toContain('2 are the only small file of their kind in their partition: CloudTrail management events and data');
    expect(r.stdout).toContain('events are kept in files apart, and so are files of other columns (another s3sift version wrote them) and files no source names');
  });

  it('names a damaged Parquet file it meets, exit 2, and changes nothing', async () => {
    await ingestEach(3);
    const [, second] = head().files as [string, string];
    const h = readFileSync(join(data(), MANIFEST), 'utf8');
    writeFileSync(join(data(), second), 'PAR1 not a Parquet file');
    const r = cli(['compact', '--data', data()]);
    expect([r.code, r.stderr]).toEqual([2, expect.stringContaining(join(data(), second))]);
    expect(readFileSync(join(data(), MANIFEST), 'utf8')).toBe(h);
    expect(existsSync(join(data(), '_staging'))).toBe(false);
  });

  it('refuses a bad --date, an argument, or a folder that is no dataset: exit 2', () => {
    for (const [args, msg] of [
      [['compact', '--date', '2025-3-1', '--data', data()], '--date takes a day as YYYY-MM-DD (got 2025-3-1)'],
      [['compact', 'extra', '--data', data()], 'compact takes no arguments (got extra)'],
      [['compact', '--table', 'nope'], '--table'],
      [['compact', '--data', join(tmp.dir, 'none')], 'no such folder, so no s3sift dataset here'],
    ] as const) {
      const r = cli([...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toContain(msg);
    }
  });
});
