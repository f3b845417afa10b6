/**
 * common/scratch-dir.ts: a temporary folder is removed when done, at
 * process.exit (bin/s3sift's way out when its reader goes: `| head`), and
 * on SIGTERM or SIGINT, after which the process still ends by the signal.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { scratchDir } from '../../common/scratch-dir.js';

/** The built module (npm test builds first, as bin/s3sift runs it). */
const MODULE = new URL('../../dist/common/scratch-dir.js', import.meta.url).pathname;

/** A child that makes a scratch folder, prints its path, then ends as `how` says. */
function child(how: string): { path: string; status: number | null; signal: NodeJS.Signals | null } {
  const script = `const { scratchDir } = await import(${JSON.stringify(MODULE)});
    const d = await scratchDir('s3sift-test-');
    (await import('node:fs')).writeFileSync(d.path + '/result', 'rows');
    process.stdout.write(d.path + '\\n');
    ${how}`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  return { path: r.stdout.trim(), status: r.status, signal: r.signal };
}

describe('scratchDir', () => {
  it('is a folder only its owner can enter, gone once removed', async () => {
    const d = await scratchDir('s3sift-test-');
    const { statSync } = await import('node:fs');
    expect(statSync(d.path).mode & 0o777).toBe(0o700);
    await d.remove();
    expect(existsSync(d.path)).toBe(false);
  });

  it('is removed when the process exits early (process.exit)', () => {
    const r = child('process.exit(0);');
    expect(r.path).toMatch(/s3sift-test-/);
    expect([r.status, existsSync(r.path)]).toEqual([0, false]);
  });

  it('is removed on SIGTERM and SIGINT, and the process still ends by the signal', () => {
    for (const sig of ['SIGTERM', 'SIGINT']) {
      const r = child(`process.kill(process.pid, '${sig}'); setTimeout(() => {}, 5000);`);
      expect([sig, r.signal, existsSync(r.path)]).toEqual([sig, sig, false]);
    }
  });
});
