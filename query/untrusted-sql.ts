/**
 * SQL s3sift did not write (a detection file from `--rules`, a request to
 * `serve`) runs with one set of guarantees: one read-only SELECT, over the
 * dataset's files only, with no extension, no other file or network access,
 * and DuckDB's configuration frozen so the SQL cannot lift any of it.
 */
import { resolve } from 'node:path';
import { StatementType, VARCHAR, type DuckDBConnection } from '@duckdb/node-api';
import { describe } from '../common/errors.js';
import { sqlString } from '../common/sql.js';

/**
 * Lock the DuckDB instance of `conn` to `dataDir`: only that folder readable,
 * no external access, no extension installs or loads, configuration frozen.
 * Once locked it stays so; locking again changes nothing.
 */
export async function lockToDataset(conn: DuckDBConnection, dataDir: string): Promise<void> {
  const locked = (await conn.runAndReadAll("SELECT current_setting('lock_configuration')")).getRows()[0]?.[0];
  if (locked === true) return;
  for (const sql of [
    `SET allowed_directories = [${sqlString(resolve(dataDir))}]`,
    'SET autoinstall_known_extensions = false',
    'SET autoload_known_extensions = false',
    'SET enable_external_access = false',
    'SET lock_configuration = true',
  ]) {
    await conn.run(sql);
  }
}

/**
 * Why `sql` is not one read-only SELECT (null when it is): several
 * statements, or a PRAGMA, CALL, COPY, SET, ATTACH, INSTALL, CREATE, ...
 * Nothing in it runs: DuckDB's parser counts and classifies it.
 */
export async function notOneSelect(conn: DuckDBConnection, sql: string): Promise<string | null> {
  let extracted;
  try {
    extracted = await conn.extractStatements(sql);
  } catch (err) {
    return `does not parse: ${describe(err)}`;
  }
  if (extracted.count !== 1) return `holds ${extracted.count} statements; one SELECT is allowed`;
  // DuckDB's parser serialises SELECT statements only: PRAGMA, CALL, COPY, SET, ... come back as an error.
  const kind = await conn.runAndReadAll(`SELECT json_serialize_sql(CAST($1 AS VARCHAR))::JSON->>'error'`, [sql], [VARCHAR]);
  if (kind.getRows()[0]?.[0] !== 'false') return 'is not a read-only SELECT (no PRAGMA, CALL, COPY, SET, ATTACH, INSTALL, CREATE, ...)';
  let prepared;
  try {
    prepared = await extracted.prepare(0);
  } catch {
    return null; // one SELECT that does not plan: the caller's own check says why
  }
  try {
    return prepared.statementType === StatementType.SELECT ? null : `is a ${StatementType[prepared.statementType] ?? 'statement'} statement, not a SELECT`;
  } finally {
    prepared.destroySync();
  }
}
