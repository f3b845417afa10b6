/**
 * Bad input and a bad environment: corrupt and truncated gzip, binary files,
 * a 100 MB line, sources that vanish or turn unreadable mid-run, a full disk,
 * two ingests at once. Each ends in a clear message, the exit code docs/contract.md
 * says, and a dataset that is either unchanged or consistent, with no
 * partial file visible.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, type IngestOptions } from '../../ingest/ingest.js';
import { reportUnreadable } from '../../cli/commands/ingest.js';
import { textOut } from '../../cli/terminal-io.js';
import { generateAccessLogLines, rng } from '../../scripts/gen-access-logs.js';
import { digest, readRows, tempDir } from '../helpers/dataset.js';

const BIN = new URL('../../bin/s3sift', import.meta.url).pathname;
let tmp: { dir: string; cleanup: () => void };
beforeAll(() => {
  tmp = tempDir();
});
afterAll(() => tmp.cleanup());

const lines = (n: number, seed: number): string => [...generateAccessLogLines({ lines: n, seed, quirks: 0 })].join('\n') + '\n';
const opts = (data: string, over: Partial<IngestOptions> = {}): IngestOptions => ({ data, format: 'auto', force: false, strict: false, ...over });

/** Parquet files in the dataset's table folders, and anything that is not a committed file. */
function visible(data: string): { parquet: string[]; other: string[] } {
  const parquet: string[] = [];
  const other: string[] = [];
  for (const e of readdirSync(data, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const rel = join(e.parentPath, e.name).slice(data.length + 1);
    if (rel.endsWith('.parquet')) parquet.push(rel);
    else if (!/^_manifest\.(json|\d{6}\.(ndjson|idx))$/.test(rel) && !rel.startsWith('rejects/')) other.push(rel);
  }
  return { parquet: parquet.sort(), other };
}

describe('corrupt input', () => {
  it('keeps what a corrupt gzip held before the damage, rejects the rest with a reason, and goes on', async () => {
    const data = join(tmp.dir, 'corrupt-gz');
    const gz = gzipSync(lines(5000, 1));
    // Damage the middle of the deflate stream.
    for (let i = Math.floor(gz.length / 2); i < Math.floor(gz.length / 2) + 64; i++) gz[i] = (gz[i] as number) ^ 0xff;
    writeFileSync(join(tmp.dir, 'corrupt.log.gz'), gz);
    writeFileSync(join(tmp.dir, 'fine.log'), lines(10, 2));
    const s = await ingest([join(tmp.dir, 'corrupt.log.gz'), join(tmp.dir, 'fine.log')], opts(data));
    expect(s.unreadable).toEqual([]);
    expect(s.rejected).toBeGreaterThanOrEqual(1);
    // Deflate decodes damaged data into garbled lines (rejected one by one) until the checksum at the end fails.
    const rejects = readFileSync(join(data, s.rejectsFile as string), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { reason: string });
    expect(rejects.at(-1)?.reason).toMatch(/corrupt\.log\.gz: reading stopped at byte \d+: incorrect data check; lines read before it may be damaged/);
    expect(s.rows).toBeGreaterThanOrEqual(10);
    expect(s.lines).toBe(s.rows + s.rejected + s.skipped);
    // Broken content is final: the next run does not read it again.
    expect((await ingest([join(tmp.dir, 'corrupt.log.gz')], opts(data))).passed).toHaveLength(1);
  });

  it('rejects every line of a binary file, each with a reason, and accounts for all of them', async () => {
    const data = join(tmp.dir, 'binary');
    // Seeded, and not starting like JSON or gzip: random bytes opening with `{`, `[` or 1f 8b were read as those.
    const next = rng(17);
    const bytes = Buffer.from(Array.from({ length: 1 << 20 }, () => Math.floor(next() * 256)));
    bytes[0] = 0x00;
    writeFileSync(join(tmp.dir, 'random.bin'), bytes);
    const warnings: string[] = [];
    const s = await ingest([join(tmp.dir, 'random.bin')], opts(data, { onWarning: (m) => warnings.push(m) }));
    expect(s.rows).toBe(0);
    expect(s.lines).toBe(s.rejected + s.skipped);
    expect(s.rejected).toBeGreaterThan(100);
    expect(warnings.join('\n')).toMatch(/random\.bin: neither an access log nor CloudTrail/);
  });

  it('passes over a 100 MB line without holding it, keeps its first bytes in the reject, and reads the lines around it', async () => {
    const data = join(tmp.dir, 'long-line');
    const file = join(tmp.dir, 'long.log');
    const out = createWriteStream(file);
    out.write(lines(2, 3));
    const mb = Buffer.alloc(1 << 20, 'a');
    for (let i = 0; i < 100; i++) out.write(mb);
    out.write('\n' + lines(3, 4));
    await new Promise<void>((res) => out.end(res));
    const s = await ingest([file], opts(data));
    expect(s).toMatchObject({ lines: 6, rows: 5, rejected: 1 });
    const reject = JSON.parse(readFileSync(join(data, s.rejectsFile as string), 'utf8').trim()) as { line: number; reason: string; raw: string };
    expect(reject.line).toBe(3);
    expect(reject.reason).toMatch(/a line of 104857600 bytes, longer than any record \(16 MiB\); passed over/);
    expect(reject.raw).toBe('a'.repeat(4096));
  }, 60_000);
});

describe('sources that go away mid-run', () => {
  it('names a file deleted or turned unreadable mid-run, commits the rest, and reads it again next run', async () => {
    const data = join(tmp.dir, 'vanishing');
    const dir = join(tmp.dir, 'vanishing-src');
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.log'), lines(30_000, 5));
    // Over 256 KiB each: smaller files are read whole ahead of the parser, before anything could strike them.
    writeFileSync(join(dir, 'b.log'), lines(2_000, 6));
    writeFileSync(join(dir, 'c.log'), lines(2_000, 7));
    expect(statSync(join(dir, 'b.log')).size).toBeGreaterThan(256 << 10);
    let struck = false;
    const s = await ingest([dir], opts(data, {
      onProgress: () => {
        if (struck) return;
        struck = true;
        // While a.log is read: b.log goes, c.log becomes a folder (read fails with EISDIR).
        rmSync(join(dir, 'b.log'));
        rmSync(join(dir, 'c.log'));
        mkdirSync(join(dir, 'c.log'));
      },
    }));
    expect(s.unreadable.map((u) => [u.name, u.reason])).toEqual([
      [join(dir, 'b.log'), expect.stringMatching(/could not be read past line 0: .*ENOENT/)],
      [join(dir, 'c.log'), expect.stringMatching(/could not be read past line 0: .*EISDIR/)],
    ]);
    expect(s.rows).toBe(30_000);
    // Back again: the next run reads them (and only them).
    rmSync(join(dir, 'c.log'), { recursive: true });
    writeFileSync(join(dir, 'b.log'), lines(2_000, 6));
    writeFileSync(join(dir, 'c.log'), lines(2_000, 7));
    const again = await ingest([dir], opts(data));
    expect(again).toMatchObject({ sources: 2, rows: 4_000, unreadable: [] });
    expect(await readRows(data)).toHaveLength(34_000);
  });

  it('on the command line: one error line per source that failed, a closing line, and exit 2', () => {
    const err: string[] = [];
    const io = { stderr: textOut({ write: (t) => err.push(String(t)) > 0 }) } as never;
    const summary = { unreadable: [{ name: 'logs/b.log', reason: 'could not be read past line 0: ENOENT: no such file or directory' }] } as never;
    expect(reportUnreadable(summary, io)).toBe(2);
    expect(err.join('')).toBe(
      'error: logs/b.log: could not be read past line 0: ENOENT: no such file or directory\n' +
        'error: 1 source(s) could not be read to the end; the rest is committed, and the next run reads them again\n',
    );
    expect(reportUnreadable({ unreadable: [] } as never, io)).toBe(0);
  });

  it('reads links to files in folders, and says which links it passes over', async () => {
    const dir = join(tmp.dir, 'links');
    mkdirSync(dir);
    writeFileSync(join(tmp.dir, 'target.log'), lines(5, 8));
    symlinkSync(join(tmp.dir, 'target.log'), join(dir, 'a.log'));
    symlinkSync(join(tmp.dir, 'nowhere.log'), join(dir, 'b.log'));
    const warnings: string[] = [];
    const s = await ingest([dir], opts(join(tmp.dir, 'links-data'), { onWarning: (m) => warnings.push(m) }));
    expect(s.rows).toBe(5);
    expect(warnings).toEqual([`${join(dir, 'b.log')}: a link to nothing, passed over`]);
  });
});

/** True where this machine lets a test mount a small tmpfs in a user namespace of its own. */
function canMountTmpfs(): boolean {
  const r = spawnSync('unshare', ['-rm', 'sh', '-c', `mount -t tmpfs -o size=1m tmpfs "${tmp.dir}" && umount "${tmp.dir}"`], { encoding: 'utf8' });
  return r.status === 0;
}

describe('a full disk', () => {
  it('stops with a one-line error and exit 2, leaves the dataset as it was, and the next run works', (ctx) => {
    if (!canMountTmpfs()) {
      ctx.skip('this machine does not allow mounting a tmpfs in a user namespace (unshare -rm); the full-disk test needs one');
      return;
    }
    const small = join(tmp.dir, 'small.log');
    const big = join(tmp.dir, 'big.log');
    writeFileSync(small, lines(2000, 9));
    writeFileSync(big, lines(60_000, 10));
    const disk = join(tmp.dir, 'disk');
    mkdirSync(disk);
    // Inside its own mount namespace: a 4 MB disk; the small ingest fits, the big one cannot.
    const script = `
      set -u
      mount -t tmpfs -o size=4m tmpfs "${disk}" || exit 99
      node "${BIN}" ingest "${small}" --data "${disk}/d" > /dev/null || exit 98
      find "${disk}/d" -type f | sort > "${disk}/before"
      node "${BIN}" ingest "${big}" --data "${disk}/d" > /dev/null 2> "${disk}/stderr"
      echo "exit=$?"
      cat "${disk}/stderr"
      find "${disk}/d" -type f | sort > "${disk}/after"
      diff "${disk}/before" "${disk}/after" > /dev/null && echo "files: unchanged"
      node "${BIN}" query --data "${disk}/d" --format csv "SELECT count(*) AS n FROM access_log"
      node "${BIN}" ingest "${small}" --data "${disk}/d" | head -1
    `;
    const r = spawnSync('unshare', ['-rm', 'sh', '-c', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const out = r.stdout.trim().split('\n');
    expect(out[0]).toBe('exit=2');
    expect(out[1]).toMatch(/^error: .*: cannot write: no space left on device; nothing from this run was committed \(free some space and run again\)$/);
    expect(out).toContain('files: unchanged');
    expect(out).toContain('2000');
    expect(out.at(-1)).toMatch(/^read 0 lines and records from 0 sources/);
  }, 120_000);
});

describe('two ingests at once', () => {
  it('in one process: each takes the lock or is refused naming the writer, never a misleading error', async () => {
    // The lock attempt file was named by process id alone, so ingests of one process removed each other's (ENOENT).
    const files = Array.from({ length: 40 }, (_, i) => {
      const f = join(tmp.dir, `same-process-${i}.log`);
      writeFileSync(f, lines(5, 100 + i));
      return f;
    });
    const data = join(tmp.dir, 'same-process');
    const results = await Promise.allSettled(files.map((f) => ingest([f], opts(data))));
    const refused = results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason));
    for (const reason of refused) expect(reason).toMatch(new RegExp(`is being written by another s3sift \\(pid ${process.pid}\\); wait for it to finish$`));
    const won = results.length - refused.length;
    expect(won).toBeGreaterThanOrEqual(1);
    expect((await digest(data)).rows).toBe(5 * won);
    expect(readdirSync(data).filter((n) => n.startsWith('_lock'))).toEqual([]);
  });

  it('one waits for nothing and refuses with a clear message, or they run one after the other; never a corrupt dataset', async () => {
    const a = join(tmp.dir, 'two-a.log');
    const b = join(tmp.dir, 'two-b.log');
    writeFileSync(a, lines(20_000, 11));
    writeFileSync(b, lines(20_000, 12));
    const start = (file: string, data: string): Promise<{ code: number | null; stderr: string }> =>
      new Promise((res) => {
        const p = spawn(process.execPath, [BIN, 'ingest', file, '--data', data]);
        let stderr = '';
        p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        p.on('close', (code) => res({ code, stderr }));
      });
    for (let round = 0; round < 3; round++) {
      const data = join(tmp.dir, `two-${round}`);
      mkdirSync(data);
      // Round 2: a lock left by a run that died, which both find stale at once.
      if (round === 2) writeFileSync(join(data, '_lock'), JSON.stringify({ pid: 2 ** 22 + 12345, host: (await import('node:os')).hostname() }));
      const [ra, rb] = await Promise.all([start(a, data), start(b, data)]);
      const won = [ra, rb].filter((r) => r.code === 0);
      const refused = [ra, rb].filter((r) => r.code !== 0);
      expect(won.length).toBeGreaterThanOrEqual(1);
      for (const r of refused) {
        expect(r.code).toBe(2);
        expect(r.stderr.trim()).toMatch(/^error: .* is being written by another s3sift \(pid \d+\); wait for it to finish$/);
      }
      const d = await digest(data);
      expect(d.rows).toBe(20_000 * won.length);
      expect(d.distinct).toBe(d.rows);
      expect(visible(data).other).toEqual([]);
      expect(existsSync(join(data, '_lock'))).toBe(false);
    }
  }, 120_000);
});
