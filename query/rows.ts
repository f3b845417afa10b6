/**
 * Query results as plain values everyone reads the same way: times as RFC
 * 3339 UTC strings ending in `Z`, integers as numbers (text only past 2^53),
 * JSON columns parsed, lists and structs as arrays and objects.
 */
import { DuckDBTypeId, type DuckDBResultReader, type DuckDBType } from '@duckdb/node-api';

export interface Column {
  name: string;
  /** DuckDB's name of the type (`VARCHAR`, `TIMESTAMP`, `JSON`, `BIGINT[]`, ...). */
  type: string;
}

export interface Rows {
  columns: Column[];
  rows: Array<Record<string, unknown>>;
}

/** `2025-03-10 08:00:01.5` (or `...+00`) as `2025-03-10T08:00:01.500Z`. */
export function isoTime(text: string): string {
  const m = /^(-?\d{4,}-\d\d-\d\d) (\d\d:\d\d:\d\d)(\.\d+)?(?:([+-]\d\d)(?::?(\d\d))?)?$/.exec(text);
  if (!m) return text;
  const base = `${m[1]}T${m[2]}${m[3] ?? ''}`;
  if (!m[4] || (m[4] === '+00' && (m[5] ?? '00') === '00')) return new Date(base + 'Z').toISOString();
  return new Date(`${base}${m[4]}:${m[5] ?? '00'}`).toISOString();
}

function convert(v: unknown, t: DuckDBType): unknown {
  if (v === null || v === undefined) return null;
  if (t.alias === 'JSON' && typeof v === 'string') {
    try {
      return JSON.parse(v) as unknown;
    } catch {
      return v;
    }
  }
  switch (t.typeId) {
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_NS:
    case DuckDBTypeId.TIMESTAMP_TZ:
      return typeof v === 'string' ? isoTime(v) : v;
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UHUGEINT:
    case DuckDBTypeId.DECIMAL: {
      const n = Number(v);
      return Number.isSafeInteger(n) || (t.typeId === DuckDBTypeId.DECIMAL && Number.isFinite(n)) ? n : v;
    }
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY: {
      const child = (t as unknown as { valueType: DuckDBType }).valueType;
      return Array.isArray(v) ? v.map((x) => convert(x, child)) : v;
    }
    case DuckDBTypeId.STRUCT: {
      const st = t as unknown as { entryNames: string[]; entryTypes: DuckDBType[] };
      if (typeof v !== 'object') return v;
      const out: Record<string, unknown> = {};
      st.entryNames.forEach((n, i) => (out[n] = convert((v as Record<string, unknown>)[n], st.entryTypes[i] as DuckDBType)));
      return out;
    }
    default:
      return v;
  }
}

/** A result's columns, named and typed as Rows says. */
export function columnsOf(names: readonly string[], types: readonly DuckDBType[]): Column[] {
  return names.map((name, i) => ({ name, type: (types[i] as DuckDBType).alias ?? (types[i] as DuckDBType).toString() }));
}

/** Converts rows as DuckDB gives them in JSON form (getRowObjectsJson), one at a time: results read chunk by chunk use it too (query/export.ts). */
export function rowConverter(names: readonly string[], types: readonly DuckDBType[]): (r: Record<string, unknown>) => Record<string, unknown> {
  return (r) => {
    const out: Record<string, unknown> = {};
    names.forEach((n, i) => (out[n] = convert(r[n], types[i] as DuckDBType)));
    return out;
  };
}

/** Every row of a materialised result, converted. */
export function rowsOf(reader: DuckDBResultReader): Rows {
  const names = reader.columnNames();
  const types = reader.columnTypes();
  const row = rowConverter(names, types);
  return { columns: columnsOf(names, types), rows: reader.getRowObjectsJson().map((r) => row(r as Record<string, unknown>)) };
}
