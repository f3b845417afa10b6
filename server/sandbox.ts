/**
 * Untrusted SQL over the dataset. One DuckDB instance opened on the dataset,
 * then locked: only the dataset folder is readable (`allowed_directories`),
 * no other file or network access, no extension installs or loads, and the
 * configuration frozen. Each request gets one connection of a small pool, so
 * a slow query is interrupted alone; DuckDB's own parser counts and types
 * the statements (exactly one SELECT).
 */
import { resolve } from 'node:path';
import { StatementType, VARCHAR, type DuckDBConnection, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';
import { S3siftError, describe } from '../common/errors.js';
import { sqlString } from '../common/sql.js';
import { openDataset, type OpenDataset } from '../query/dataset.js';
import { rowsOf, type Rows } from '../query/rows.js';

export interface SandboxOptions {
  /** Longest a query may run (ms) before it is interrupted. */
  timeoutMs: number;
  /** Most rows a query returns; past it the answer says `truncated`. */
  rowCap: number;
  /** Queries that may run at once; more wait in line. */
  maxConcurrent: number;
  /** Requests that may wait for a free connection; past it they are turned away (429). */
  maxQueued?: number;
}

/** A query refused before it ran (400), or stopped for taking too long (408), or turned away (429). */
export class SandboxError extends S3siftError {
  constructor(
    message: string,
    readonly status: 400 | 408 | 429,
  ) {
    super('query', message);
  }
}

export interface QueryResult extends Rows {
  truncated: boolean;
}

export class Sandbox {
  private readonly idle: DuckDBConnection[] = [];
  private readonly waiting: Array<(c: DuckDBConnection) => void> = [];

  private constructor(
    readonly ds: OpenDataset,
    readonly opts: SandboxOptions,
  ) {}

  static async open(dataDir: string, opts: SandboxOptions): Promise<Sandbox> {
    const ds = await openDataset(dataDir);
    try {
      for (const sql of [
        `SET allowed_directories = [${sqlString(resolve(dataDir))}]`,
        'SET autoinstall_known_extensions = false',
        'SET autoload_known_extensions = false',
        'SET enable_external_access = false',
        'SET lock_configuration = true',
      ]) {
        await ds.conn.run(sql);
      }
    } catch (err) {
      ds.close();
      throw err;
    }
    const sb = new Sandbox(ds, opts);
    for (let i = 0; i < opts.maxConcurrent; i++) sb.idle.push(await ds.instance.connect());
    return sb;
  }

  /** Run `fn` on a pooled connection: wait in line for one, or refuse with 429 when the line is full. */
  async withConnection<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    let c = this.idle.pop();
    if (!c) {
      const max = this.opts.maxQueued ?? 0;
      if (this.waiting.length >= max) {
        throw new SandboxError(`too many queries at once (${this.opts.maxConcurrent} running, ${max} waiting); retry shortly`, 429);
      }
      c = await new Promise<DuckDBConnection>((resolve) => this.waiting.push(resolve));
    }
    try {
      return await fn(c);
    } finally {
      const next = this.waiting.shift();
      if (next) next(c);
      else this.idle.push(c);
    }
  }

  /** Run one read-only SELECT with bound `params`, within the time limit and the row cap. */
  async query(sql: string, params: Record<string, DuckDBValue> = {}, rowCap = this.opts.rowCap, types?: Record<string, DuckDBType>): Promise<QueryResult> {
    if (typeof sql !== 'string' || !sql.trim()) throw new SandboxError('sql: give one SELECT statement', 400);
    return this.withConnection(async (c) => {
      let extracted;
      try {
        extracted = await c.extractStatements(sql);
      } catch (err) {
        throw new SandboxError(`sql does not parse: ${describe(err)}`, 400);
      }
      if (extracted.count !== 1) throw new SandboxError(`one statement per request, got ${extracted.count}`, 400);
      // DuckDB's parser serialises SELECT statements only: PRAGMA, CALL, COPY, SET, ... come back as an error.
      const kind = await c.runAndReadAll(`SELECT json_serialize_sql(CAST($1 AS VARCHAR))::JSON->>'error'`, [sql], [VARCHAR]);
      if (kind.getRows()[0]?.[0] !== 'false') throw new SandboxError('only a read-only SELECT may run here (no PRAGMA, CALL, COPY, SET, ATTACH, INSTALL, CREATE, ...)', 400);
      let prepared;
      try {
        prepared = await extracted.prepare(0);
      } catch (err) {
        throw new SandboxError(describe(err), 400);
      }
      try {
        if (prepared.statementType !== StatementType.SELECT) {
          throw new SandboxError(`only a read-only SELECT may run here, not ${StatementType[prepared.statementType] ?? 'this statement'}`, 400);
        }
        if (Object.keys(params).length) {
          try {
            prepared.bind(params, types);
          } catch (err) {
            throw new SandboxError(`params: ${describe(err)}`, 400);
          }
        }
        let timedOut = false;
        const timer = setTimeout(() => {
          timedOut = true;
          c.interrupt();
        }, this.opts.timeoutMs);
        try {
          const reader = await prepared.streamAndReadUntil(rowCap + 1);
          const rows = rowsOf(reader);
          const truncated = rows.rows.length > rowCap;
          if (truncated) rows.rows.length = rowCap;
          return { ...rows, truncated };
        } catch (err) {
          if (timedOut) throw new SandboxError(`the query ran longer than ${this.opts.timeoutMs} ms and was stopped`, 408);
          throw new SandboxError(describe(err), 400);
        } finally {
          clearTimeout(timer);
        }
      } finally {
        prepared.destroySync();
      }
    });
  }

  close(): void {
    for (const c of this.idle) c.closeSync();
    this.idle.length = 0;
    this.ds.close();
  }
}

