/**
 * A few DuckDB connections lent out one request at a time, with a line of
 * bounded length and a deadline on the whole of a request's work.
 *
 * The deadline answers on time even when DuckDB cannot stop: a scalar call
 * (`levenshtein` of two 60,000-character strings, folded while the statement
 * is prepared) runs to its end whatever `interrupt()` says. The caller gets
 * its 408 at the deadline; the connection comes back to the pool only when
 * DuckDB has let go of it, so a pool of N never runs more than N things.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { S3siftError } from '../common/errors.js';

/** A query refused before it ran (400), stopped at the time limit (408), or turned away (429). */
export class SandboxError extends S3siftError {
  constructor(
    message: string,
    readonly status: 400 | 408 | 429,
  ) {
    super('query', message);
  }
}

/** What a pool's work learns about its deadline. */
export interface Deadline {
  /** Whether the time limit passed (the connection was interrupted). */
  readonly passed: boolean;
}

export class ConnectionPool {
  private readonly idle: DuckDBConnection[];
  private readonly waiting: Array<(c: DuckDBConnection) => void> = [];

  constructor(
    /** What the pool is for, in messages: "user queries". */
    readonly name: string,
    private readonly all: DuckDBConnection[],
    private readonly maxQueued: number,
  ) {
    this.idle = [...all];
  }

  private async acquire(): Promise<DuckDBConnection> {
    const c = this.idle.pop();
    if (c) return c;
    if (this.waiting.length >= this.maxQueued) {
      throw new SandboxError(`too many ${this.name} at once (${this.all.length} running, ${this.maxQueued} waiting); retry shortly`, 429);
    }
    return new Promise<DuckDBConnection>((resolve) => this.waiting.push(resolve));
  }

  private release(c: DuckDBConnection): void {
    const next = this.waiting.shift();
    if (next) next(c);
    else this.idle.push(c);
  }

  /**
   * Run `fn` on a connection of the pool, waiting in line for one (429 when
   * the line is full). With `timeoutMs`, the connection is interrupted at
   * the deadline and the answer is a 408 then, whether or not `fn` has
   * returned; a result `fn` gives after its deadline is thrown away.
   */
  async run<T>(fn: (c: DuckDBConnection, deadline: Deadline) => Promise<T>, timeoutMs?: number): Promise<T> {
    const c = await this.acquire();
    const deadline = { passed: false };
    const work = fn(c, deadline);
    // The connection is lent until DuckDB is done with it, deadline or not.
    void work.then(
      () => this.release(c),
      () => this.release(c),
    );
    if (timeoutMs === undefined) return work;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        deadline.passed = true;
        c.interrupt();
        reject(new SandboxError(`the query ran longer than ${timeoutMs} ms and was stopped`, 408));
      }, timeoutMs);
    });
    try {
      const out = await Promise.race([work, expired]);
      // DuckDB may answer an interrupted statement with an empty result instead of an error.
      if (deadline.passed) throw new SandboxError(`the query ran longer than ${timeoutMs} ms and was stopped`, 408);
      return out;
    } catch (err) {
      if (deadline.passed) throw new SandboxError(`the query ran longer than ${timeoutMs} ms and was stopped`, 408);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Close the idle connections (the busy ones close with their instance). */
  close(): void {
    for (const c of this.idle) c.closeSync();
    this.idle.length = 0;
  }
}
