/**
 * A batch of JSON values read and staged in one go, as a parse worker does
 * it: the values' bytes in, the staging rows out, grouped by the date file
 * (day and part) they belong to, with the batch's rejects and skips. The
 * rows are exactly those `stageCloudTrailRow` writes in the reader's own
 * thread; the caller hands each group to `Stage.writeRows`.
 */
import { BatchStage, type BatchResult } from '../parallel.js';
import { cloudTrailRowBound, spanRowBound, stageCloudTrailRow } from './stage-row.js';
import { readEntries, type CloudTrailSink } from './value.js';

/**
 * Read the values at `offsets` (triples: start, end, where; BLANK for a blank line) of `b` as
 * source number `fileIdx`.
 */
export function stageCloudTrailBatch(b: Buffer, offsets: Float64Array, fileIdx: number): BatchResult {
  const stage = new BatchStage();
  const sink: CloudTrailSink = {
    row(row, where, spans) {
      const bound = spans ? spanRowBound(spans.end - spans.start) : cloudTrailRowBound(row);
      stageCloudTrailRow(stage.writerFor(row.event_time?.getTime() ?? NaN, bound, row.management_event === false ? 0 : 1), row, fileIdx, where, spans);
    },
    reject: (where, reason, raw) => stage.reject(where, reason, raw),
    skip: (where, reason) => stage.skip(where, reason),
  };
  readEntries(sink, b, offsets);
  return stage.result();
}
