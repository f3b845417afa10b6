import type { DuckDBConnection } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { ConnectionPool, SandboxError } from '../../server/pool.js';

/** A stand-in connection: `interrupt()` resolves what the test waits on, as DuckDB's would stop a statement. */
function fakeConnection(): DuckDBConnection & { interrupted: Promise<void> } {
  let done!: () => void;
  const interrupted = new Promise<void>((r) => (done = r));
  return { interrupt: () => done(), interrupted, closeSync: () => {} } as unknown as DuckDBConnection & { interrupted: Promise<void> };
}

describe('the connection pool', () => {
  it('answers 408, never the empty result an interrupted statement may give', async () => {
    const c = fakeConnection();
    const pool = new ConnectionPool('queries', [c], 0);
    // What DuckDB's streaming read gave when interrupted: no error, no rows.
    const answer = pool.run(async () => {
      await c.interrupted;
      return { rows: [], truncated: false };
    }, 20);
    await expect(answer).rejects.toMatchObject({ status: 408, message: 'the query ran longer than 20 ms and was stopped' });
    await expect(answer).rejects.toBeInstanceOf(SandboxError);
  });

  it('answers 408 at the deadline while DuckDB is still busy, and lends the connection again only once it lets go', async () => {
    const c = fakeConnection();
    const pool = new ConnectionPool('queries', [c], 1);
    let letGo!: () => void;
    // A statement interrupt() cannot stop (a scalar call folded while it is prepared).
    const busy = new Promise<string>((r) => (letGo = () => r('late')));
    await expect(pool.run(() => busy, 20)).rejects.toMatchObject({ status: 408 });
    const order: string[] = [];
    const next = pool.run(async () => void order.push('next ran'));
    await new Promise((r) => setTimeout(r, 50));
    order.push('DuckDB let go');
    letGo();
    await next;
    expect(order).toEqual(['DuckDB let go', 'next ran']);
  });

  it('turns a request away (429) when its line is full', async () => {
    const c = fakeConnection();
    const pool = new ConnectionPool('queries', [c], 1);
    let release!: () => void;
    const first = pool.run(() => new Promise<void>((r) => (release = r)));
    const second = pool.run(async () => 'second');
    await expect(pool.run(async () => 'third')).rejects.toMatchObject({ status: 429, message: expect.stringMatching(/too many queries at once \(1 running, 1 waiting\)/) });
    release();
    await first;
    expect(await second).toBe('second');
  });
});
