/**
 * What user SQL may read: the tables, and nothing else of the dataset folder
 * (the manifest holds absolute source paths), the working directory, DuckDB's
 * temp folder or the rest of the disk, however the path is spelled.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDataset } from '../../query/dataset.js';
import { lockToTables, prepareReadOnlySelect, Sandbox, SandboxError } from '../../server/sandbox.js';
import { samplesDataset } from './samples.js';

let tmp: { dir: string; data: string; cleanup: () => void };
let data: string;
let sb: Sandbox;
beforeAll(async () => {
  tmp = await samplesDataset();
  data = tmp.data;
  // A folder beside the dataset whose name starts like a table's, and one like DuckDB's temp folder.
  mkdirSync(join(data, 'access_log_copy'), { recursive: true });
  writeFileSync(join(data, 'access_log_copy', 'x.csv'), 'secret\n1\n');
  mkdirSync(join(data, '.tmp'), { recursive: true });
  writeFileSync(join(data, '.tmp', 'duckdb_temp_storage-0.tmp'), 'spilled');
  sb = await Sandbox.open(data, { timeoutMs: 10_000, rowCap: 100, byteCap: 1 << 20, maxConcurrent: 1 });
}, 60_000);
afterAll(() => {
  sb?.close();
  tmp?.cleanup();
});

const refused = async (sql: string): Promise<string> => {
  const err = await sb.query(sql).then(() => null, (e: unknown) => e);
  expect(err, sql).toBeInstanceOf(SandboxError);
  expect((err as SandboxError).status).toBe(400);
  return (err as SandboxError).message;
};

describe('file access from user SQL', () => {
  const paths = (): Array<[string, string]> => [
    ['the manifest', join(data, '_manifest.json')],
    ['the manifest through ..', join(data, 'access_log', '..', '_manifest.json')],
    ['the manifest through ./..', `${join(data, 'access_log')}/./../_manifest.json`],
    ['the rejects', join(data, 'rejects')],
    ['a sibling folder of a table', join(data, 'access_log_copy', 'x.csv')],
    ['a temp folder in the dataset', join(data, '.tmp', 'duckdb_temp_storage-0.tmp')],
    ["DuckDB's default temp folder", '.tmp/duckdb_temp_storage-0.tmp'],
    ['the working directory', 'package.json'],
    ['a relative climb', '../../../../../../etc/passwd'],
    ['the disk', '/etc/passwd'],
  ];
  const readers = ['read_text', 'read_blob', 'read_csv', 'read_csv_auto', 'read_json', 'read_json_auto', 'read_parquet', 'glob', 'parquet_metadata'];

  it('refuses every reader on every path outside the tables (Permission Error)', async () => {
    for (const [what, p] of paths()) {
      for (const fn of readers) {
        expect(`${fn} ${what}: ${await refused(`SELECT * FROM ${fn}('${p.replaceAll("'", "''")}')`)}`).toMatch(/Permission Error/);
      }
    }
  });

  it('refuses a glob over the dataset folder, and the temp folder is switched off', async () => {
    expect(await refused(`SELECT * FROM glob('${data}/*')`)).toMatch(/Permission Error/);
    expect(await refused(`SELECT * FROM glob('${data}/**')`)).toMatch(/Permission Error/);
    expect(await refused("SELECT * FROM glob('.tmp/*')")).toMatch(/Permission Error/);
    expect((await sb.query("SELECT current_setting('temp_directory') AS t")).rows).toEqual([{ t: '' }]);
  });

  it('reads the tables, and their own files', async () => {
    expect((await sb.query('SELECT count(*) AS n FROM access_log')).rows).toEqual([{ n: 216 }]);
    const own = await sb.query(`SELECT count(*) AS n FROM read_parquet('${join(data, 'cloudtrail')}/*/*.parquet')`);
    expect(own.rows).toEqual([{ n: 164 }]);
  });
});

describe('prepareReadOnlySelect and lockToTables (for SQL from other places, e.g. detection files)', () => {
  it('prepares one SELECT, and refuses anything else with a SandboxError that says why', async () => {
    const ds = await openDataset(data);
    try {
      await lockToTables(ds.conn, data);
      const p = await prepareReadOnlySelect(ds.conn, 'SELECT count(*) AS n FROM s3_requests WHERE bucket = $bucket');
      try {
        p.bind({ bucket: 'prod-data' });
        expect((await p.runAndReadAll()).getRows()).toEqual([[294n]]);
      } finally {
        p.destroySync();
      }
      for (const [sql, msg] of [
        [`COPY (SELECT 1) TO '${join(tmp.dir, 'out.csv')}'`, /only a read-only SELECT/],
        ['SELECT 1; SELECT 2', /one statement per request, got 2/],
        ["SET enable_external_access = true", /only a read-only SELECT/],
        ["CREATE TABLE t AS SELECT 1", /only a read-only SELECT/],
      ] as const) {
        await expect(prepareReadOnlySelect(ds.conn, sql)).rejects.toThrow(msg);
      }
      // The lock holds whatever runs on the instance afterwards.
      await expect(ds.conn.run(`COPY (SELECT 1) TO '${join(tmp.dir, 'out.csv')}'`)).rejects.toThrow(/Permission Error|disabled/);
      await expect(ds.conn.run('SET enable_external_access = true')).rejects.toThrow(/lock|locked/i);
      await expect(ds.conn.run(`SELECT * FROM read_text('${join(data, '_manifest.json')}')`)).rejects.toThrow(/Permission Error/);
    } finally {
      ds.close();
    }
  });
});

describe('an answer is whole or refused, never cut short as if whole', () => {
  it('a query that fails part way is a 400, not the rows before the failure (DuckDB ends a streaming result that fails as if complete)', async () => {
    const big = await Sandbox.open(data, { timeoutMs: 30_000, rowCap: 1_000_000, byteCap: 1 << 30, maxConcurrent: 1 });
    try {
      const err = await big.query("SELECT CASE WHEN i = 150000 THEN error('boom') ELSE i END AS x FROM range(300000) t(i)").then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(SandboxError);
      expect((err as SandboxError).status).toBe(400);
      expect((err as SandboxError).message).toContain('boom');
    } finally {
      big.close();
    }
  }, 60_000);

  it('stops at the row cap with truncated, keeps the order of ORDER BY, the names as the SELECT gives them, a trailing ; and comment', async () => {
    const r = await sb.query('SELECT i, i AS i FROM range(100000) t(i) ORDER BY i DESC; -- newest first\n');
    expect(r.columns.map((c) => c.name)).toEqual(['i', 'i']);
    expect([r.rows.length, r.truncated, r.truncatedBy]).toEqual([100, true, 'row_cap']);
    expect(Object.values(r.rows[0] as object)[0]).toBe(99999);
    const whole = await sb.query('SELECT 1 AS a -- a comment at the end');
    expect([whole.rows, whole.truncated]).toEqual([[{ a: 1 }], false]);
  });
});
