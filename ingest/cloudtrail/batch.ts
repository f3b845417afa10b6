/**
 * A batch of JSON values read and staged in one go, as a parse worker does
 * it: the values' bytes in, the staging rows out, grouped by the date file
 * (day and part) they belong to, with the batch's rejects and skips. The
 * rows are exactly those `stageCloudTrailRow` writes in the reader's own
 * thread; the caller hands each group to `Stage.writeRows`.
 */
import { dayOf } from '../staging.js';
import { TsvWriter } from '../tsv-writer.js';
import { cloudTrailRowBound, spanRowBound, stageCloudTrailRow } from './stage-row.js';
import { readEntries, type CloudTrailSink } from './value.js';

/** The rows of one date file (`day`, `part`) in a batch; `last` is the 1-based number of its last row among the batch's rows. */
export interface StagedRows {
  day: number;
  part: 0 | 1;
  rows: Uint8Array;
  last: number;
}

export interface BatchResult {
  /** In the order each date file first appears in the batch. */
  staged: StagedRows[];
  rows: number;
  rejects: Array<[where: number, reason: string, raw: string]>;
  skips: Array<[where: number, reason: string]>;
}

interface Group {
  day: number;
  part: 0 | 1;
  w: TsvWriter;
  last: number;
}

/** Writers kept from batch to batch (one per date file a batch touches). */
const spare: TsvWriter[] = [];

/**
 * Read the values at `offsets` (triples: start, end, where; BLANK for a blank line) of `b` as
 * source number `fileIdx`. Each group's rows are copied into a buffer of
 * their own, so they can be transferred to another thread.
 */
export function stageBatch(b: Buffer, offsets: Float64Array, fileIdx: number): BatchResult {
  const groups = new Map<number, Group>();
  const out: BatchResult = { staged: [], rows: 0, rejects: [], skips: [] };
  const sink: CloudTrailSink = {
    row(row, where, spans) {
      const day = dayOf(row.event_time?.getTime() ?? NaN);
      const part = row.management_event === false ? 0 : 1;
      // NaN (no time) is a key like any other in a Map.
      const key = day * 2 + part;
      let g = groups.get(key);
      if (!g) {
        const w = spare.pop() ?? new TsvWriter(1 << 20);
        w.len = 0;
        g = { day, part, w, last: 0 };
        groups.set(key, g);
      }
      g.w.reserve(spans ? spanRowBound(spans.end - spans.start) : cloudTrailRowBound(row));
      stageCloudTrailRow(g.w, row, fileIdx, where, spans);
      g.last = ++out.rows;
    },
    reject(where, reason, raw) {
      out.rejects.push([where, reason, raw]);
    },
    skip(where, reason) {
      out.skips.push([where, reason]);
    },
  };
  readEntries(sink, b, offsets);
  for (const g of groups.values()) {
    // A buffer of its own (not from Node's shared pool), so it can be transferred.
    const rows = Buffer.allocUnsafeSlow(g.w.len);
    g.w.buf.copy(rows, 0, 0, g.w.len);
    out.staged.push({ day: g.day, part: g.part, rows, last: g.last });
    // A writer grown by one huge record is let go rather than kept.
    if (g.w.buf.length <= 4 << 20) spare.push(g.w);
  }
  return out;
}
