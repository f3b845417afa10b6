/**
 * `--format arrow` at speed: DuckDB writes the result to a temporary
 * Parquet file (its own writer, every core), and parquet-wasm (arrow-rs
 * compiled to WebAssembly) decodes it row group by row group into Arrow IPC
 * messages, which are joined into one stream.
 *
 * DuckDB has no Arrow IPC writer and @duckdb/node-api no Arrow export, so
 * the alternative is building Arrow in JavaScript from DuckDB's text: 25 s
 * for 1M CloudTrail rows, against about 3 s this way (bench/REPORT.md).
 * The query is wrapped so Parquet holds exactly the types query/arrow.ts
 * gives (arrowColumn); a column without an exact form, or names that are not
 * unique, take the JavaScript path instead.
 */
import { openAsBlob } from 'node:fs';
import { DuckDBTypeId, type DuckDBType } from '@duckdb/node-api';
import { tableFromIPC, type Schema } from 'apache-arrow';

/** Rows per Parquet row group, and so per Arrow batch: parquet-wasm's memory grows to its largest row group and never shrinks. */
export const ARROW_ROW_GROUP = 16_384;

/** Arrow IPC's end-of-stream marker: a continuation and a zero length. */
const EOS = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0);

/**
 * The expression that gives column `c` the Arrow type `arrowType` names
 * (query/arrow.ts) in Parquet, or null. `text` is its exact text as a CSV
 * cell without neutralising (export.ts copyColumn), for Utf8 columns.
 */
export function arrowColumn(c: string, t: DuckDBType, arrowType: string, text: string | null): string | null {
  switch (arrowType) {
    case 'Int32':
      return `${c}::INTEGER`;
    case 'Float64':
      return `${c}::DOUBLE`;
    case 'Bool':
      return c;
    case 'Timestamp<MILLISECOND>':
      if (t.typeId === DuckDBTypeId.TIMESTAMP_TZ) return `timezone('UTC', ${c})::TIMESTAMP_MS`;
      // DuckDB has no cast from nanoseconds to milliseconds; truncated to the millisecond below, as the JavaScript path does (before 1970 too).
      if (t.typeId === DuckDBTypeId.TIMESTAMP_NS) return `epoch_ms(floor(epoch_ns(${c}) / 1000000)::BIGINT)::TIMESTAMP_MS`;
      return `${c}::TIMESTAMP_MS`;
    case 'Utf8':
      return text === null ? null : `(${text})::VARCHAR`;
    default:
      return null;
  }
}

/** Where the bytes go (query/export.ts put, with backpressure). */
type Put = (chunk: Uint8Array) => Promise<void>;

/** How long the schema message at the start of one batch's IPC stream is: a continuation, its length, its metadata (no body). */
function schemaMessageLength(b: Uint8Array): number {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (dv.getUint32(0, true) !== 0xffffffff) throw new Error('parquet-wasm wrote an Arrow IPC stream that does not start with a message');
  return 8 + dv.getInt32(4, true);
}

/**
 * The Parquet file at `path` as one Arrow IPC stream written with `put`:
 * each batch parquet-wasm writes as a stream of its own (schema, batch,
 * end); the schema is kept from the first, and one end written last. The
 * first batch's schema must be `expected` (else an error, never other
 * types). Returns how many rows; none writes nothing (the caller writes the
 * schema alone).
 */
export async function parquetToArrowStream(path: string, expected: Schema, put: Put): Promise<number> {
  const { ParquetFile } = await import('parquet-wasm');
  const file = await ParquetFile.fromFile(await openAsBlob(path));
  let rows = 0;
  let first = true;
  try {
    const reader = (await file.stream({ batchSize: ARROW_ROW_GROUP })).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        rows += value.numRows;
        // intoIPCStream frees the batch's WebAssembly memory.
        const bytes = value.intoIPCStream();
        if (bytes.length < EOS.length || !EOS.every((b, i) => bytes[bytes.length - EOS.length + i] === b)) throw new Error('parquet-wasm wrote an Arrow IPC stream without its end');
        const start = schemaMessageLength(bytes);
        if (first) {
          const got = tableFromIPC(bytes).schema;
          const differ = schemaDifference(got, expected);
          if (differ) throw new Error(`the Arrow export's Parquet came back as other types: ${differ}`);
        }
        await put(bytes.subarray(first ? 0 : start, bytes.length - EOS.length));
        first = false;
      }
    } finally {
      reader.releaseLock();
    }
    if (!first) await put(EOS);
  } finally {
    file.free();
  }
  return rows;
}

/** What differs between two schemas (names, types, nullability), or null. */
function schemaDifference(got: Schema, want: Schema): string | null {
  const show = (s: Schema): string => s.fields.map((f) => `${f.name}: ${String(f.type)}${f.nullable ? '' : ' not null'}`).join(', ');
  return show(got) === show(want) ? null : `${show(got)} where ${show(want)}`;
}
