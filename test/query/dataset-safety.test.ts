/**
 * Never silently wrong about the dataset (issue 18): a folder that holds no
 * dataset, or a table that cannot be read, is an error naming it (exit 2),
 * never "0 findings"; an empty dataset that ingest made is one.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { DatasetError } from '../../common/errors.js';
import { ingest } from '../../ingest/ingest.js';
import { openDataset } from '../../query/dataset.js';
import { createApp } from '../../server/app.js';
import { Sandbox, SandboxError } from '../../server/sandbox.js';
import { SAMPLES, tempDir } from '../helpers/dataset.js';

const BIN = new URL('../../bin/s3sift', import.meta.url).pathname;

function cli(args: string[], opts: { uid?: number; gid?: number } = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', ...opts });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let tmp: { dir: string; cleanup: () => void };
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => {
  // A test may have taken a folder's permissions away.
  spawnSync('chmod', ['-R', 'u+rwX', tmp.dir]);
  tmp.cleanup();
});

const accessLogs = new URL('access-logs/', SAMPLES).pathname;

async function sampleDataset(): Promise<string> {
  const data = join(tmp.dir, 'data');
  await ingest([accessLogs], { data, format: 'auto', force: false, strict: false });
  return data;
}

/** The Parquet files of a table, as paths. */
function parquetFiles(data: string, table = 'access_log'): string[] {
  const root = join(data, table);
  return readdirSync(root, { recursive: true }).map(String).filter((f) => f.endsWith('.parquet')).map((f) => join(root, f)).sort();
}

/** Overwrite the first column chunk of a Parquet file (page header and data), keeping its footer: found by its metadata. */
async function damageFirstColumn(file: string): Promise<void> {
  const inst = await DuckDBInstance.create(':memory:');
  const conn = await inst.connect();
  let at: number;
  let size: number;
  try {
    const meta = (await conn.runAndReadAll(`SELECT data_page_offset, total_compressed_size FROM parquet_metadata('${file}') ORDER BY data_page_offset LIMIT 1`)).getRows()[0] as [bigint, bigint];
    [at, size] = meta.map(Number) as [number, number];
  } finally {
    conn.closeSync();
    inst.closeSync();
  }
  const bytes = readFileSync(file);
  bytes.fill(0xff, at, at + size);
  writeFileSync(file, bytes);
}

async function rows(data: string): Promise<number> {
  const ds = await openDataset(data);
  try {
    return Number((await ds.conn.runAndReadAll('SELECT count(*) FROM access_log')).getRows()[0]?.[0]);
  } finally {
    ds.close();
  }
}

