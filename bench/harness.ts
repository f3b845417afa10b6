/**
 * What the benchmarks share: each measurement runs in a fresh child process
 * (the benchmark script itself, in `--child` mode) that reports its wall time
 * and peak RSS; figures are medians of several runs, alternated with the
 * reference, because these 2-core machines are noisy.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';

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
