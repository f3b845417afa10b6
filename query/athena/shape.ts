/**
 * The shape of a detection's result, from DuckDB's plan of the same SQL over
 * empty tables of the declared schema (no data read, nothing in AWS): which
 * columns it returns and which of them are arrays. The Athena renderer casts
 * those to JSON, so a finding's details have the same shape on both engines.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBTypeId } from '@duckdb/node-api';
import { DetectionError, describe } from '../../common/errors.js';
import { replaceParams, sqlString } from '../../common/sql.js';
import { openDataset } from '../dataset.js';
import type { Detection, ParamValue } from '../detection.js';
import type { ListItemType } from './render.js';

export interface ResultColumn {
  name: string;
  array: boolean;
}

/** A parameter value as a DuckDB literal of the type it is bound as. */
function duckdbLiteral(v: ParamValue, itemType: ListItemType): string {
  if (Array.isArray(v)) return `CAST([${(v as Array<string | number>).map((x) => duckdbLiteral(x, itemType)).join(', ')}] AS ${itemType}[])`;
  if (typeof v === 'string') return sqlString(v);
  return String(v);
}

/**
 * The result columns of each detection (by id), planned on DuckDB over
 * empty tables, or why it could not be planned (that detection fails, the
 * others go on).
 */
export async function resultShapes(detections: readonly Detection[], params: (d: Detection) => Record<string, ParamValue>, listTypes: (d: Detection) => Record<string, ListItemType>): Promise<Map<string, ResultColumn[] | DetectionError>> {
  const empty = await mkdtemp(join(tmpdir(), 's3sift-shape-'));
  const ds = await openDataset(empty, { noDataset: true });
  try {
    const out = new Map<string, ResultColumn[] | DetectionError>();
    for (const d of detections) {
      const values = params(d);
      const types = listTypes(d);
      const sql = replaceParams(d.sql, (n) => duckdbLiteral(values[n] as ParamValue, types[n] ?? 'VARCHAR'));
      try {
        const reader = await ds.conn.runAndReadAll(`SELECT * FROM (${sql}\n) LIMIT 0`);
        out.set(d.id, reader.columnNames().map((name, i) => {
          const t = reader.columnTypes()[i];
          return { name, array: t?.typeId === DuckDBTypeId.LIST || t?.typeId === DuckDBTypeId.ARRAY };
        }));
      } catch (err) {
        out.set(d.id, new DetectionError(`${d.file}: the SQL does not run on the dataset's tables: ${describe(err)}`, { cause: err }));
      }
    }
    return out;
  } finally {
    ds.close();
    await rm(empty, { recursive: true, force: true });
  }
}
