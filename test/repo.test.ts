/**
 * The repository stands alone: a clone in an empty folder builds, tests and
 * documents itself, so no tracked file may point outside it.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('..', import.meta.url).pathname;
// Written in two parts so that this file does not name the folder it looks for.
const OUTSIDE = ['..', 'shared'].join('/');

/** Tracked files (git), or every file but dependencies and build output when this is not a git checkout. */
function trackedFiles(): string[] {
  try {
    return execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\0').filter(Boolean);
  } catch {
    const skip = new Set(['node_modules', 'dist', '.git', 's3sift-data', 'test-output']);
    const out: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (skip.has(e.name)) continue;
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else out.push(relative(ROOT, p));
      }
    };
    walk(ROOT);
    return out;
  }
}

describe('the repository', () => {
  it(`has no tracked file that mentions ${OUTSIDE} (a folder a clone does not have)`, () => {
    const files = trackedFiles();
    expect(files.length).toBeGreaterThan(50);
    const offenders = files.filter((f) => readFileSync(join(ROOT, f)).includes(OUTSIDE));
    expect(offenders).toEqual([]);
  });
});
