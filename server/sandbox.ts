/**
 * Untrusted SQL over the dataset. One DuckDB instance opened on the dataset,
 * then locked (`lockToTables`): only the tables' folders are readable, no
 * other file, no spill folder, no network, no extension installs or loads,
 * and the configuration frozen. DuckDB's own parser counts and types the
 * statements (`prepareReadOnlySelect`: exactly one SELECT).
 *
 * User SQL runs on a pool of its own (`maxConcurrent` connections), saved
 * queries and the server's own reads on another, so user queries that run
 * into the time limit never hold up the dashboard.
 */
import {
  JsonDuckDBValueConverter,
  type DuckDBConnection, type DuckDBPreparedStatement, type DuckDBResultReader, type DuckDBType, type DuckDBValue,
} from '@duckdb/node-api';
import { describe } from '../common/errors.js';
import { openDataset, type OpenDataset } from '../query/dataset.js';
import type { IntelSet } from '../query/intel.js';
import { rowsOf, type Column, type Rows } from '../query/rows.js';
import { withoutTrailingSemicolons } from '../query/statements.js';
import { checkOneSelect, lockToTables, notSelectKind } from '../query/untrusted-sql.js';
import { RowBudget, type TruncatedBy } from './budget.js';
import { ConnectionPool, SandboxError, type Deadline } from './pool.js';
import { INTERNAL_CONNECTIONS } from './settings.js';

export { SandboxError } from './pool.js';
export { lockToTables } from '../query/untrusted-sql.js';

export interface SandboxOptions {
  /** Longest a query may take (ms), preparing it included, before the answer is 408. */
  timeoutMs: number;
  /** Most rows a query returns; past it the answer says `truncated`. */
  rowCap: number;
  /** Most bytes (rows as JSON) a query returns; past it the answer says `truncated`. */
  byteCap: number;
  /** User queries that may run at once; more wait in line. */
  maxConcurrent: number;
  /** Requests that may wait for a free connection; past it they are turned away (429). */
  maxQueued?: number;
  /** Memory DuckDB may use, in MiB (a query past it fails, the server stays up). */
  memoryLimitMb?: number;
  /** Threat-intel lists (`--intel`) for the threat-intel-address detection. */
  intel?: IntelSet;
}

export interface QueryResult extends Rows {
  truncated: boolean;
  /** Why `truncated`: the row cap or the byte cap. */
  truncatedBy?: TruncatedBy;
}

/**
 * Prepare `sql` if it is exactly one read-only SELECT; otherwise throw a
 * SandboxError (400) that says why. DuckDB's own parser decides: it
 * serialises SELECT statements only, so PRAGMA, CALL, COPY, SET, ATTACH,
 * INSTALL, CREATE and the rest are refused before anything is planned. What
 * files the SELECT may read is the instance's lock (`lockToTables`). The
 * caller destroys the statement.
 */
export async function prepareReadOnlySelect(conn: DuckDBConnection, sql: string): Promise<DuckDBPreparedStatement> {
  if (typeof sql !== 'string' || !sql.trim()) throw new SandboxError('sql: give one SELECT statement', 400);
  const c = await checkOneSelect(conn, sql);
  if (!c.ok) {
    if (c.why === 'parse') throw new SandboxError(`sql does not parse: ${c.error}`, 400);
    if (c.why === 'count') throw new SandboxError(`one statement per request, got ${c.count}`, 400);
    throw new SandboxError('only a read-only SELECT may run here (no PRAGMA, CALL, COPY, SET, ATTACH, INSTALL, CREATE, ...)', 400);
  }
  let prepared;
  try {
    prepared = await c.extracted.prepare(0);
  } catch (err) {
    throw new SandboxError(describe(err), 400);
  }
  const kind = notSelectKind(prepared.statementType);
  if (kind !== null) {
    prepared.destroySync();
    throw new SandboxError(`only a read-only SELECT may run here, not ${kind}`, 400);
  }
  return prepared;
}

/**
 * The user's SELECT, checked as prepareReadOnlySelect checks it, then as
 * `SELECT * FROM (it) LIMIT n`, checked again: what runs is at most `n`
 * rows, and still one read-only SELECT whatever the text held. A text that
 * cannot be wrapped (a trailing `;` and comment, say) runs as it is, whole.
 */
async function boundedSelect(conn: DuckDBConnection, sql: string, n: number): Promise<{ prepared: DuckDBPreparedStatement; plain: DuckDBPreparedStatement | null }> {
  const plain = await prepareReadOnlySelect(conn, sql);
  try {
    // New lines around the text: a trailing line comment cannot swallow the `)`.
    return { prepared: await prepareReadOnlySelect(conn, `SELECT * FROM (\n${withoutTrailingSemicolons(sql)}\n) LIMIT ${n}`), plain };
  } catch {
    return { prepared: plain, plain: null };
  }
}

