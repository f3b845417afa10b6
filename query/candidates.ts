/**
 * Candidate rows: one scan of a table for many detections.
 *
 * A detection whose SQL reads only a few rows of a table (a SigV2 request,
 * a root caller, a delete) says which in its `candidates:` key: a condition
 * on the table's columns that every row its SQL needs meets. A DuckDB run
 * with at least MIN_DETECTIONS such detections on a table reads the table
 * once, keeping the rows any of them names (the columns their SQL names
 * and their conditions test), and runs each of those detections' SQL with
 * the table's name standing for its own rows only (its condition tested
 * again over the rows kept): a temporary view that shadows the table, and so also `s3_requests`, which reads it. The view has
 * every column of the table; one the scan left out fails the query when its
 * value is read (through a `*` or a whole row), never reads as NULL: DuckDB
 * leaves out of a query the columns of a view it does not read, so the
 * error runs only for a value the answer would depend on. Coverage SQL and `with:`
 * queries always read the whole tables; Athena ignores the key. The answer
 * is the same either way (each detection's tests run both ways).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { VARCHAR } from '@duckdb/node-api';
import { DetectionError } from '../common/errors.js';
import { sqlIdentifier, sqlString } from '../common/sql.js';
import { SOURCES, type Detection } from './detection.js';
import { s3RequestsSql } from './views.js';

type Source = (typeof SOURCES)[number];

/** A table gets its candidate scan when this many of the run's detections name it (fewer: each reads the table itself). */
export const MIN_DETECTIONS = 3;
/**
 * Nor when the rows they name are more than this: the scan keeps them in
 * memory (the columns named, up to about 2 KB an access-log row), and a flood of failed
 * requests must not make a run fail where reading the table per detection
 * would not.
 */
export const MAX_ROWS = 500_000;

const tableOf = (t: Source): string => `_s3sift_candidates_${t}`;
/** What a condition may be made of: columns, constants, and operators and functions over them (no *, no subquery, no parameter). */
const EXPRESSION_CLASSES = new Set(['COLUMN_REF', 'CONSTANT', 'COMPARISON', 'CONJUNCTION', 'OPERATOR', 'FUNCTION', 'CAST', 'CASE', 'BETWEEN']);

/**
 * The columns of `columns` that `users`' SQL may read by name: each that is
 * a word of its text, or of the `s3_requests` view's for SQL that reads the
 * view (more than it reads, never fewer). A column read without its name
 * (`*`, a whole row) is left out all the same: the view fails on it.
 */
export function columnsNamed(users: readonly Detection[], columns: readonly string[]): Set<string> {
  const text = users.map((d) => `${d.sql}\n${d.sqlAsWritten ?? ''}`).join('\n');
  return wordsOf(/\bs3_requests\b/i.test(text) ? `${text}\n${s3RequestsSql()}` : text, columns);
}

/** The columns of `columns` that are words of `text`. */
function wordsOf(text: string, columns: readonly string[]): Set<string> {
  return new Set(columns.filter((c) => new RegExp(`\\b${c.replace(/[^A-Za-z0-9_]/g, '\\$&')}\\b`, 'i').test(text)));
}

/** The view of one detection's rows: every column of the table in its order, those the scan left out failing when read. */
function viewSql(table: Source, d: Detection, columns: ReadonlyArray<{ name: string; type: string }>, kept: ReadonlySet<string>, cond: string): string {
  const why = (c: string): string => sqlString(`${d.id} (${d.file}): its SQL reads the column ${c} of ${table} without naming it (a * or a whole row), and the candidate scan keeps only the columns named: name it`);
  const select = columns.map((c) => (kept.has(c.name) ? sqlIdentifier(c.name) : `CAST(error(${why(c.name)}) AS ${c.type}) AS ${sqlIdentifier(c.name)}`));
  // Under the table's name: the condition may name a column by its table (`access_log.operation`), as the check allows.
  return `SELECT ${select.join(', ')} FROM ${tableOf(table)} AS ${sqlIdentifier(table)} WHERE ${cond}`;
}

/**
 * Check `d`'s candidate conditions before anything runs: each must be one
 * expression on the table's columns (no subquery, no parameter), which
 * DuckDB's parser confirms as the only item of `SELECT (...) FROM table`,
 * so that it stays one expression wherever it is put; then it must bind.
 */
