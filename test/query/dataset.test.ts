/**
 * Opening a dataset whose Parquet files were written by different versions:
 * columns are matched by name, and a column a file lacks reads as NULL, the
 * same whether every file lacks it or only some do.
 */
import { readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../../ingest/ingest.js';
import { openDataset } from '../../query/dataset.js';
import { sqlString } from '../../common/sql.js';
import { tempDir } from '../helpers/dataset.js';

const LINE = (time: string, id: string): string =>
  `a3f1c2d4e5b6978812ab34cd56ef7890a1b2c3d4e5f60718293a4b5c6d7e8f90 prod-data [10/Mar/2025:${time} +0000] 10.0.12.34 ` +
  `arn:aws:sts::111122223333:assumed-role/etl-role/i-0a1b2c3d ${id} REST.GET.OBJECT a.csv "GET /prod-data/a.csv HTTP/1.1" 200 - 10 10 14 5 "-" ` +
  `"aws-cli/2.15.0" - host-id= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader prod-data.s3.us-east-1.amazonaws.com TLSv1.2 - -\n`;

/** Rewrite the Parquet file `path` in place without `column`, and with its rows' `source_line` moved by `shift`. */
async function rewriteWithout(path: string, column: string, shift: number): Promise<void> {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  try {
    await conn.run(`COPY (SELECT * EXCLUDE ("${column}") REPLACE (source_line + ${shift} AS source_line) FROM read_parquet(${sqlString(path)})) TO ${sqlString(`${path}.tmp`)} (FORMAT parquet)`);
  } finally {
    conn.closeSync();
    db.closeSync();
  }
  renameSync(`${path}.tmp`, path);
}

/** The one Parquet file of the access log's first date partition. */
function partitionFile(data: string): string {
  const root = join(data, 'access_log');
  const part = readdirSync(root).filter((n) => n.startsWith('date='))[0] as string;
  const name = readdirSync(join(root, part)).find((n) => n.endsWith('.parquet')) as string;
  return join(root, part, name);
}

async function tlsVersions(data: string): Promise<unknown[]> {
  const ds = await openDataset(data);
  try {
    return (await ds.conn.runAndReadAll('SELECT request_id, tls_version FROM access_log ORDER BY request_id')).getRows();
  } finally {
    ds.close();
  }
}

describe('a dataset written by several versions', () => {
  const tmp = tempDir();
  let data: string;
  beforeAll(async () => {
    data = join(tmp.dir, 'd');
    const first = join(tmp.dir, 'first.log');
    writeFileSync(first, LINE('01:00:00', 'REQOLDVERSION001'));
    await ingest([first], { data, format: 'access-log', force: false, strict: false });
  });
  afterAll(() => tmp.cleanup());

  it('reads a column every file lacks as NULL', async () => {
    await rewriteWithout(partitionFile(data), 'tls_version', 0);
    expect(await tlsVersions(data)).toEqual([['REQOLDVERSION001', null]]);
  });

  it('reads a column only some files have: NULL from the files without it, the values from the others', async () => {
    const second = join(tmp.dir, 'second.log');
    writeFileSync(second, LINE('02:00:00', 'REQNEWVERSION002'));
    await ingest([second], { data, format: 'access-log', force: false, strict: false });
    expect(await tlsVersions(data)).toEqual([
      ['REQNEWVERSION002', 'TLSv1.2'],
      ['REQOLDVERSION001', null],
    ]);
  });
});
