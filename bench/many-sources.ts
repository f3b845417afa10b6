/**
 * `npm run bench -- --only many-sources`: S3 delivers access logs as many
 * small objects. Measures, each next to a reference of the same run (these
 * 2-core machines are noisy: runs alternated, medians):
 *
 * - ingesting a folder of 100,000 files of 20 lines, against DuckDB's
 *   `read_csv` of the same files (a glob) into zstd Parquet;
 * - a re-run that finds nothing new, against a walk that stats every file
 *   (the least a re-run can do);
 * - the same re-run with 1,000,000 sources in the manifest (900,000 made up
 *   in an older segment, written directly rather than ingested);
 * - the fixed cost of the manifest: one new file ingested into that
 *   1,000,000-source dataset, against the same file into an empty one.
 *
 *   npm run bench -- --only many-sources        (or: node dist/bench/many-sources.js --files 20000 --runs 1)
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { sqlString } from '../common/sql.js';
import { generateAccessLogLines } from '../scripts/gen-access-logs.js';
import { median, OUT, ratio, reportChild, saveSection, type Figure, type Measure } from './harness.js';

const LINES_PER_FILE = 20;
const KNOWN = 1_000_000;

const { values } = parseArgs({
  options: {
    child: { type: 'string' },
    file: { type: 'string' },
    out: { type: 'string' },
    files: { type: 'string', default: '100000' },
    runs: { type: 'string', default: '3' },
  },
});

async function ingestInto(args: string[], data: string): Promise<void> {
  const { ingest } = await import('../ingest/index.js');
  await ingest(args, { data, format: 'access-log', force: false, strict: false });
}

/** DuckDB reads every file of the folder (a glob) with its CSV reader and writes zstd Parquet. */
async function reference(folder: string, out: string): Promise<void> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const inst = await DuckDBInstance.create(':memory:');
  const c = await inst.connect();
  const cols = Array.from({ length: 28 }, (_, i) => `'c${i}': 'VARCHAR'`).join(', ');
  await c.run(`COPY (SELECT * FROM read_csv(${sqlString(join(folder, '*'))}, delim = ' ', quote = '"', escape = '"', header = false, columns = {${cols}},
      null_padding = true, ignore_errors = true, strict_mode = false, auto_detect = false, nullstr = '-', filename = true))
    TO ${sqlString(out + '.parquet')} (FORMAT parquet, COMPRESSION zstd)`);
  c.closeSync();
  inst.closeSync();
}

/** The least a re-run does: list the folder and stat every file. */
async function walk(folder: string): Promise<void> {
  let n = 0;
  for (const name of readdirSync(folder)) n += statSync(join(folder, name)).size > 0 ? 1 : 0;
  if (n === 0) throw new Error('nothing listed');
}

const CHILDREN: Record<string, (input: string, out: string) => Promise<void>> = {
  ingest: (input, out) => ingestInto([input], out),
  reference,
  walk: (input) => walk(input),
};

if (values.child) {
  const fn = CHILDREN[values.child];
  if (!fn) throw new Error(`no child ${values.child}`);
  await reportChild(() => fn(values.file as string, values.out as string));
  process.exit(0);
}

const script = new URL(import.meta.url).pathname;
const runs = Number(values.runs);
const n = Number(values.files);

