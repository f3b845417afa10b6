/**
 * The dataset holds raw log lines and caller identities: what ingest writes
 * is owner-only (0600 files, 0700 folders) whatever the umask, unless the
 * umask is stricter.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownerOnly } from '../../ingest/modes.js';
import { generateAccessLogLines } from '../../scripts/gen-access-logs.js';
import { writeCloudTrailFiles } from '../../scripts/gen-cloudtrail.js';
import { tempDir } from '../helpers/dataset.js';

const BIN = new URL('../../bin/s3sift', import.meta.url).pathname;
let tmp: { dir: string; cleanup: () => void };
beforeAll(() => {
  tmp = tempDir();
});
afterAll(() => tmp.cleanup());

/** Every file and folder under `dir` (and `dir` itself) with its permission bits, in octal. */
function modes(dir: string): Record<string, string> {
  const out: Record<string, string> = { '.': (statSync(dir).mode & 0o777).toString(8) };
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const path = join(e.parentPath, e.name);
    out[path.slice(dir.length + 1)] = (statSync(path).mode & 0o777).toString(8);
  }
  return out;
}

describe('file modes', () => {
  it('creates the dataset, its Parquet files, rejects and manifest owner-only under a permissive umask (000)', () => {
    const src = join(tmp.dir, 'src');
    writeCloudTrailFiles(join(src, 'trail'), { records: 200, seed: 1, days: 2, perFile: 100 });
    writeFileSync(join(src, 'access.log'), [...generateAccessLogLines({ lines: 50, seed: 2, days: 2 })].join('\n') + '\nnot a record\n');
    const data = join(tmp.dir, 'data');
    // In a child process, so this process's umask is left alone; the second run replaces rows (rewritten Parquet and rejects).
    const script = `umask 000 && node "${BIN}" ingest "${src}" --data "${data}" && node "${BIN}" ingest "${src}" --data "${data}" --force && echo "umask $(umask)"`;
    const r = spawnSync('sh', ['-c', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/umask 0+\n$/);
    const found = modes(data);
    expect(Object.keys(found).filter((p) => p.endsWith('.parquet')).length).toBeGreaterThan(2);
    expect(Object.keys(found)).toEqual(expect.arrayContaining(['_manifest.json', 'rejects']));
    for (const [path, mode] of Object.entries(found)) {
      const isDir = statSync(join(data, path)).isDirectory();
      expect([path, mode]).toEqual([path, isDir ? '700' : '600']);
    }
  }, 60_000);

  it("narrows a file another writer created to owner-only, keeping what a stricter umask took", async () => {
    const wide = join(tmp.dir, 'wide');
    const narrow = join(tmp.dir, 'narrow');
    writeFileSync(wide, 'x');
    writeFileSync(narrow, 'x');
    chmodSync(wide, 0o666);
    chmodSync(narrow, 0o400);
    await ownerOnly(wide);
    await ownerOnly(narrow);
    expect((statSync(wide).mode & 0o777).toString(8)).toBe('600');
    expect((statSync(narrow).mode & 0o777).toString(8)).toBe('400');
  });
});
