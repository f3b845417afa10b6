/**
 * What the benchmarks share: each measurement runs in a fresh child process
 * (the benchmark script itself, in `--child` mode) that reports its wall time
 * and peak RSS; figures are medians of several runs, alternated with the
 * reference, because these 2-core machines are noisy.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
  process.stdout.write(JSON.stringify({ seconds, rssMb: peakRssKb() / 1024 }) + '\n');
}

/**
 * This process's peak RSS in KB. Linux keeps getrusage's maxRSS across
 * exec, so a child spawned by a large parent reported the parent's peak;
 * /proc/self/status's VmHWM belongs to the process's own memory.
 */
function peakRssKb(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]);
  } catch {
    // Not Linux: getrusage's figure.
  }
  return process.resourceUsage().maxRSS;
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

/** One line of the report: a figure, s3sift's value, the in-run reference's, their ratio, and the target. */
export interface Figure {
  figure: string;
  s3sift: string;
  reference: string;
  ratio: string;
  target: string;
}

/** One benchmark's part of the report. */
export interface Section {
  title: string;
  /** What was measured and what the reference is. */
  about: string;
  runs: number;
  figures: Figure[];
  notes?: string[];
}

const ROW = (f: Figure): string => `| ${f.figure} | ${f.s3sift} | ${f.reference} | ${f.ratio} | ${f.target} |`;
export const TABLE_HEAD = ['| figure | s3sift | in-run reference | ratio | target |', '|---|---|---|---|---|'];

export function sectionMarkdown(s: Section, level = '#'): string {
  return [`${level} ${s.title} (medians of ${s.runs} runs)`, '', s.about, '', ...TABLE_HEAD, ...s.figures.map(ROW), '', ...(s.notes ?? []).flatMap((n) => [n, '']), ''].join('\n');
}

/** Write a benchmark's section to bench/out/NAME.json (for the combined report) and NAME.md; print it. */
export function saveSection(name: string, s: Section): void {
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, `${name}.json`), JSON.stringify({ ...s, date: new Date().toISOString().slice(0, 10), node: process.version }, null, 1));
  const text = sectionMarkdown({ ...s, title: `${s.title} (${new Date().toISOString().slice(0, 10)}, ${process.version})` });
  writeFileSync(join(OUT, `${name}.md`), text);
  process.stdout.write(text);
}

export const ratio = (us: number, ref: number, digits = 2): string => `${(us / ref).toFixed(digits)}x`;

/** Alternate `runs` measurements of ours and the reference; two figures (wall, RSS). */
export function compare(script: string, label: string, input: string, runs: number, outBase: string, target = '≤ 1.5x'): Figure[] {
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
    { figure: `${label}, wall`, s3sift: `${ut.toFixed(2)} s`, reference: `${rt.toFixed(2)} s`, ratio: ratio(ut, rt), target },
    { figure: `${label}, peak RSS`, s3sift: `${ur.toFixed(0)} MB`, reference: `${rr.toFixed(0)} MB`, ratio: ratio(ur, rr), target: '≤ 512 MB' },
  ];
}

export interface Bench {
  /** Section name: bench/out/NAME.json and NAME.md, e.g. `ingest-access-log`. */
  name: string;
  title: string;
  /** What the reference does, for the report. */
  referenceDoc: string;
  /** The size flag (`lines`, `records`) and its default list. */
  sizeFlag: string;
  sizes: string;
  /**
   * Kinds of input measured at each size, each with its wall-time target
   * (default: one kind, `≤ 1.5x`). The access log has `clean` and `quirky`:
   * quirky lines slow DuckDB's reader, which flatters the ratio.
   */
  variants?: ReadonlyArray<{ name: string; target: string }>;
  /** The wall-time target without variants (default `≤ 1.5x`). */
  target?: string;
  /** Paragraphs under the table: what was tried and what it cost. */
  notes?: string[];
  /** Row label for one size (and kind). */
  label(n: number, variant?: string): string;
  /** Make (or find) the generated input of size n (and kind); returns its path. */
  generate(n: number, variant?: string): Promise<string> | string;
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
  const figures: Figure[] = [];
  for (const n of String(values[b.sizeFlag]).split(',').map(Number)) {
    for (const v of b.variants ?? [{ name: undefined, target: b.target ?? '≤ 1.5x' }]) {
      const input = await b.generate(n, v.name);
      figures.push(...compare(script, b.label(n, v.name), input, runs, join(OUT, `run-${b.sizeFlag}`), v.target));
    }
  }
  saveSection(b.name, { title: b.title, about: `Reference: ${b.referenceDoc}, in the same run; s3sift and the reference alternate, each in a fresh process.`, runs, figures, notes: b.notes });
}
