import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root folder. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The repository's files, relative to its root with `/` separators: those git
 * tracks or would (not ignored), or, outside a git checkout, every file but
 * dependencies and build output.
 */
export function repoFiles(): string[] {
  try {
    return execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\0')
      // A file deleted but not yet staged is still listed by git.
      .filter((f) => f && existsSync(join(REPO_ROOT, f)));
  } catch {
    const skip = new Set(['node_modules', 'dist', '.git', 's3sift-data', 'test-output']);
    const out: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (skip.has(e.name)) continue;
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else out.push(relative(REPO_ROOT, p).split(sep).join('/'));
      }
    };
    walk(REPO_ROOT);
    return out;
  }
}
