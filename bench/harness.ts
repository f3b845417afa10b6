/**
 * What the benchmarks share: each measurement runs in a fresh child process
 * (the benchmark script itself, in `--child` mode) that reports its wall time
 * and peak RSS; figures are medians of several runs, alternated with the
 * reference, because these 2-core machines are noisy.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

export interface Measure {
  seconds: number;
  rssMb: number;
}

/** Compiled to dist/bench/; reports and generated inputs live in bench/out/. */
export const OUT = new URL('../../bench/out/', import.meta.url).pathname;

/** Run `fn` and print its measure (child mode). */
export async function reportChild(fn: () => Promise<void>): Promise<void> {
  const t0 = performance.now();
  await fn();
  const seconds = (performance.now() - t0) / 1000;
  process.stdout.write(JSON.stringify({ seconds, rssMb: process.resourceUsage().maxRSS / 1024 }) + '\n');
}

/** Run `script --child kind --file input --out out` in a fresh process; remove `out` after. */
export function measure(script: string, kind: string, input: string, out: string): Measure {
  rmSync(out, { recursive: true, force: true });
  const r = spawnSync(process.execPath, [script, '--child', kind, '--file', input, '--out', out], { encoding: 'utf8' });
  rmSync(out, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`${kind} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as Measure;
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

/** Alternate `runs` measurements of ours and the reference; two report rows (wall, RSS). */
export function compare(script: string, label: string, input: string, runs: number, outBase: string): string[] {
  const ref: Measure[] = [];
  const us: Measure[] = [];
  for (let i = 0; i < runs; i++) {
    ref.push(measure(script, 'reference', input, `${outBase}-reference`));
    us.push(measure(script, 's3sift', input, `${outBase}-s3sift`));
    process.stderr.write(`${label}, run ${i + 1}: reference ${ref.at(-1)?.seconds.toFixed(2)} s, s3sift ${us.at(-1)?.seconds.toFixed(2)} s\n`);
  }
  const rt = median(ref.map((m) => m.seconds));
  const ut = median(us.map((m) => m.seconds));
  const rr = median(ref.map((m) => m.rssMb));
  const ur = median(us.map((m) => m.rssMb));
  return [
    `| ${label}, wall | ${ut.toFixed(2)} s | ${rt.toFixed(2)} s | ${(ut / rt).toFixed(2)}x | ≤ 1.5x |`,
    `| ${label}, peak RSS | ${ur.toFixed(0)} MB | ${rr.toFixed(0)} MB | ${(ur / rr).toFixed(2)}x | ≤ 512 MB |`,
  ];
}

export function report(title: string, reference: string, runs: number, rows: string[]): string {
  return [
    `# ${title} (${new Date().toISOString().slice(0, 10)}, ${process.version}, medians of ${runs} runs)`,
    '',
    `Reference: ${reference}, in the same run.`,
    '',
    '| figure | s3sift | reference | ratio | target |',
    '|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

export interface Bench {
  /** Report file under bench/out/, e.g. `ingest-access-log.md`. */
  report: string;
  title: string;
  /** What the reference does, for the report. */
  referenceDoc: string;
  /** The size flag (`lines`, `records`) and its default list. */
  sizeFlag: string;
  sizes: string;
  /** Row label for one size. */
  label(n: number): string;
  /** Make (or find) the generated input of size n; returns its path. */
  generate(n: number): Promise<string> | string;
  reference(input: string, out: string): Promise<void>;
  ours(input: string, out: string): Promise<void>;
}

/**
 * A benchmark's entry point: in `--child` mode run one side and report; else
 * generate each size, compare alternately, write and print the report.
 */
export async function runBench(script: string, b: Bench): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      file: { type: 'string' },
      out: { type: 'string' },
      [b.sizeFlag]: { type: 'string', default: b.sizes },
      runs: { type: 'string', default: '3' },
    },
  });
  if (values.child) {
    const input = values.file as string;
    const out = values.out as string;
    return reportChild(() => (values.child === 'reference' ? b.reference(input, out + '.parquet') : b.ours(input, out)));
  }
  mkdirSync(OUT, { recursive: true });
  const runs = Number(values.runs);
  const rows: string[] = [];
  for (const n of String(values[b.sizeFlag]).split(',').map(Number)) {
    const input = await b.generate(n);
    rows.push(...compare(script, b.label(n), input, runs, join(OUT, `run-${b.sizeFlag}`)));
  }
  const text = report(b.title, b.referenceDoc, runs, rows);
  writeFileSync(join(OUT, b.report), text);
  process.stdout.write(text);
}
