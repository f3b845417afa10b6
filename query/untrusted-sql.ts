/**
 * SQL s3sift did not write (a detection file from `--rules`, a request to
 * `serve`) runs with one set of guarantees: one read-only SELECT, reading the
 * tables' files only, with no extension, no other file or network access,
 * and DuckDB's configuration frozen so the SQL cannot lift any of it.
 */
import { join, resolve, sep } from 'node:path';
import { StatementType, VARCHAR, type DuckDBConnection, type DuckDBExtractedStatements } from '@duckdb/node-api';
import { describe } from '../common/errors.js';
import { sqlString } from '../common/sql.js';
import { TABLES } from '../ingest/schema.js';

export interface LockOptions {
  /**
   * Keep DuckDB's temp folder, so that a query larger than memory spills to
   * disk (the CLI). Off (`serve`): every query may read the temp folder, so
   * there is none, and such a query fails instead.
   */
  spill?: boolean;
  /** Most memory DuckDB may use, in MiB (its default: 80% of the machine's). A query past it fails; the process stays up. */
  memoryLimitMb?: number;
}

/**
 * Lock the DuckDB instance of `conn` to the tables of `dataDir`: files
 * readable only under `<dataDir>/<table>/` (not the manifest with its source
 * paths, not `rejects/`), no external access, no extension installed or
 * loaded, configuration frozen. Call it after the views are made; once locked
 * the instance stays so, and locking again changes nothing.
 */
export async function lockToTables(conn: DuckDBConnection, dataDir: string, o: LockOptions = {}): Promise<void> {
  if ((await conn.runAndReadAll("SELECT current_setting('lock_configuration')")).getRows()[0]?.[0] === true) return;
  const dirs = TABLES.map((t) => sqlString(join(resolve(dataDir), t.name) + sep));
  for (const sql of [
    `SET allowed_directories = [${dirs.join(', ')}]`,
    ...(o.spill ? [] : ["SET temp_directory = ''"]),
    ...(o.memoryLimitMb === undefined ? [] : [`SET memory_limit = '${Math.floor(o.memoryLimitMb)}MiB'`]),
    'SET autoinstall_known_extensions = false',
    'SET autoload_known_extensions = false',
    'SET enable_external_access = false',
    'SET lock_configuration = true',
  ]) {
    await conn.run(sql);
  }
}

/** What DuckDB's parser makes of a text: why it is not one SELECT, or the one statement, ready to prepare. */
export type SelectCheck =
  | { ok: false; why: 'parse'; error: string }
  | { ok: false; why: 'count'; count: number }
  | { ok: false; why: 'not-select' }
  | { ok: true; extracted: DuckDBExtractedStatements };

/**
 * Whether `sql` is exactly one read-only SELECT. Nothing in it runs: DuckDB's
 * parser counts the statements, and serialises SELECT statements only, so a
 * PRAGMA, CALL, COPY, SET, ATTACH, INSTALL or CREATE is told apart before
 * anything is planned.
 */
export async function checkOneSelect(conn: DuckDBConnection, sql: string): Promise<SelectCheck> {
  let extracted;
  try {
    extracted = await conn.extractStatements(sql);
  } catch (err) {
    return { ok: false, why: 'parse', error: describe(err) };
  }
  if (extracted.count !== 1) return { ok: false, why: 'count', count: extracted.count };
  const kind = await conn.runAndReadAll(`SELECT json_serialize_sql(CAST($1 AS VARCHAR))::JSON->>'error'`, [sql], [VARCHAR]);
  if (kind.getRows()[0]?.[0] !== 'false') return { ok: false, why: 'not-select' };
  return { ok: true, extracted };
}

/** The statement's kind, when a prepared statement that passed checkOneSelect is not a SELECT after all. */
export function notSelectKind(type: StatementType): string | null {
  return type === StatementType.SELECT ? null : (StatementType[type] ?? 'unknown');
}

/**
 * Why `sql` is not one read-only SELECT, in words (null when it passes the
 * parser's checks). The caller prepares it, and checks the prepared kind
 * with notSelectKind: one prepare, not two.
 */
export async function notOneSelect(conn: DuckDBConnection, sql: string): Promise<string | null> {
  const c = await checkOneSelect(conn, sql);
  if (c.ok) return null;
  if (c.why === 'parse') return `does not parse: ${c.error}`;
  if (c.why === 'count') return `holds ${c.count} statements; one SELECT is allowed`;
  return 'is not a read-only SELECT (no PRAGMA, CALL, COPY, SET, ATTACH, INSTALL, CREATE, ...)';
}