function child(kind: string, input: string, out: string): Measure {
  const r = spawnSync(process.execPath, [script, '--child', kind, '--file', input, '--out', out], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${kind} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as Measure;
}

/** `n` files of 20 lines (S3's names), made once; their ctimes are then more than 2 s old, as delivered logs' are. */
async function generate(): Promise<string> {
  const dir = join(OUT, `small-${n}`);
  // The mark of a complete folder lies beside it: a dot-file inside would be warned about as hidden.
  if (existsSync(`${dir}.complete`)) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  let i = 0;
  let chunk: string[] = [];
  for (const line of generateAccessLogLines({ lines: n * LINES_PER_FILE, seed: 3, days: 2, quirks: 0 })) {
    chunk.push(line);
    if (chunk.length === LINES_PER_FILE) {
      writeFileSync(join(dir, `2025-03-10-00-00-00-${String(i++).padStart(8, '0')}`), chunk.join('\n') + '\n');
      chunk = [];
    }
  }
  writeFileSync(`${dir}.complete`, '');
  await sleep(2100);
  return dir;
}

/** A copy of dataset `data` whose manifest also knows `extra` made-up sources, in a segment older than its own. */
async function withKnown(data: string, extra: number, out: string): Promise<void> {
  const { writeSegment, MANIFEST } = await import('../ingest/manifest.js');
  rmSync(out, { recursive: true, force: true });
  cpSync(data, out, { recursive: true });
  const head = JSON.parse(readFileSync(join(out, MANIFEST), 'utf8')) as { sources: number; segments: unknown[]; next: number };
  function* made() {
    for (let i = 0; i < extra; i++) {
      yield {
        key: `/var/log/s3/made-up/2025-01-01-00-00-00-${String(i).padStart(8, '0')}`, name: `made-up/${i}`, fingerprint: `4100:${i.toString(16).padStart(32, '0')}`,
        table: 'access_log', run: '20250101T000000Z-000000', ingested_at: '2025-01-01T00:00:00.000Z', lines: 20, rows: 20, rejected: 0, skipped: 0,
        files: ['access_log/date=2025-01-01/20250101T000000Z-000000-0.parquet'], rejects: null, stat: `2049:${i}:4100:1735689600000000000:1735689600000000000`,
      };
    }
  }
  const ref = await writeSegment(out, head.next, made(), extra);
  writeFileSync(join(out, MANIFEST), JSON.stringify({ ...head, sources: head.sources + extra, segments: [ref, ...head.segments], next: head.next + 1 }, null, 1) + '\n');
}

const secs = (m: Measure[]): number => median(m.map((x) => x.seconds));
const mb = (m: Measure[]): number => median(m.map((x) => x.rssMb));
const fmt = (s: number): string => `${s.toFixed(2)} s`;

const folder = await generate();
const data = join(OUT, 'many-data');
const label = `${n.toLocaleString('en-US')} files of ${LINES_PER_FILE} lines`;
const first: Measure[] = [];
const ref: Measure[] = [];
for (let i = 0; i < runs; i++) {
  rmSync(join(OUT, 'many-ref.parquet'), { force: true });
  ref.push(child('reference', folder, join(OUT, 'many-ref')));
  rmSync(data, { recursive: true, force: true });
  first.push(child('ingest', folder, data));
  process.stderr.write(`${label}, run ${i + 1}: reference ${fmt(ref.at(-1)!.seconds)}, s3sift ${fmt(first.at(-1)!.seconds)}, ${first.at(-1)!.rssMb.toFixed(0)} MB\n`);
}
rmSync(join(OUT, 'many-ref.parquet'), { force: true });

const rerun: Measure[] = [];
const walked: Measure[] = [];
for (let i = 0; i < runs; i++) {
  walked.push(child('walk', folder, ''));
  rerun.push(child('ingest', folder, data));
  process.stderr.write(`re-run, run ${i + 1}: walk ${fmt(walked.at(-1)!.seconds)}, s3sift ${fmt(rerun.at(-1)!.seconds)}\n`);
}

const big = join(OUT, 'many-1m');
await withKnown(data, KNOWN - n, big);
const rerunBig: Measure[] = [];
const oneBig: Measure[] = [];
const oneEmpty: Measure[] = [];
for (let i = 0; i < runs; i++) {
  rerunBig.push(child('ingest', folder, big));
  // One new file each time: the fixed cost of a run over a large manifest, against the same file into an empty dataset.
  const one = join(OUT, `many-one-${i}.log`);
  writeFileSync(one, [...generateAccessLogLines({ lines: LINES_PER_FILE, seed: 100 + i, quirks: 0 })].join('\n') + '\n');
  const empty = join(OUT, 'many-empty');
  rmSync(empty, { recursive: true, force: true });
  oneEmpty.push(child('ingest', one, empty));
  oneBig.push(child('ingest', one, big));
  process.stderr.write(`1M known, run ${i + 1}: re-run ${fmt(rerunBig.at(-1)!.seconds)}, one new file ${fmt(oneBig.at(-1)!.seconds)} (empty dataset ${fmt(oneEmpty.at(-1)!.seconds)})\n`);
}
const manifestBytes = readdirSync(big).filter((f) => f.startsWith('_manifest.')).reduce((s, f) => s + statSync(join(big, f)).size, 0);

const figures: Figure[] = [
  { figure: `ingest ${label}, wall`, s3sift: fmt(secs(first)), reference: fmt(secs(ref)), ratio: ratio(secs(first), secs(ref)), target: '< 30 s' },
  { figure: `ingest ${label}, peak RSS`, s3sift: `${mb(first).toFixed(0)} MB`, reference: `${mb(ref).toFixed(0)} MB`, ratio: ratio(mb(first), mb(ref)), target: '≤ 512 MB' },
  { figure: `re-run over them, nothing new, wall`, s3sift: fmt(secs(rerun)), reference: fmt(secs(walked)), ratio: ratio(secs(rerun), secs(walked)), target: 'a few seconds' },
  { figure: `the same re-run, 1,000,000 sources known, wall`, s3sift: fmt(secs(rerunBig)), reference: fmt(secs(walked)), ratio: ratio(secs(rerunBig), secs(walked)), target: 'a few seconds' },
  {
    figure: `one new file into a dataset of 1,000,000 sources (manifest ${(manifestBytes / 2 ** 20).toFixed(0)} MB), wall`,
    s3sift: fmt(secs(oneBig)), reference: `${fmt(secs(oneEmpty))} (empty dataset)`, ratio: `+${fmt(secs(oneBig) - secs(oneEmpty))}`, target: '+ < 1 s',
  },
  { figure: `the same, peak RSS`, s3sift: `${mb(oneBig).toFixed(0)} MB`, reference: `${mb(oneEmpty).toFixed(0)} MB`, ratio: ratio(mb(oneBig), mb(oneEmpty)), target: 'flat' },
];
saveSection('many-sources', {
  title: 'Many small sources benchmark',
  about: `S3 delivers access logs as many small objects. s3sift ingests a folder of ${label} (generated once, in bench/out/), against DuckDB \`read_csv\` of the same files by a glob into zstd Parquet; re-runs that find nothing new, against a walk that lists the folder and stats each file; and, with ${KNOWN.toLocaleString('en-US')} sources in the manifest (the real ones and made-up ones in an older segment), the same re-run and one new file, against that file into an empty dataset.`,
  runs,
  figures,
});
for (const f of readdirSync(OUT)) if (f.startsWith('many-one-')) rmSync(join(OUT, f));
rmSync(join(OUT, 'many-empty'), { recursive: true, force: true });
