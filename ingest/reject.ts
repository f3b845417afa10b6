import { createWriteStream, type WriteStream } from 'node:fs';
import { writeError, type WriteError } from '../common/errors.js';

/**
 * A record that could not be parsed: data, not an exception. The ingest loop
 * turns it into a line of `rejects/*.ndjson` with the file and line.
 */
export class Reject {
  constructor(readonly reason: string) {}
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
    this.out = createWriteStream(path);
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
