import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { timestampText } from '../../common/time.js';
import { ensureManifest } from '../../ingest/dataset.js';
import { openDataset } from '../../query/dataset.js';
import type { TableSpec } from '../../ingest/schema.js';

/** A fresh temporary folder, removed by the returned function. */
export function tempDir(prefix = 's3sift-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An empty dataset at `dir` (made if need be), as an ingest that read nothing leaves it: the folder and its manifest. */
export async function emptyDataset(dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  await ensureManifest(dir);
  return dir;
}

/** Rows of a table of the dataset, as plain JS values (timestamps as ISO strings). */
export async function readRows(data: string, table = 'access_log', orderBy = 'source_file, source_line'): Promise<Record<string, unknown>[]> {
  const ds = await openDataset(data);
  try {
    const reader = await ds.conn.runAndReadAll(`SELECT * FROM ${table} ORDER BY ${orderBy}`);
    return reader.getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    ds.close();
  }
}

export const CONFORMANCE = new URL('../conformance/', import.meta.url);
export const SAMPLES = new URL('../../samples/', import.meta.url);

/** Row count, distinct (file, line) count and a digest of every row, in one query. */
export async function digest(data: string, table = 'access_log'): Promise<{ rows: number; distinct: number; md5: string }> {
  const ds = await openDataset(data);
  try {
    const r = await ds.conn.runAndReadAll(
      `SELECT count(*)::INTEGER, count(DISTINCT (source_file, source_line))::INTEGER,
              md5(coalesce(string_agg(to_json(t)::VARCHAR, chr(10) ORDER BY source_file, source_line), ''))
       FROM ${table} t`,
    );
    const [rows, distinct, md5] = r.getRows()[0] as [number, number, string];
    return { rows, distinct, md5 };
  } finally {
    ds.close();
  }
}

/**
 * A parser's row in the form DuckDB's JSON rows take (timestamps as
 * `YYYY-MM-DD hh:mm:ss[.fff]`, BIGINT as strings); JSON columns parsed, so
 * they compare by value. `source_file` and `source_line` are left out.
 */
export function asDuckRow(table: TableSpec, row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of table.columns) {
    if (c.name === 'source_file' || c.name === 'source_line') continue;
    const v = row[c.name];
    if (v instanceof Date) out[c.name] = timestampText(v).replace(/\.000$/, '');
    else if (c.type === 'BIGINT' && v !== null) out[c.name] = String(v);
    else if (c.type === 'JSON' && typeof v === 'string') out[c.name] = JSON.parse(v);
    else out[c.name] = v;
  }
  return out;
}

/** A row read from the dataset, without where it came from, JSON columns parsed: to compare with `asDuckRow`. */
export function fromDuckRow(table: TableSpec, row: Record<string, unknown>): Record<string, unknown> {
  const { source_file: _f, source_line: _l, date: _d, ...rest } = row;
  for (const c of table.columns) if (c.type === 'JSON' && typeof rest[c.name] === 'string') rest[c.name] = JSON.parse(rest[c.name] as string);
  return rest;
}
