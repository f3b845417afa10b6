/**
 * A record that could not be parsed: data, not an exception. The ingest loop
 * turns it into a line of `rejects/*.ndjson` with the file and line.
 */
export class Reject {
  constructor(readonly reason: string) {}
}

/** One line of `DIR/rejects/*.ndjson` (SPEC section 2). */
export interface RejectRecord {
  source_file: string;
  line: number;
  reason: string;
  raw: string;
}
