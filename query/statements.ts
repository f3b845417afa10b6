/**
 * SQL text with several statements, split where DuckDB's own parser splits
 * it: a `;` inside a string, a quoted name, a comment or a dollar-quoted
 * body is not a boundary. DuckDB's API counts the statements of a text
 * (`extractStatements`) but gives no text for each, so a `;` is taken as a
 * boundary only when the parser agrees: the text up to it holds whole
 * statements, and a statement written after it counts as one more.
 */
import { StatementType, type DuckDBConnection } from '@duckdb/node-api';
import { QueryError, describe } from '../common/errors.js';

/** A statement after which nothing can follow on its line (a `;` in a line comment would swallow it). */
const PROBE = '\nSELECT 1';

/**
 * How many statements DuckDB's parser finds in `sql` (0 for only blanks,
 * comments and `;`), or the parser's error. A `;` is appended before a
 * probe statement because DuckDB refuses to count an empty text.
 */
async function countStatements(conn: DuckDBConnection, sql: string): Promise<number | Error> {
  try {
    return (await conn.extractStatements(`${sql}\n;SELECT 1`)).count - 1;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/** The parser's message, without DuckDB's prefix. */
const parserMessage = (err: Error): string => describe(err).replace(/^Failed to extract statements: /, '');

/** True when the `;` that ends `piece` ends a statement as DuckDB's parser sees it (not one inside a line comment). */
async function endsStatement(conn: DuckDBConnection, piece: string, count: number): Promise<boolean> {
  return (await countStatements(conn, piece + PROBE)) === count + 1;
}

/**
 * The statements of `sql`, each as its own text (trimmed, with its `;`),
 * in order. Blanks, comments and empty statements between them are kept
 * with the statement after them (or the one before, at the end). SQL the
 * parser refuses is a QueryError saying nothing was run.
 */
export async function splitStatements(conn: DuckDBConnection, sql: string): Promise<string[]> {
  const total = await countStatements(conn, sql);
  if (total instanceof Error) throw new QueryError(`the SQL does not parse (nothing was run): ${parserMessage(total)}`);
  if (total === 0) throw new QueryError('the SQL holds no statement (only blanks, comments or ;)');
  // One statement (the usual query) is not split: its text stays whole, and no ; in it is tried.
  if (total === 1) return [sql.trim()];
  const pieces: string[] = [];
  // A statement may count as several (DuckDB expands a PIVOT into more): the counts of the pieces add up to the whole's.
  let counted = 0;
  let start = 0;
  for (let at = sql.indexOf(';'); at >= 0; at = sql.indexOf(';', at + 1)) {
    const piece = sql.slice(start, at + 1);
    const count = await countStatements(conn, piece);
    // An unterminated string or comment is an error here; a piece of blanks, comments or `;` alone is kept with the next.
    if (typeof count !== 'number' || count === 0 || !(await endsStatement(conn, piece, count))) continue;
    pieces.push(piece);
    counted += count;
    start = at + 1;
  }
  const rest = sql.slice(start);
  if (rest.trim()) {
    const count = await countStatements(conn, rest);
    if (count === 0 && pieces.length) pieces[pieces.length - 1] += rest;
    else if (typeof count === 'number' && count > 0) {
      pieces.push(rest);
      counted += count;
    }
  }
  // Every statement the parser counted is in exactly one piece; anything else is a bug here, never a guess.
  if (counted !== total) throw new Error(`splitting SQL into statements found ${counted} where DuckDB's parser counts ${total}`);
  return pieces.map((p) => p.trim());
}

/** Whether a shell's input so far is a whole statement to run, or needs more lines. */
export async function inputComplete(conn: DuckDBConnection, text: string): Promise<boolean> {
  if (!text.trimEnd().endsWith(';')) return false;
  const count = await countStatements(conn, text);
  // SQL that fails for another reason than an open string or comment is run, so that its error shows.
  if (count instanceof Error) return !/unterminated/i.test(count.message);
  // Only blanks, comments and ;: done (running it says there is no statement).
  return count === 0 || (await endsStatement(conn, text, count));
}

/** Whether `text` holds anything to run: a statement, or SQL the parser refuses (an open string); not only blanks and comments. */
export async function holdsStatement(conn: DuckDBConnection, text: string): Promise<boolean> {
  const count = await countStatements(conn, text);
  return count instanceof Error || count > 0;
}

/**
 * The statements whose result is rows to show (a query, EXPLAIN, CALL, PRAGMA, the EXECUTE of a prepared statement,
 * which shows a count when that is all it returns); the rest (CREATE, SET, ...) only report success.
 */
const ROW_STATEMENTS: ReadonlySet<StatementType> = new Set([StatementType.SELECT, StatementType.EXPLAIN, StatementType.CALL, StatementType.PRAGMA, StatementType.RELATION, StatementType.EXECUTE]);
/** Changes whose result is one `Count` column, or, with RETURNING, the rows returned. */
const CHANGES: ReadonlySet<StatementType> = new Set([StatementType.INSERT, StatementType.UPDATE, StatementType.DELETE]);

/**
 * Whether `sql` (one statement) returns rows, before it runs: binding it is the only way to know (`PRAGMA table_info`
 * is a SELECT). A statement DuckDB expands into several (PIVOT) cannot be bound alone: taken as returning rows, so
 * whatever it returns is shown.
 */
export async function returnsRows(conn: DuckDBConnection, sql: string): Promise<boolean> {
  let prepared;
  try {
    prepared = await conn.prepare(sql);
  } catch (err) {
    if (/multiple statements/i.test(describe(err))) return true;
    throw err;
  }
  try {
    if (CHANGES.has(prepared.statementType)) return !(prepared.columnCount === 1 && prepared.columnName(0) === 'Count');
    return ROW_STATEMENTS.has(prepared.statementType);
  } finally {
    prepared.destroySync();
  }
}

/** A statement's first words on one line, for a header or an error: `SELECT operation, count(*) FROM s3_requests …`. */
export function firstWords(sql: string, max = 60): string {
  const line = sql
    .replace(/--[^\n]*\n/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/**
 * The SQL without the `;` and spaces at its end, which cannot stand inside
 * a subquery's parentheses (a trailing comment can, on its own line). A
 * loop, in time linear in the text: `/[\s;]+$/` backtracks on a long run.
 */
export function withoutTrailingSemicolons(sql: string): string {
  let end = sql.length;
  while (end > 0 && (sql[end - 1] === ';' || /\s/.test(sql[end - 1] as string))) end--;
  return sql.slice(0, end);
}
