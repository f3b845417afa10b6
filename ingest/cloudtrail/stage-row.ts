/**
 * Writes a parsed CloudTrail row as one staging row, in the column order of
 * the `cloudtrail` declaration (see `staging.ts` for how each type is
 * staged). The ingest tests read rows back through DuckDB and compare them
 * with `parseCloudTrailRecord`.
 */
import { CLOUDTRAIL, type ColumnSpec } from '../schema.js';
import type { TsvWriter } from '../tsv-writer.js';
import { JSON_COLUMNS, LIFTED, type CloudTrailRow } from './record.js';
import type { Spans } from './spans.js';

/** The declared columns the parser fills (all but `source_file`, `source_line`). */
const PARSED: readonly ColumnSpec[] = CLOUDTRAIL.columns.filter((c) => c.name !== 'source_file' && c.name !== 'source_line');
const NAMES = PARSED.map((c) => c.name as keyof CloudTrailRow);
/** For each column: the record field a JSON column copies from spans, `*` for `other_fields`, else null. */
const SPAN_FIELD: ReadonlyArray<string | null> = NAMES.map((k) =>
  k === 'other_fields' ? '*' : k in JSON_COLUMNS ? JSON_COLUMNS[k as keyof typeof JSON_COLUMNS] : null,
);

/** Bytes to reserve for a row: enough for any quoting and encoding. */
export function cloudTrailRowBound(row: CloudTrailRow): number {
  let n = 64;
  for (const k of NAMES) {
    const v = row[k];
    n += typeof v === 'string' ? 3 * v.length + 3 : 24;
  }
  return n;
}

/** Bytes to reserve for a row staged from spans of a record of `n` bytes (each byte lands in at most two columns). */
export function spanRowBound(n: number): number {
  return 3 * n + 1024;
}

const NULL_TEXT = Buffer.from('null');

/** Write field `name`'s value bytes (nothing for `null` or a missing field). */
function writeSpan(w: TsvWriter, sp: Spans, name: string): void {
  const i = sp.keys.lastIndexOf(name);
  if (i < 0) return;
  const s = sp.vs[i] as number;
  const e = sp.ve[i] as number;
  if (e - s === 4 && sp.b.compare(NULL_TEXT, 0, 4, s, e) === 0) return;
  w.raw(sp.b, s, e);
}

/** `other_fields` from spans: the fields without a column (and an unreadable `eventTime`), as one object. */
function writeOther(w: TsvWriter, sp: Spans, timeless: boolean): void {
  let n = 0;
  for (let i = 0; i < sp.keys.length; i++) {
    const k = sp.keys[i] as string;
    if (LIFTED.has(k) && !(timeless && k === 'eventTime')) continue;
    w.ascii(n++ === 0 ? '{' : ',');
    w.raw(sp.b, sp.ks[i] as number, sp.ve[i] as number);
  }
  if (n > 0) w.ascii('}');
}

/**
 * Append the staging row for `row`, read from source number `fileIdx` at
 * `where`. With `spans` (the record's own compact bytes, free of tabs, line
 * breaks and SOH), the JSON columns are copied from them; `row` was parsed
 * with `nestedJson: false`.
 */
export function stageCloudTrailRow(w: TsvWriter, row: CloudTrailRow, fileIdx: number, where: number, spans?: Spans | null): void {
  for (let c = 0; c < NAMES.length; c++) {
    const from = SPAN_FIELD[c];
    if (spans && from) {
      if (from === '*') writeOther(w, spans, row.event_time === null);
      else writeSpan(w, spans, from);
      w.tab();
      continue;
    }
    const v = row[NAMES[c] as keyof CloudTrailRow];
    if (v !== null) {
      if (typeof v === 'string') w.text(v);
      else if (typeof v === 'number') w.int(v);
      else if (typeof v === 'boolean') w.ascii(v ? 'true' : 'false');
      else w.int(v.getTime());
    }
    w.tab();
  }
  w.int(fileIdx);
  w.tab();
  w.int(where);
  w.newline();
}
