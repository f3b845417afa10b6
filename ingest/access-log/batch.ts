/**
 * Access-log lines read and staged: one line at a time in the reader's
 * thread (`AccessLogLines`), or a batch of them on a parse worker
 * (`stageAccessLogBatch`, see parallel.ts), the same code either way, so
 * both give the same rows, rejects and skips.
 */
import { isBlank } from '../lines.js';
import { BatchStage, BLANK, type BatchResult } from '../parallel.js';
import { RAW_KEEP } from '../reject.js';
import type { TsvWriter } from '../tsv-writer.js';
import { AccessLogScan, text } from './scan.js';
import { PlainLines, rowBound, stageAccessLogRow } from './stage-row.js';

/** Bytes of a rejected line decoded for its reject: more than the RAW_KEEP units kept, however they encode. */
const RAW_BYTES = 4 * RAW_KEEP;

/** Where the lines of one source go: a row's writer (by its time), and rejects and skips by line. */
export interface LineSink {
  writerFor(timeMs: number, rowBytes: number): TsvWriter;
  /** A row was written to the writer `writerFor` gave. */
  row(): void;
  reject(line: number, reason: string, raw: string): void;
  skip(line: number, reason: string): void;
}

/** Reads the lines of one source (its index `fileIdx` among the run's) into a sink. */
export class AccessLogLines {
  private readonly scan = new AccessLogScan();
  private readonly plain = new PlainLines();

  constructor(
    private readonly fileIdx: number,
    private readonly sink: LineSink,
  ) {}

  /** Line `lineNo`: bytes [s, e) of `b`. */
  line(b: Buffer, s: number, e: number, lineNo: number): void {
    const scan = this.scan;
    if (isBlank(b, s, e)) this.sink.skip(lineNo, 'blank line');
    else if (scan.scan(b, s, e)) {
      stageAccessLogRow(this.sink.writerFor(scan.time, rowBound(e - s)), b, scan, this.fileIdx, lineNo, this.plain);
      this.sink.row();
    } else this.sink.reject(lineNo, scan.reason, text(b, s, Math.min(e, s + RAW_BYTES)));
  }

  /** The lines at `offsets` (triples: start, end, line number; BLANK for a blank line) of `b`. */
  lines(b: Buffer, offsets: Float64Array): void {
    for (let i = 0; i + 2 < offsets.length; i += 3) {
      const s = offsets[i] as number;
      if (s === BLANK) this.sink.skip(offsets[i + 2] as number, 'blank line');
      else this.line(b, s, offsets[i + 1] as number, offsets[i + 2] as number);
    }
  }
}

/** Read the lines at `offsets` (triples: start, end, line number; BLANK for a blank line) of `b` as source number `fileIdx`, as a parse worker does. */
export function stageAccessLogBatch(b: Buffer, offsets: Float64Array, fileIdx: number): BatchResult {
  const stage = new BatchStage();
  const sink: LineSink = {
    writerFor: (timeMs, rowBytes) => stage.writerFor(timeMs, rowBytes),
    row: () => {},
    reject: (line, reason, raw) => stage.reject(line, reason, raw),
    skip: (line, reason) => stage.skip(line, reason),
  };
  new AccessLogLines(fileIdx, sink).lines(b, offsets);
  return stage.result();
}
