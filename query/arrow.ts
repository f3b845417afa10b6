/**
 * Query results as an Arrow IPC stream (`--format arrow`, `Accept:
 * application/vnd.apache.arrow.stream`), in a module of its own so that
 * Arrow's library loads only when Arrow is asked for.
 */
import { Bool, Field, Float64, Int32, makeData, makeVector, RecordBatch, Schema, Table, TimestampMillisecond, Utf8, vectorFromArray, tableToIPC, type DataType, type Vector } from 'apache-arrow';
import { cellText } from './format.js';
import type { Column, Rows } from './rows.js';

function arrowType(duckType: string): DataType {
  if (duckType === 'BOOLEAN') return new Bool();
  if (['TINYINT', 'SMALLINT', 'INTEGER', 'UTINYINT', 'USMALLINT'].includes(duckType)) return new Int32();
  if (['BIGINT', 'UINTEGER', 'UBIGINT', 'HUGEINT', 'DOUBLE', 'FLOAT', 'REAL'].includes(duckType) || duckType.startsWith('DECIMAL')) return new Float64();
  if (duckType.startsWith('TIMESTAMP')) return new TimestampMillisecond();
  return new Utf8();
}

/** The Arrow schema of a result: every field nullable, so that every batch of one result has the same schema. */
export function arrowSchema(columns: readonly Column[]): Schema {
  return new Schema(columns.map((c) => new Field(c.name, arrowType(c.type), true)));
}

/** Rows of a result as record batches of `schema` (query/export.ts writes them one by one). */
export function arrowBatches(schema: Schema, columns: readonly Column[], rows: ReadonlyArray<Record<string, unknown>>): RecordBatch[] {
  return arrowTable({ columns: [...columns], rows: rows as Array<Record<string, unknown>> }).batches.map((b) => new RecordBatch(schema, b.data));
}

/** Arrow IPC stream of a result: numbers, booleans and times typed; the rest as text (JSON for nested values). */
export function arrowStream(result: Rows): Uint8Array {
  return tableToIPC(arrowTable(result), 'stream');
}

function arrowTable(result: Rows): Table {
  const vectors: Record<string, Vector> = {};
  for (const c of result.columns) {
    const type = arrowType(c.type);
    const values = result.rows.map((r) => {
      const v = r[c.name];
      if (v === null || v === undefined) return null;
      if (type instanceof Utf8) return cellText(v);
      if (type instanceof TimestampMillisecond) return Date.parse(String(v));
      if (type instanceof Bool) return Boolean(v);
      return Number(v);
    });
    vectors[c.name] = type instanceof Utf8 ? utf8Vector(values as Array<string | null>)
      : type instanceof Float64 || type instanceof Int32 ? numberVector(type, values as Array<number | null>)
        : (vectorFromArray(values as unknown[], type as DataType) as Vector);
  }
  return new Table(vectors);
}


/** Validity bits (1: a value, 0: NULL), least significant bit first, padded to 8 bytes as Arrow lays them out. */
function validity(values: ReadonlyArray<unknown>): { nullBitmap: Uint8Array; nullCount: number } {
  const nullBitmap = new Uint8Array(Math.ceil(values.length / 64) * 8);
  let nullCount = 0;
  values.forEach((v, i) => {
    if (v === null) nullCount++;
    else nullBitmap[i >> 3] = (nullBitmap[i >> 3] as number) | (1 << (i & 7));
  });
  return { nullBitmap, nullCount };
}

/**
 * Text as an Arrow vector, built directly (offsets and one UTF-8 buffer):
 * apache-arrow's generic builder (vectorFromArray) takes microseconds a cell,
 * minutes for a million wide rows.
 */
function utf8Vector(values: ReadonlyArray<string | null>): Vector {
  const text = values.map((v) => v ?? '').join('');
  const data = new Uint8Array(Buffer.from(text, 'utf8'));
  // All ASCII (as many bytes as characters): each value's length is its byte length, no need to ask for it.
  const ascii = data.length === text.length;
  const valueOffsets = new Int32Array(values.length + 1);
  let at = 0;
  values.forEach((v, i) => {
    if (v !== null) at += ascii ? v.length : Buffer.byteLength(v, 'utf8');
    valueOffsets[i + 1] = at;
  });
  return makeVector(makeData({ type: new Utf8(), length: values.length, ...validity(values), valueOffsets, data }));
}

function numberVector(type: Float64 | Int32, values: ReadonlyArray<number | null>): Vector {
  const data = type instanceof Float64 ? Float64Array.from(values, (v) => v ?? 0) : Int32Array.from(values, (v) => v ?? 0);
  return makeVector(makeData({ type, length: values.length, ...validity(values), data } as Parameters<typeof makeData>[0]));
}
