/**
 * The start-up benchmark's reference: what any Node program pays to answer
 * `SELECT 1` with DuckDB (load the package, open an in-memory database,
 * connect, query). Kept to exactly that, so it is not slowed by anything
 * s3sift would not also do.
 */
import { DuckDBInstance } from '@duckdb/node-api';

const instance = await DuckDBInstance.create(':memory:');
const conn = await instance.connect();
const rows = (await conn.runAndReadAll('SELECT 1')).getRows();
process.stdout.write(`${String(rows[0]?.[0])}\n`);
conn.closeSync();
instance.closeSync();
