/**
 * `npm run bench` (second part): s3sift's CloudTrail ingest against DuckDB's
 * own JSON reader turning the same generated gzipped `{"Records": [...]}`
 * files into zstd Parquet (`read_json`, schema detected, `Records`
 * unnested), in the same run. Writes bench/out/ingest-cloudtrail.md.
 *
 *   node dist/bench/ingest-cloudtrail.js --records 300000,1000000 --runs 3
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeCloudTrailFiles } from '../scripts/gen-cloudtrail.js';
import { compare, OUT, report, reportChild } from './harness.js';

/** The reference: DuckDB's `read_json` over the same files, every record unnested into Parquet. */
async function reference(dir: string, out: string): Promise<void> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const inst = await DuckDBInstance.create(':memory:', { threads: '2', preserve_insertion_order: 'false' });
  const c = await inst.connect();
  await c.run(`COPY (SELECT unnest(Records, max_depth := 2) FROM read_json('${dir}/**/*.json.gz', maximum_object_size = 1000000000))
    TO '${out}' (FORMAT parquet, COMPRESSION zstd)`);
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

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      file: { type: 'string' },
      out: { type: 'string' },
      records: { type: 'string', default: '300000' },
      runs: { type: 'string', default: '3' },
    },
  });
  if (values.child) {
    const dir = values.file as string;
    const out = values.out as string;
    return reportChild(() => (values.child === 'reference' ? reference(dir, out + '.parquet') : ours(dir, out)));
  }
  mkdirSync(OUT, { recursive: true });
  const runs = Number(values.runs);
  const rows: string[] = [];
  for (const n of (values.records as string).split(',').map(Number)) {
    const dir = generate(n);
    rows.push(...compare(new URL(import.meta.url).pathname, `ingest ${n.toLocaleString('en-US')} CloudTrail records (gzipped Records files)`, dir, runs, join(OUT, 'run-cloudtrail')));
  }
  const text = report('CloudTrail ingest benchmark', 'DuckDB `read_json` of the same generated files (schema detected, `Records` unnested) into zstd Parquet', runs, rows);
  writeFileSync(join(OUT, 'ingest-cloudtrail.md'), text);
  process.stdout.write(text);
}

await main();
