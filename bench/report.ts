/**
 * `npm run bench`: every benchmark, one after the other, each in its own
 * process, then one report of all their figures: bench/REPORT.md (kept in
 * the repository, linked from the README) and bench/out/report.md.
 *
 *   npm run bench                      all parts
 *   npm run bench -- --only detect,s3  some parts; the others keep their last figures
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { OUT, sectionMarkdown, TABLE_HEAD, type Figure, type Section } from './harness.js';

const PARTS = ['startup', 'ingest-access-log', 'ingest-cloudtrail', 'many-sources', 'detect', 'export', 'serve', 's3', 'policy'] as const;
const HELP = `Usage: npm run bench [-- --only PART,...]

Runs the benchmarks (${PARTS.join(', ')}), each against a reference measured
in the same run, figures as medians of several runs, and writes one report to
bench/REPORT.md and bench/out/report.md. With --only, the other parts keep
the figures of their last run (bench/out/PART.json).`;

const { values } = parseArgs({ options: { only: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  process.stdout.write(HELP + '\n');
  process.exit(0);
}
const only = values.only ? values.only.split(',') : [...PARTS];
for (const p of only) {
  if (!(PARTS as readonly string[]).includes(p)) {
    process.stderr.write(`error: --only ${p}: not a benchmark (${PARTS.join(', ')})\n\n${HELP}\n`);
    process.exit(2);
  }
}

const here = new URL('.', import.meta.url).pathname;
for (const part of only) {
  process.stderr.write(`\n== ${part}\n`);
  const r = spawnSync(process.execPath, [join(here, `${part}.js`)], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) {
    process.stderr.write(`error: benchmark ${part} failed (exit ${r.status})\n`);
    process.exit(1);
  }
}

type Saved = Section & { date: string; node: string };
const sections = PARTS.map((p) => join(OUT, `${p}.json`)).filter((f) => existsSync(f)).map((f) => JSON.parse(readFileSync(f, 'utf8')) as Saved);
const all: Array<Figure & { part: string }> = sections.flatMap((s) => s.figures.map((f) => ({ ...f, figure: `${s.title.replace(/ benchmark$/, '')}: ${f.figure}` , part: s.title })));
const text = [
  '# s3sift benchmark report',
  '',
  `Written by \`npm run bench\` (\`bench/report.ts\`) on a machine with ${availableParallelism()} cores and ${Math.round(totalmem() / 2 ** 30)} GB;`,
  `${sections.map((s) => `${s.title.toLowerCase()} ${s.date}`).join(', ')} (${sections[0]?.node ?? process.version}).`,
  'Every figure is a median of several runs, next to a reference measured in the same run, because these machines are noisy.',
  '',
  ...TABLE_HEAD,
  ...all.map((f) => `| ${f.figure} | ${f.s3sift} | ${f.reference} | ${f.ratio} | ${f.target} |`),
  '',
  ...sections.map((s) => sectionMarkdown({ ...s, title: `${s.title}, ${s.date}` }, '##')),
].join('\n');
writeFileSync(join(OUT, 'report.md'), text);
writeFileSync(new URL('../../bench/REPORT.md', import.meta.url).pathname, text);
process.stdout.write(text);
