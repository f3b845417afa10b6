import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDataset } from '../../query/dataset.js';

/** A fresh temporary folder, removed by the returned function. */
export function tempDir(prefix = 's3sift-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
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

export const CONFORMANCE = new URL('../../../shared/conformance/', import.meta.url);
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
