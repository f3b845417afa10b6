import { createWriteStream, type WriteStream } from 'node:fs';
import { writeError, type WriteError } from '../common/errors.js';
import { FILE_MODE } from './modes.js';
import { wellFormed } from './unicode.js';

/**
 * A record that could not be parsed: data, not an exception. The ingest loop
 * turns it into a line of `rejects/*.ndjson` with the file and line.
 */
export class Reject {
  constructor(readonly reason: string) {}
}

/** How much of a rejected line or record `raw` keeps (UTF-16 units, cut at a character boundary). */
export const RAW_KEEP = 4096;

/** Rejects kept per source unless the caller says otherwise (`--max-rejects`); the rest are counted. */
export const MAX_REJECTS = 1000;

/** The part of a raw line or record a reject keeps: its first RAW_KEEP units, valid Unicode. */
export function keepRaw(raw: string): string {
  let s = raw;
  if (s.length > RAW_KEEP) {
    // Do not cut a surrogate pair in half.
    const last = s.charCodeAt(RAW_KEEP - 1);
    s = s.slice(0, last >= 0xd800 && last <= 0xdbff ? RAW_KEEP - 1 : RAW_KEEP);
  }
  return wellFormed(s);
}

/** One line of `DIR/rejects/*.ndjson` (docs/contract.md). */
export interface RejectRecord {
  source_file: string;
  line: number;
  reason: string;
  raw: string;
}

/**
 * The run's rejects file, written as lines are rejected. A failed write (a
 * full disk) is kept and thrown at the next `drain()`, so the run stops
 * instead of losing rejects or waiting for a drain that never comes.
 */
export class RejectsFile {
  private readonly out: WriteStream;
  private failure: WriteError | null = null;

  constructor(readonly path: string) {
    this.out = createWriteStream(path, { mode: FILE_MODE });
    this.out.on('error', (err) => (this.failure ??= writeError(path, err)));
  }

  write(r: RejectRecord): void {
    if (!this.failure) this.out.write(JSON.stringify(r) + '\n');
  }

  /** Wait while the file is behind; throws if a write failed. */
  async drain(): Promise<void> {
    if (!this.failure && this.out.writableNeedDrain) {
      await new Promise<void>((res) => {
        const done = (): void => {
          this.out.off('drain', done);
          this.out.off('error', done);
          res();
        };
        this.out.on('drain', done);
        this.out.on('error', done);
      });
    }
    if (this.failure) throw this.failure;
  }

  /** Write what is left and close; throws if a write failed. */
  async close(): Promise<void> {
    if (!this.out.closed) await new Promise<void>((res) => this.out.end(() => res()));
    if (this.failure) throw this.failure;
  }

  /** Close without waiting, after a failure elsewhere. */
  destroy(): void {
    this.out.destroy();
  }
}