export async function checkCandidates(conn: DuckDBConnection, d: Detection): Promise<void> {
  for (const [table, cond] of Object.entries(d.candidates ?? {}) as Array<[Source, string]>) {
    const fail = (why: string): never => {
      throw new DetectionError(`${d.file}: candidates ${table}: ${why}`);
    };
    const text = `SELECT (${cond}\n) FROM ${table}`;
    const parsed = JSON.parse(String((await conn.runAndReadAll('SELECT json_serialize_sql(CAST($1 AS VARCHAR))', [text], [VARCHAR])).getRows()[0]?.[0])) as {
      error: boolean;
      error_message?: string;
      statements?: Array<{ node: Record<string, unknown>; named_param_map?: unknown[] }>;
    };
    if (parsed.error) fail(`does not parse: ${parsed.error_message ?? 'syntax error'}`);
    const st = parsed.statements ?? [];
    const node = st[0]?.node as { type?: string; select_list?: unknown[]; from_table?: { type?: string; table_name?: string }; where_clause?: unknown; modifiers?: unknown[] } | undefined;
    const one = st.length === 1 && node?.type === 'SELECT_NODE' && node.select_list?.length === 1 && node.from_table?.type === 'BASE_TABLE' &&
      node.from_table.table_name === table && node.where_clause === null && (node.modifiers?.length ?? 0) === 0;
    if (!one) fail('must be one condition on the columns of the table (a WHERE clause\'s text), nothing after it');
    const classes = [...JSON.stringify(node?.select_list).matchAll(/"class":"([A-Z_]+)"/g)].map((m) => m[1] as string);
    if (classes.includes('SUBQUERY')) fail('may not hold a subquery: it is tested on each row of the table, alone');
    if (classes.includes('PARAMETER') || (st[0]?.named_param_map?.length ?? 0) > 0) fail('may not use parameters: one scan serves every detection, whatever their values');
    const other = classes.filter((c) => !EXPRESSION_CLASSES.has(c));
    if (other.length) fail(`may test columns with operators and functions only (it holds ${[...new Set(other)].join(', ').toLowerCase()})`);
    try {
      const p = await conn.prepare(`SELECT count(*) FROM ${table} WHERE (${cond}\n) IS TRUE`);
      p.destroySync();
    } catch (err) {
      fail(`does not run on the table: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

export interface Candidates {
  /** Run `fn` (`d`'s SQL) with the tables `d` names candidates of holding its rows only; they are whole again after. */
  narrowed<T>(d: Detection, fn: () => Promise<T>): Promise<T>;
  /** Drop the candidate tables. */
  drop(): Promise<void>;
}

/**
 * Scan each table `detections` name candidates of (at least `min` of them,
 * naming at most `maxRows` rows in all) once, into a temporary table of the
 * rows any of them names. The conditions must have passed checkCandidates.
 */
export async function scanCandidates(conn: DuckDBConnection, detections: readonly Detection[], min = MIN_DETECTIONS, maxRows = MAX_ROWS): Promise<Candidates> {
  // By detection: each table it names, and the query of its rows there.
  const views = new Map<string, Array<[Source, string]>>();
  const made: Source[] = [];
  try {
    for (const table of SOURCES) {
      const users = detections.filter((d) => d.candidates?.[table] !== undefined);
      if (users.length < min) continue;
      const conds = users.map((d) => `(${d.candidates?.[table] as string}\n) IS TRUE`);
      // Counting reads only the columns the conditions test.
      const rows = Number((await conn.runAndReadAll(`SELECT count(*) FROM ${table} WHERE ${conds.join(' OR ')}`)).getRows()[0]?.[0] ?? 0);
      if (rows > maxRows) continue;
      const describe = async (sql: string): Promise<Array<{ name: string; type: string }>> =>
        (await conn.runAndReadAll(`DESCRIBE ${sql}`)).getRows().map((r) => ({ name: String(r[0]), type: String(r[1]) }));
      const columns = await describe(table);
      // Only the columns their SQL names: a Parquet scan pays for every column it decodes, and this one decodes every row.
      // And those the conditions test: each view tests its own condition again, over the rows kept (testing them once
      // more there costs less than keeping each row's answers from the scan: 0.5 s of CPU at 10M events).
      const named = columnsNamed(users, columns.map((c) => c.name));
      const kept = new Set([...named, ...wordsOf(conds.join('\n'), columns.map((c) => c.name))]);
      await conn.run(`CREATE OR REPLACE TEMP TABLE ${tableOf(table)} AS
        SELECT ${columns.filter((c) => kept.has(c.name)).map((c) => sqlIdentifier(c.name)).join(', ') || '1 AS _s3sift_none'}
        FROM ${table} WHERE ${conds.join(' OR ')}`);
      made.push(table);
      for (const [i, d] of users.entries()) {
        const sql = viewSql(table, d, columns, kept, conds[i] as string);
        // The view gives the table's columns, in its order, of its types, and nothing else.
        if (JSON.stringify(await describe(sql)) !== JSON.stringify(columns)) throw new DetectionError(`the candidate scan of ${table} made a view of other columns than the table's (${d.id})`);
        views.set(d.id, [...(views.get(d.id) ?? []), [table, sql]]);
      }
    }
  } catch (err) {
    for (const t of made) await conn.run(`DROP TABLE IF EXISTS ${tableOf(t)}`);
    throw err;
  }
  return {
    async narrowed(d, fn) {
      const mine = views.get(d.id) ?? [];
      try {
        // The temporary view is found before the table's own view of the same name, by the detection's SQL and by s3_requests.
        for (const [table, sql] of mine) await conn.run(`CREATE OR REPLACE TEMP VIEW ${table} AS ${sql}`);
        return await fn();
      } finally {
        for (const [table] of mine) await conn.run(`DROP VIEW IF EXISTS temp.${table}`);
      }
    },
    async drop() {
      for (const t of made) await conn.run(`DROP TABLE IF EXISTS ${tableOf(t)}`);
    },
  };
}
