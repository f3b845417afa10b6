import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateAccessLogLines } from '../scripts/gen-access-logs.js';
import { writeCloudTrailFiles } from '../scripts/gen-cloudtrail.js';
import { digest, tempDir } from './helpers/dataset.js';

const BIN = new URL('../bin/s3sift', import.meta.url).pathname;

function run(args: string[], input?: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', input });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let tmp: { dir: string; cleanup: () => void };
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

describe('s3sift CLI', () => {
  it('prints help with the commands, and --version', () => {
    const h = run(['--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/ingest\s+parse access logs/);
    expect(run(['--version']).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const ih = run(['ingest', '--help']);
    expect(ih.code).toBe(0);
    expect(ih.stdout).toContain('Usage: s3sift ingest SOURCE...');
  });

  it('answers a bad flag with the usage and exit code 2', () => {
    const r = run(['ingest', '--frob', 'x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: unknown option --frob\n/);
    expect(r.stderr).toContain('Usage: s3sift ingest SOURCE... [options]');
    expect(r.stderr).toContain("Run 's3sift ingest --help'");
    const typo = run(['detect', '--sinse', '2025-03-01']);
    expect([typo.code, typo.stderr.split('\n')[0]]).toEqual([2, 'error: unknown option --sinse (did you mean --since?)']);
    expect(run(['detcet']).stderr).toMatch(/^error: unknown command 'detcet' \(did you mean 'detect'\?\)/);
    expect(run(['query', '--data']).stderr).toMatch(/^error: --data needs a value: --data DIR\n/);
    expect(run(['ingest', 'x', '--force=yes']).stderr).toMatch(/^error: --force is a switch and takes no value\n/);
    expect(run(['ingest', 'x', '--format', 'xml']).stderr).toMatch(/--format must be one of auto, access-log, cloudtrail/);
    expect(run(['frobnicate']).code).toBe(2);
    expect(run(['ingest', 'x', '--since', '2025-03-12', '--until', '2025-03-11']).stderr).toMatch(/^error: --since must be before --until\n/);
    expect(run(['ingest']).code).toBe(2);
  });

  it('exits 2 with one line naming a missing source', () => {
    const r = run(['ingest', join(tmp.dir, 'missing.log'), '--data', join(tmp.dir, 'd')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/missing\.log: no such file or folder/);
  });

  it('ingests from stdin, prints the summary, and exits 3 under --strict with rejects', () => {
    const lines = [...generateAccessLogLines({ lines: 10, seed: 1 })].join('\n');
    const ok = run(['ingest', '-', '--data', join(tmp.dir, 'd')], lines);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/read 10 lines and records from 1 source: 10 ingested, 0 rejected, 0 skipped in/);
    const strict = run(['ingest', '-', '--strict', '--data', join(tmp.dir, 'e')], lines + '\nbroken\n');
    expect(strict.code).toBe(3);
    expect(strict.stderr).toMatch(/-:11: not an access-log record/);
  });

  it('after a SIGKILL at random moments, a re-run gives the same dataset as one clean run (also a --force run that replaces rows)', async () => {
    // Access logs in several files over 3 days, and CloudTrail Records files: both write paths, several Parquet files.
    const src = join(tmp.dir, 'src');
    mkdirSync(src);
    for (let i = 0; i < 4; i++) writeFileSync(join(src, `access-${i}.log`), [...generateAccessLogLines({ lines: 8_000, seed: 21 + i, days: 3 })].join('\n') + '\n');
    writeCloudTrailFiles(join(src, 'trail'), { records: 12_000, seed: 3, days: 3, perFile: 1500 });
    const clean = join(tmp.dir, 'clean');
    const t0 = performance.now();
    expect(run(['ingest', src, '--data', clean]).code).toBe(0);
    const took = performance.now() - t0;
    const expected = { access: await digest(clean), trail: await digest(clean, 'cloudtrail') };
    expect(expected.access.distinct).toBe(32_000);
    expect(expected.trail.distinct).toBe(12_000);

    // Seeded, so a failure names moments that can be replayed.
    let seed = 7;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const kill = async (args: string[], at: number): Promise<void> => {
      const child = spawn(process.execPath, [BIN, ...args], { stdio: 'ignore' });
      // Listen first: at the longest delays the run may finish before the kill.
      const exited = new Promise((r) => child.once('exit', r));
      await sleep(at);
      child.kill('SIGKILL');
      await exited;
    };
    const moments = Array.from({ length: 8 }, () => Math.round(50 + random() * took));
    for (const [i, at] of moments.entries()) {
      const data = join(tmp.dir, `killed-${i}`);
      await kill(['ingest', src, '--data', data], at);
      // A kill during a replacing run (--force): old rows must not be lost or doubled either.
      if (i % 3 === 2) {
        expect(run(['ingest', src, '--data', data]).code).toBe(0);
        await kill(['ingest', src, '--data', data, '--force'], Math.round(50 + random() * took));
      }
      const again = run(['ingest', src, '--data', data]);
      expect(again.code, `killed at ${at} ms: ${again.stderr}`).toBe(0);
      expect({ access: await digest(data), trail: await digest(data, 'cloudtrail') }, `killed at ${at} ms`).toEqual(expected);
    }
  }, 240_000);
});