/** One row of a chunk as `rowsOf` converts rows (times as RFC 3339, JSON parsed, ...). */
function converter(names: string[], types: DuckDBType[]): { columns: Column[]; row(values: unknown[]): Record<string, unknown> } {
  // rowsOf reads these three methods of a reader: give it one row at a time.
  const one = (values: unknown[]): DuckDBResultReader =>
    ({ columnNames: () => names, columnTypes: () => types, getRowObjectsJson: () => (values.length ? [Object.fromEntries(names.map((n, i) => [n, values[i]]))] : []) }) as unknown as DuckDBResultReader;
  return { columns: rowsOf(one([])).columns, row: (values) => rowsOf(one(values)).rows[0] as Record<string, unknown> };
}

export interface QueryOptions {
  types?: Record<string, DuckDBType>;
  /** `user` (default): the user SQL pool; `internal`: saved queries, apart from user SQL. */
  pool?: 'user' | 'internal';
}

export class Sandbox {
  private constructor(
    readonly ds: OpenDataset,
    readonly opts: SandboxOptions,
    private readonly user: ConnectionPool,
    private readonly internal: ConnectionPool,
  ) {}

  static async open(dataDir: string, opts: SandboxOptions): Promise<Sandbox> {
    const ds = await openDataset(dataDir, { intel: opts.intel });
    try {
      await lockToTables(ds.conn, dataDir, { memoryLimitMb: opts.memoryLimitMb });
      const connect = (n: number): Promise<DuckDBConnection[]> => Promise.all(Array.from({ length: n }, () => ds.instance.connect()));
      const queued = opts.maxQueued ?? 0;
      return new Sandbox(ds, opts, new ConnectionPool('queries', await connect(opts.maxConcurrent), queued), new ConnectionPool('saved queries', await connect(INTERNAL_CONNECTIONS), queued));
    } catch (err) {
      ds.close();
      throw err;
    }
  }

  /** Run the server's own reads on a connection apart from user SQL (wait in line, or 429). */
  async withConnection<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    await this.ds.refresh();
    return this.internal.run(fn);
  }

  /**
   * Run one read-only SELECT with bound `params`: the whole of it (parsing
   * and preparing included) within the time limit, its answer within the
   * row and byte caps, read from DuckDB chunk by chunk and no further.
   */
  async query(sql: string, params: Record<string, DuckDBValue> = {}, o: QueryOptions = {}): Promise<QueryResult> {
    if (typeof sql !== 'string' || !sql.trim()) throw new SandboxError('sql: give one SELECT statement', 400);
    const pool = o.pool === 'internal' ? this.internal : this.user;
    // Each request reads the dataset as its latest commit left it (a stat when nothing changed).
    await this.ds.refresh();
    return pool.run((c, deadline) => this.run(c, deadline, sql, params, o.types), this.opts.timeoutMs);
  }

  private async run(c: DuckDBConnection, deadline: Deadline, sql: string, params: Record<string, DuckDBValue>, types?: Record<string, DuckDBType>): Promise<QueryResult> {
    const { prepared, plain } = await boundedSelect(c, sql, this.opts.rowCap + 1);
    try {
      if (Object.keys(params).length) {
        try {
          prepared.bind(params, types);
          plain?.bind(params, types);
        } catch (err) {
          throw new SandboxError(`params: ${describe(err)}`, 400);
        }
      }
      // The names as the user's SELECT gives them: the wrapping renames a repeated one (a, a_1). A statement whose
      // parameters' types DuckDB learns only when it runs says one column `unknown` until then: the result's names.
      const own = plain ? Array.from({ length: plain.columnCount }, (_, i) => plain.columnName(i)) : [];
      const budget = new RowBudget(this.opts.rowCap, this.opts.byteCap);
      let columns: Column[];
      try {
        // Materialised, never streamed: DuckDB ends a streaming result that fails part way as if it were complete
        // (a short answer given as whole); a materialised one throws. boundedSelect keeps it to the row cap.
        const result = await prepared.run();
        const names = own.length === result.columnCount && !(own.length === 1 && own[0] === 'unknown') ? own : result.columnNames();
        const conv = converter(names, result.columnTypes());
        columns = conv.columns;
        read: while (!deadline.passed) {
          const chunk = await result.fetchChunk();
          if (!chunk || chunk.rowCount === 0) break;
          for (let i = 0; i < chunk.rowCount; i++) {
            if (!budget.add(conv.row(chunk.convertRowValues(i, JsonDuckDBValueConverter)))) break read;
          }
        }
      } catch (err) {
        throw new SandboxError(describe(err), 400);
      }
      return { columns, rows: budget.rows, truncated: budget.truncatedBy !== null, ...(budget.truncatedBy ? { truncatedBy: budget.truncatedBy } : {}) };
    } finally {
      prepared.destroySync();
      plain?.destroySync();
    }
  }

  close(): void {
    this.user.close();
    this.internal.close();
    this.ds.close();
  }
}
