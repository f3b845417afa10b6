/**
 * `npm run bench`: s3sift's access-log ingest against DuckDB's own CSV reader
 * turning the same generated file into typed zstd Parquet, measured in the
 * same run (these 2-core machines are noisy: medians of several runs, runs
 * alternated). Each measurement runs in a fresh child process that reports
 * its wall time and peak RSS. Writes bench/out/ingest-access-log.md.
 *
 *   npm run bench -- --lines 300000,1000000 --runs 3
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateAccessLogLines } from '../scripts/gen-access-logs.js';

// Compiled to dist/bench/; the report and generated inputs live in bench/out/.
const OUT = new URL('../../bench/out/', import.meta.url).pathname;

interface Measure {
  seconds: number;
  rssMb: number;
}

/** The reference: DuckDB reads the raw log with its CSV reader and writes zstd Parquet. */
async function reference(file: string, out: string): Promise<void> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const inst = await DuckDBInstance.create(':memory:');
  const c = await inst.connect();
  const cols = Array.from({ length: 28 }, (_, i) => `'c${i}': 'VARCHAR'`).join(', ');
  await c.run(`COPY (SELECT c0 AS bucket_owner, c1 AS bucket, strptime(c2 || ' ' || c3, '[%d/%b/%Y:%H:%M:%S %z]') AS event_time,
      c4 AS remote_ip, c5 AS requester, c6 AS request_id, c7 AS operation, c8 AS "key", c9 AS request_uri,
      TRY_CAST(c10 AS INTEGER) AS http_status, c11 AS error_code, TRY_CAST(c12 AS BIGINT) AS bytes_sent,
      TRY_CAST(c13 AS BIGINT) AS object_size, TRY_CAST(c14 AS INTEGER) AS total_time_ms, TRY_CAST(c15 AS INTEGER) AS turnaround_time_ms,
      c16 AS referrer, c17 AS user_agent, c18 AS version_id, c19 AS host_id, c20 AS signature_version, c21 AS cipher_suite,
      c22 AS auth_type, c23 AS host_header, c24 AS tls_version, c25 AS access_point_arn, c26 = 'Yes' AS acl_required, c27 AS source_region
    FROM read_csv('${file}', delim = ' ', quote = '"', escape = '"', header = false, columns = {${cols}}, null_padding = true,
                  ignore_errors = true, strict_mode = false, auto_detect = false, nullstr = '-'))
    TO '${out}' (FORMAT parquet, COMPRESSION zstd)`);
  c.closeSync();
  inst.closeSync();
}

async function ours(file: string, out: string): Promise<void> {
  const { ingest } = await import('../ingest/index.js');
  await ingest([file], { data: out, format: 'access-log', force: false, strict: false });
}

/** Child mode: run one measurement and print {seconds, rssMb}. */
async function child(kind: string, file: string, out: string): Promise<void> {
  const t0 = performance.now();
  if (kind === 'reference') await reference(file, out);
  else await ours(file, out);
  const seconds = (performance.now() - t0) / 1000;
  process.stdout.write(JSON.stringify({ seconds, rssMb: process.resourceUsage().maxRSS / 1024 }) + '\n');
}

function measure(kind: string, file: string): Measure {
  const out = join(OUT, `run-${kind}`);
  rmSync(out, { recursive: true, force: true });
  const r = spawnSync(process.execPath, [new URL(import.meta.url).pathname, '--child', kind, '--file', file, '--out', kind === 'reference' ? out + '.parquet' : out], { encoding: 'utf8' });
  rmSync(out, { recursive: true, force: true });
  rmSync(out + '.parquet', { force: true });
  if (r.status !== 0) throw new Error(`${kind} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as Measure;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

async function generate(lines: number): Promise<string> {
  const file = join(OUT, `access-${lines}.log`);
  if (existsSync(file)) return file;
  const out = createWriteStream(file);
  let buf = '';
  for (const line of generateAccessLogLines({ lines, seed: 7, days: 7 })) {
    buf += line + '\n';
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await new Promise<void>((res) => out.once('drain', () => res()));
      buf = '';
    }
  }
  await new Promise<void>((res) => out.end(buf, () => res()));
  return file;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      file: { type: 'string' },
      out: { type: 'string' },
      lines: { type: 'string', default: '300000,1000000' },
      runs: { type: 'string', default: '3' },
    },
  });
  if (values.child) return child(values.child, values.file as string, values.out as string);
  mkdirSync(OUT, { recursive: true });
  const rows: string[] = [];
  for (const n of (values.lines as string).split(',').map(Number)) {
    const file = await generate(n);
    const ref: Measure[] = [];
    const us: Measure[] = [];
    for (let i = 0; i < Number(values.runs); i++) {
      ref.push(measure('reference', file));
      us.push(measure('s3sift', file));
      process.stderr.write(`${n} lines, run ${i + 1}: reference ${ref.at(-1)?.seconds.toFixed(2)} s, s3sift ${us.at(-1)?.seconds.toFixed(2)} s\n`);
    }
    const rt = median(ref.map((m) => m.seconds));
    const ut = median(us.map((m) => m.seconds));
    const rr = median(ref.map((m) => m.rssMb));
    const ur = median(us.map((m) => m.rssMb));
    rows.push(`| ingest ${n.toLocaleString('en-US')} access-log lines, wall | ${ut.toFixed(2)} s | ${rt.toFixed(2)} s | ${(ut / rt).toFixed(2)}x | ≤ 1.5x |`);
    rows.push(`| ingest ${n.toLocaleString('en-US')} access-log lines, peak RSS | ${ur.toFixed(0)} MB | ${rr.toFixed(0)} MB | ${(ur / rr).toFixed(2)}x | ≤ 512 MB |`);
  }
  const report = [
    `# Ingest benchmark (${new Date().toISOString().slice(0, 10)}, ${process.version}, medians of ${values.runs} runs)`,
    '',
    'Reference: DuckDB `read_csv` of the same generated file into typed zstd Parquet, in the same run.',
    '',
    '| figure | s3sift | reference | ratio | target |',
    '|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
  writeFileSync(join(OUT, 'ingest-access-log.md'), report);
  process.stdout.write(report);
}

await main();