describe('a folder that holds no dataset', () => {
  it('is refused naming the folder, whether it does not exist or has no manifest', async () => {
    const missing = join(tmp.dir, 'nope');
    await expect(openDataset(missing)).rejects.toThrow(DatasetError);
    await expect(openDataset(missing)).rejects.toThrow(`${missing}: no such folder, so no s3sift dataset here; ingest logs first with \`s3sift ingest LOGS --data ${missing}\``);
    const empty = join(tmp.dir, 'empty');
    mkdirSync(empty);
    await expect(openDataset(empty)).rejects.toThrow(`${empty}: no s3sift dataset here (no _manifest.json)`);
    // Parquet files alone do not make a dataset: every version wrote the manifest with them.
    const data = await sampleDataset();
    rmSync(join(data, '_manifest.json'));
    await expect(openDataset(data)).rejects.toThrow('no s3sift dataset here (no _manifest.json)');
  });

  it('opens as empty tables only when asked to (planning a query, never an answer)', async () => {
    const ds = await openDataset(tmp.dir, { noDataset: true });
    try {
      expect((await ds.conn.runAndReadAll('SELECT count(*) FROM s3_requests')).getRows()[0]?.[0]).toBe(0n);
    } finally {
      ds.close();
    }
  });

  it('exits 2 from detect, query, posture, findings and serve, with the folder named', () => {
    const missing = join(tmp.dir, 'nonexistent');
    for (const args of [['detect', '--fail-on', 'low'], ['query', 'SELECT count(*) FROM access_log'], ['posture'], ['findings', 'list'], ['findings', 'ack', 'abcdef123456', '--reason', 'x'], ['serve', '--port', '0']]) {
      const r = cli([...args, '--data', missing]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toBe(`error: ${missing}: no such folder, so no s3sift dataset here; ingest logs first with \`s3sift ingest LOGS --data ${missing}\`, or check --data\n`);
      expect(r.stdout, args.join(' ')).toBe('');
    }
    mkdirSync(join(tmp.dir, 'typo'));
    const r = cli(['detect', '--data', join(tmp.dir, 'typo'), '--fail-on', 'low']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no s3sift dataset here (no _manifest.json)');
    expect(r.stdout).not.toContain('0 findings');
  });
});

describe('an empty dataset that ingest made', () => {
  it('has a manifest after an ingest of an empty folder or an empty file, and answers 0 findings, exit 0', async () => {
    const nothing = join(tmp.dir, 'nothing');
    mkdirSync(nothing);
    writeFileSync(join(tmp.dir, 'empty.log'), '');
    for (const [name, source] of [['a', nothing], ['b', join(tmp.dir, 'empty.log')]] as const) {
      const data = join(tmp.dir, name);
      const s = await ingest([source], { data, format: 'auto', force: false, strict: false });
      expect(s.rows).toBe(0);
      expect(JSON.parse(readFileSync(join(data, '_manifest.json'), 'utf8'))).toMatchObject({ version: 3, files: [], retired: [] });
      expect(await rows(data)).toBe(0);
      const r = cli(['detect', '--data', data, '--fail-on', 'low', '--format', 'json']);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ findings: [], summary: { findings: 0 } });
    }
  });

  it('is not made by an ingest --strict refused: that commits nothing', async () => {
    writeFileSync(join(tmp.dir, 'bad.log'), 'not a log line\n');
    const data = join(tmp.dir, 'strict');
    const s = await ingest([join(tmp.dir, 'bad.log')], { data, format: 'access-log', force: false, strict: true });
    expect(s.strictFailed).toBe(true);
    expect(existsSync(join(data, '_manifest.json'))).toBe(false);
  });
});

