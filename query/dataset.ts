/**
 * Opens a dataset folder in DuckDB: each declared table becomes a view over
 * its Parquet files (the `date` partition comes back as a column), or an
 * empty table of the declared shape when nothing was ingested yet, so
 * queries never fail for want of data.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { TABLES, duckdbCreateTable, quoteIdent } from '../ingest/schema.js';

export interface OpenDataset {
  instance: DuckDBInstance;
  conn: DuckDBConnection;
  close(): void;
}

async function hasParquet(dir: string): Promise<boolean> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true });
  } catch {
    return false;
  }
  return entries.some((e) => e.isFile() && e.name.endsWith('.parquet'));
}

/** Open `dir` read-only: views `access_log`, ... over its Parquet files. */
export async function openDataset(dir: string): Promise<OpenDataset> {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    for (const t of TABLES) {
      const root = join(dir, t.name);
      if (await hasParquet(root)) {
        const glob = join(root, '*', '*.parquet').replaceAll("'", "''");
        await conn.run(`CREATE VIEW ${quoteIdent(t.name)} AS SELECT * FROM read_parquet('${glob}', hive_partitioning = true, hive_types = {'date': DATE})`);
      } else {
        await conn.run(duckdbCreateTable(t).replace('CREATE TABLE', 'CREATE TEMP TABLE'));
      }
    }
  } catch (err) {
    conn.closeSync();
    instance.closeSync();
    throw err;
  }
  return {
    instance,
    conn,
    close() {
      conn.closeSync();
      instance.closeSync();
    },
  };
}
