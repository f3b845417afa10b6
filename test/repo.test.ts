/**
 * The repository stands alone: a clone in an empty folder builds, tests and
 * documents itself, so no file of it may point outside it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, repoFiles } from './helpers/repo.js';

// Written in two parts so that this file does not name the folder it looks for.
const OUTSIDE = ['..', 'shared'].join('/');

describe('the repository', () => {
  it(`has no file that mentions ${OUTSIDE} (a folder a clone does not have)`, () => {
    const files = repoFiles();
    expect(files.length).toBeGreaterThan(50);
    const offenders = files.filter((f) => readFileSync(join(REPO_ROOT, f)).includes(OUTSIDE));
    expect(offenders).toEqual([]);
  });
});
