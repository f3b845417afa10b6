import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateAccessLogLines } from '../scripts/gen-access-logs.js';
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
    expect(r.stderr).toMatch(/^error: Unknown option '--frob'/);
    expect(r.stderr).toContain('Usage: s3sift ingest');
    expect(run(['ingest', 'x', '--format', 'xml']).stderr).toMatch(/--format must be one of auto, access-log, cloudtrail/);
    expect(run(['frobnicate']).code).toBe(2);
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

  it('after a kill at any moment, a re-run gives the same dataset as one clean run', async () => {
    const file = join(tmp.dir, 'big.log');
    writeFileSync(file, [...generateAccessLogLines({ lines: 40_000, seed: 21, days: 3 })].join('\n') + '\n');
    const clean = join(tmp.dir, 'clean');
    expect(run(['ingest', file, '--data', clean]).code).toBe(0);
    const expected = await digest(clean);
    expect(expected.distinct).toBe(40_000);
    for (const delay of [150, 500, 900, 1300]) {
      const data = join(tmp.dir, `killed-${delay}`);
      const child = spawn(process.execPath, [BIN, 'ingest', file, '--data', data], { stdio: 'ignore' });
      // Listen first: at the longest delays the run may finish before the kill.
      const exited = new Promise((r) => child.once('exit', r));
      await new Promise((r) => setTimeout(r, delay));
      child.kill('SIGKILL');
      await exited;
      const again = run(['ingest', file, '--data', data]);
      expect(again.code).toBe(0);
      expect(await digest(data)).toEqual(expected);
    }
  });
});
