/**
 * The SQL that makes another DuckDB client (the duckdb CLI, Python, ...)
 * see a dataset as `s3sift query` does: the session's time zone, the
 * dialect's macros, and every table and view an opened dataset defines,
 * in the order they were made, with the dataset's absolute paths.
 * `s3sift query --print-views`.
 */
import { DUCKDB_MACROS, NATIVE_FUNCTIONS } from './dialect.js';
import type { OpenDataset } from './dataset.js';

/**
 * The statements, as a script. They are read back from DuckDB's catalog of
 * the opened dataset, so they are the very views s3sift queries (open it
 * with an absolute folder: a view keeps the path it was given).
 */
export async function viewsSql(ds: OpenDataset): Promise<string> {
  // Tables (a table nothing was ingested into is an empty one) and views, in the order they were made: a view reads those before it.
  const reader = await ds.conn.runAndReadAll(`
    SELECT sql FROM (
      SELECT table_oid AS oid, sql FROM duckdb_tables() WHERE NOT internal AND NOT temporary AND database_name = current_database()
      UNION ALL
      SELECT view_oid, sql FROM duckdb_views() WHERE NOT internal AND NOT temporary AND database_name = current_database()
    ) ORDER BY oid`);
  const objects = reader.getRows().map((r) => String(r[0]).trim().replace(/^CREATE (VIEW|TABLE) /, 'CREATE OR REPLACE $1 ').replace(/;?$/, ';'));
  return [
    `-- s3sift dataset ${JSON.stringify(ds.dir)}: its tables and views for any DuckDB client,`,
    '-- e.g. duckdb -init views.sql (made by s3sift query --print-views).',
    "-- Times are UTC, as in s3sift; the macros give DuckDB the Trino names detections use.",
    `-- Not included (they run inside s3sift only): ${NATIVE_FUNCTIONS.join(', ')}.`,
    "SET TimeZone = 'UTC';",
    'SET parquet_metadata_cache = true;',
    ...DUCKDB_MACROS.map(([, sql]) => `${sql};`),
    ...objects,
    '',
  ].join('\n');
}
