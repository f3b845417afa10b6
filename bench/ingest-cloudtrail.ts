/**
 * `npm run bench` (second part): s3sift's CloudTrail ingest against DuckDB's
 * own JSON reader turning the same generated gzipped `{"Records": [...]}`
 * files into zstd Parquet (`read_json`, schema detected, `Records`
 * unnested), in the same run. Writes bench/out/ingest-cloudtrail.md.
 *
 *   node dist/bench/ingest-cloudtrail.js --records 300000,1000000 --runs 3
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { sqlString } from '../common/sql.js';
import { writeCloudTrailFiles } from '../scripts/gen-cloudtrail.js';
import { OUT, runBench } from './harness.js';

/** The reference: DuckDB's `read_json` over the same files, every record unnested into Parquet. */
async function reference(dir: string, out: string): Promise<void> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const inst = await DuckDBInstance.create(':memory:', { threads: '2', preserve_insertion_order: 'false' });
  const c = await inst.connect();
  await c.run(`COPY (SELECT unnest(Records, max_depth := 2) FROM read_json(${sqlString(`${dir}/**/*.json.gz`)}, maximum_object_size = 1000000000))
    TO ${sqlString(out)} (FORMAT parquet, COMPRESSION zstd)`);
  c.closeSync();
  inst.closeSync();
}

async function ours(dir: string, out: string): Promise<void> {
  const { ingest } = await import('../ingest/index.js');
  await ingest([dir], { data: out, format: 'cloudtrail', force: false, strict: false });
}

function generate(records: number): string {
  const dir = join(OUT, `cloudtrail-${records}`);
  if (!existsSync(join(dir, 'AWSLogs'))) writeCloudTrailFiles(dir, { records, seed: 7, days: 7 });
  return dir;
}

await runBench(new URL(import.meta.url).pathname, {
  name: 'ingest-cloudtrail',
  title: 'CloudTrail ingest benchmark',
  referenceDoc: 'DuckDB `read_json` of the same generated files (schema detected, `Records` unnested) into zstd Parquet',
  sizeFlag: 'records',
  sizes: '300000',
  target: '≤ 1.0x',
  label: (n) => `ingest ${n.toLocaleString('en-US')} CloudTrail records (gzipped Records files)`,
  generate,
  reference,
  ours,
});
