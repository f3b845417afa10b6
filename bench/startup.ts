/**
 * `npm run bench` (part): how fast the command line starts. `s3sift --help`
 * and `--version` against a bare `node -e 0`, and `s3sift query "SELECT 1"`
 * on the samples' dataset against a Node program that only loads DuckDB and
 * answers `SELECT 1` (bench/duckdb-select-1.ts), each a fresh process, all
 * alternated in the same run. Writes bench/out/startup.md.
 *
 *   node dist/bench/startup.js --runs 21
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ingest } from '../ingest/index.js';
import { median, OUT, ratio, saveSection, type Figure } from './harness.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const BIN = join(ROOT, 'bin/s3sift');

/** Wall time of one fresh process, in milliseconds. */
function wall(args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', cwd: ROOT });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed (exit ${r.status}): ${r.stderr}`);
  return ms;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '21' } } });
  const runs = Number(values.runs);
  const data = join(OUT, 'startup-data');
  rmSync(data, { recursive: true, force: true });
  await ingest([join(ROOT, 'samples')], { data, format: 'auto', force: false, strict: false });
  const cases = {
    node: ['-e', '0'],
    help: [BIN, '--help'],
    version: [BIN, '--version'],
    duckdb: [new URL('./duckdb-select-1.js', import.meta.url).pathname],
    query: [BIN, 'query', '--data', data, 'SELECT 1'],
  };
  const times: Record<keyof typeof cases, number[]> = { node: [], help: [], version: [], duckdb: [], query: [] };
  // One warm-up round (file cache), then the measured ones, alternated.
  for (const args of Object.values(cases)) wall(args);
  for (let i = 0; i < runs; i++) {
    for (const [name, args] of Object.entries(cases) as Array<[keyof typeof cases, string[]]>) times[name].push(wall(args));
  }
  const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)])) as Record<keyof typeof cases, number>;
  const ms = (x: number): string => `${x.toFixed(0)} ms`;
  const figures: Figure[] = [
    { figure: 's3sift --help', s3sift: ms(m.help), reference: `${ms(m.node)} (node -e 0)`, ratio: ratio(m.help, m.node), target: '≤ 3x' },
    { figure: 's3sift --version', s3sift: ms(m.version), reference: `${ms(m.node)} (node -e 0)`, ratio: ratio(m.version, m.node), target: '≤ 3x' },
    {
      figure: 's3sift query "SELECT 1" (samples dataset)', s3sift: ms(m.query), reference: `${ms(m.duckdb)} (DuckDB load + SELECT 1)`,
      ratio: `${m.query - m.duckdb >= 0 ? '+' : ''}${ms(m.query - m.duckdb)}`, target: '≤ +100 ms',
    },
  ];
  rmSync(data, { recursive: true, force: true });
  saveSection('startup', {
    title: 'Start-up benchmark',
    about: 'Wall time of a fresh process, from spawn to exit, against a reference measured in the same run: a bare `node -e 0` for help and version; for a query, a Node program that loads DuckDB and answers `SELECT 1` (`bench/duckdb-select-1.ts`). The cases alternate.',
    runs,
    figures,
  });
}

await main();
