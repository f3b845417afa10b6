/**
 * Runs the SQL given to `s3sift query` (or typed in its shell), one
 * statement after another as DuckDB's parser splits it, and shows each
 * result: under a header line in the formats for a person, alone in a
 * machine format (which holds one result: only the last statement may
 * return rows there).
 */
import { ResultReturnType, type DuckDBConnection } from '@duckdb/node-api';
import { QueryError, UsageError, describe } from '../common/errors.js';
import type { ExportFormat } from '../query/finding.js';
import type { Out, TextOut } from './command.js';

/** Where one statement's result goes (the shape of query/export.ts's `exportQuery`). */
export interface ExportOut {
  stream: Out;
  isTTY: boolean;
  path?: string;
}

/** Streams one statement's result in `format` to `out` (query/export.ts's `exportQuery`). */
export type ExportQuery = (conn: DuckDBConnection, sql: string, format: ExportFormat, out: ExportOut, opts: { csvRaw?: boolean; maxRows?: number }) => Promise<{ rows: number; shown?: number }>;

/** Formats for a person: several results can follow one another, each under a header. */
export const HUMAN_FORMATS: readonly string[] = ['table', 'line'];

export interface RunTarget {
  /** Header and status lines (escaped for a terminal). */
  text: TextOut;
  /** Where results go. */
  out: ExportOut;
  format: ExportFormat;
  csvRaw?: boolean;
  /** The table's rows at most (--max-rows). */
  maxRows?: number;
  exportQuery: ExportQuery;
  /** True once the person asked to stop (the shell's Ctrl-C): no statement starts after that, even when none was running to interrupt. */
  interrupted?: () => boolean;
}

/** Run every statement of `sql`; returns how many ran. A failing statement stops the run: a QueryError with its number and how many ran before it. */
export async function runStatements(conn: DuckDBConnection, sql: string, t: RunTarget): Promise<number> {
  const { firstWords, returnsRows, splitStatements } = await import('../query/statements.js');
  const statements = await splitStatements(conn, sql);
  if (t.interrupted?.()) throw new QueryError('interrupted: nothing was run');
  const opts = { csvRaw: t.csvRaw, ...(t.maxRows !== undefined ? { maxRows: t.maxRows } : {}) };
  const [only] = statements;
  if (statements.length === 1 && only !== undefined) {
    await t.exportQuery(conn, only, t.format, t.out, opts);
    return 1;
  }
  // A file (--output) holds one result whatever its format: each result would replace the one before.
  const human = HUMAN_FORMATS.includes(t.format) && t.out.path === undefined;
  const total = statements.length;
  for (const [i, sql] of statements.entries()) {
    const n = i + 1;
    if (t.interrupted?.()) {
      throw new QueryError(`interrupted: statement ${n} of ${total} and those after it were not run, ${i} statement${i === 1 ? '' : 's'} before it ran`);
    }
    const label = `-- statement ${n} of ${total}: ${firstWords(sql)}`;
    if (human && i > 0) t.text.write('\n');
    try {
      if (human && (await returnsRows(conn, sql))) {
        t.text.line(label);
        await t.exportQuery(conn, sql, t.format, t.out, opts);
      } else if (!human && n === total) {
        await t.exportQuery(conn, sql, t.format, t.out, opts);
      } else {
        // DuckDB says what a statement returned once it ran: one returnsRows did not expect to is said, never dropped.
        const rows = (await conn.run(sql)).returnType === ResultReturnType.QUERY_RESULT;
        if (human) t.text.line(`${label} (done${rows ? '; it returns rows: run it alone to see them' : ''})`);
        else if (rows) {
          // Two results in one JSON document or CSV file would pass for one: refuse before writing anything.
          throw new UsageError(
            `${t.out.path === undefined ? `--format ${t.format}` : '--output'} holds one result, so only the last statement may return rows: statement ${n} of ${total} (${firstWords(sql)}) returns rows; ` +
              `nothing was written: run the queries one at a time${t.out.path === undefined ? ', or use --format table' : ''}`,
          );
        }
      }
    } catch (err) {
      if (err instanceof UsageError) throw err;
      const before = i === 0 ? 'none ran before it' : `${i} statement${i > 1 ? 's' : ''} before it ran`;
      throw new QueryError(`statement ${n} of ${total} (${firstWords(sql)}) failed, ${before}: ${describe(err).replace(/^(Query|QueryError): /, '')}`, { cause: err });
    }
  }
  return total;
}