describe('a table that cannot be read', () => {
  it('is an error naming the file the manifest names when its table or date folder is not a folder (not an empty table)', async () => {
    const data = await sampleDataset();
    const [first] = parquetFiles(data) as [string];
    rmSync(join(data, 'access_log'), { recursive: true });
    writeFileSync(join(data, 'access_log'), 'x');
    await expect(openDataset(data)).rejects.toThrow(`${first}: cannot read (ENOTDIR`);
    rmSync(join(data, 'access_log'));
    mkdirSync(join(first, '..', '..'));
    writeFileSync(join(first, '..'), 'x');
    await expect(openDataset(data)).rejects.toThrow(`${first}: cannot read (ENOTDIR`);
  });

  it('is an error naming a Parquet file the manifest names that is gone, or a dangling link', async () => {
    const data = await sampleDataset();
    const [first] = parquetFiles(data) as [string];
    rmSync(first);
    await expect(openDataset(data)).rejects.toThrow(`${first}: named by the dataset's manifest, but missing`);
    symlinkSync(join(tmp.dir, 'gone.parquet'), first);
    await expect(openDataset(data)).rejects.toThrow(`${first}: named by the dataset's manifest, but missing`);
  });

  it('reads a dataset whose manifest names no files (version 2) through its date folders, with the same checks', async () => {
    const data = await sampleDataset();
    const head = JSON.parse(readFileSync(join(data, '_manifest.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(data, '_manifest.json'), JSON.stringify({ ...head, version: 2, files: undefined, retired: undefined }));
    const before = await rows(data);
    expect(before).toBeGreaterThan(0);
    const [first] = parquetFiles(data) as [string];
    const day = join(first, '..');
    const moved = join(tmp.dir, 'moved');
    cpSync(day, moved, { recursive: true });
    rmSync(day, { recursive: true });
    writeFileSync(day, 'x');
    await expect(openDataset(data)).rejects.toThrow(`${day}: not a folder`);
    rmSync(day);
    cpSync(moved, day, { recursive: true });
    expect(await rows(data)).toBe(before);
    symlinkSync(join(tmp.dir, 'gone.parquet'), join(day, 'a.parquet'));
    await expect(openDataset(data)).rejects.toThrow(`${join(day, 'a.parquet')}: cannot read (ENOENT`);
  });

  it('is an error naming the file when a Parquet file is truncated (its footer gone): CLI exit 2', async () => {
    const data = await sampleDataset();
    const [first] = parquetFiles(data) as [string];
    truncateSync(first, Math.floor(statSync(first).size / 2));
    await expect(openDataset(data)).rejects.toThrow(DatasetError);
    await expect(openDataset(data)).rejects.toThrow(`${join(data, 'access_log')}: cannot read the table's Parquet files`);
    await expect(openDataset(data)).rejects.toThrow(first);
    for (const args of [['detect', '--fail-on', 'low'], ['query', 'SELECT count(*) FROM access_log']]) {
      const r = cli([...args, '--data', data]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(first);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('fails the query and detect, naming the file, when a data page is damaged (the footer intact): never fewer rows', async () => {
    const data = await sampleDataset();
    const [first] = parquetFiles(data) as [string];
    await damageFirstColumn(first);
    const q = cli(['query', 'SELECT count(bucket_owner) AS n, max(bucket_owner) AS m FROM access_log', '--data', data, '--format', 'json']);
    expect(q.code).toBe(2);
    expect(q.stdout).toBe('');
    expect(q.stderr).toMatch(new RegExp(`^error: ${first.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot read this Parquet file \\(.+\\); it may be damaged`));
    const d = cli(['detect', '--data', data, '--fail-on', 'low']);
    expect(d.code).toBe(2);
    expect(d.stderr).toContain(first);
    expect(d.stdout).not.toContain('0 findings');
    // SQL the user got wrong is still said as such, not blamed on a file.
    const typo = cli(['query', 'SELECT nosuchcol FROM access_log', '--data', data]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/^error: Binder Error/);
  });

  it('posture names a damaged CloudTrail file it meets: exit 2, not an internal error', async () => {
    const data = join(tmp.dir, 'trail');
    await ingest([new URL('cloudtrail/', SAMPLES).pathname], { data, format: 'auto', force: false, strict: false });
    const files = parquetFiles(data, 'cloudtrail');
    for (const f of files) await damageFirstColumn(f);
    const r = cli(['posture', '--data', data]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: \S+\.parquet: cannot read this Parquet file/);
    expect(files.some((f) => r.stderr.includes(f))).toBe(true);
  });

  it('serve meets a damaged file: it does not start (its findings name the file), and a query that reads it is a 400 with the message, not rows', async () => {
    const data = await sampleDataset();
    const [first] = parquetFiles(data) as [string];
    await damageFirstColumn(first);
    await expect(createApp({ data })).rejects.toThrow(`${first}: cannot read this Parquet file`);
    const sb = await Sandbox.open(data, { timeoutMs: 10_000, rowCap: 100, byteCap: 1 << 20, maxConcurrent: 1 });
    try {
      const err = await sb.query('SELECT count(bucket_owner) AS n, max(bucket_owner) AS m FROM access_log').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SandboxError);
      expect((err as SandboxError).status).toBe(400);
      expect((err as Error).message).toMatch(/Error/);
    } finally {
      sb.close();
    }
  });

  it('serve refuses to start on it, with the message', async () => {
    const data = await sampleDataset();
    const [first] = parquetFiles(data) as [string];
    truncateSync(first, 10);
    const r = cli(['serve', '--data', data, '--port', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(first);
  });

  // Permissions stop reads only for a user other than root: as root, the CLI runs as nobody.
  it('is an error naming a table folder, a date folder or a file the user may not read (EACCES): exit 2', async () => {
    const data = await sampleDataset();
    const asOther = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    // The dataset readable by that user, then one part of it not.
    spawnSync('chmod', ['-R', 'a+rX', tmp.dir]);
    const [first] = parquetFiles(data) as [string];
    const day = join(first, '..');
    const cases: Array<[string, number]> = [[join(data, 'access_log'), 0o000], [day, 0o000], [first, 0o000]];
    for (const [path, mode] of cases) {
      const before = statSync(path).mode & 0o777;
      chmodSync(path, mode);
      try {
        const r = cli(['detect', '--data', data, '--fail-on', 'low'], asOther);
        expect(r.code, path).toBe(2);
        expect(r.stderr, path).toContain(path);
        expect(r.stdout, path).not.toContain('0 findings');
      } finally {
        chmodSync(path, before);
      }
    }
    // And readable again, it is a dataset with rows.
    const ok = cli(['query', 'SELECT count(*) AS n FROM access_log', '--data', data, '--format', 'csv'], asOther);
    expect(ok.code).toBe(0);
    expect(Number(ok.stdout.split('\n')[1])).toBe(await rows(data));
  });
});
