import { appendFileSync, cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseAccessLogLine } from '../../ingest/access-log/parse.js';
import { ingest, type IngestOptions } from '../../ingest/ingest.js';
import { Reject } from '../../ingest/reject.js';
import { ACCESS_LOG } from '../../ingest/schema.js';
import { generateAccessLogLines } from '../../scripts/gen-access-logs.js';
import { asDuckRow, CONFORMANCE, SAMPLES, readRows, tempDir } from '../helpers/dataset.js';

let tmp: { dir: string; cleanup: () => void };
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

const opts = (over: Partial<IngestOptions> = {}): IngestOptions => ({ data: join(tmp.dir, 'data'), format: 'auto', force: false, strict: false, ...over });

/** A parser record in the form DuckDB's JSON rows take. */
function lineAsDuckRow(line: string): Record<string, unknown> {
  const r = parseAccessLogLine(line);
  if (r instanceof Reject) throw new Error(r.reason);
  return asDuckRow(ACCESS_LOG, r as unknown as Record<string, unknown>);
}

function quirkyLines(): string[] {
  return [
    ...readFileSync(new URL('aws-docs/access-log-example.log', CONFORMANCE), 'utf8').split('\n').filter((l) => l),
    ...(JSON.parse(readFileSync(new URL('logstash/access-log-cases.json', CONFORMANCE), 'utf8')) as { cases: { line: string }[] }).cases.map((c) => c.line),
    ...generateAccessLogLines({ lines: 400, seed: 11, quirks: 0.5 }),
    // Tabs, quotes and SOH (the staging quote) inside values survive the staging format.
    'o b [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - R1 REST.GET.OBJECT k "GET /b/k?a=\t"x" HTTP/1.1" 200 - 1 1 1 1 "-" "ua\twith tab and \x01 SOH" - h SigV4 c AuthHeader host TLSv1.2 - - - extra\tone "two"',
  ];
}

describe('ingest', () => {
  it('stores every row exactly as the parser reads it (the bulk path and the parser agree)', async () => {
    const lines = quirkyLines();
    const file = join(tmp.dir, 'quirky.log');
    writeFileSync(file, lines.join('\n') + '\n');
    const s = await ingest([file], opts());
    expect(s.rejected).toBe(0);
    expect(s.rows).toBe(lines.length);
    const rows = await readRows(opts().data);
    expect(rows).toHaveLength(lines.length);
    rows.forEach((row, i) => {
      expect(row.source_file).toBe(file);
      expect(row.source_line).toBe(String(i + 1));
      const { source_file: _f, source_line: _l, date, ...rest } = row;
      const expected = lineAsDuckRow(lines[i] as string);
      expect(rest).toEqual(expected);
      expect(date).toBe((expected.event_time as string).slice(0, 10));
    });
  });

  it('lays out Parquet by the UTC date of event_time', async () => {
    const s = await ingest([new URL('access-logs/', SAMPLES).pathname], opts());
    const dates = readdirSync(join(opts().data, 'access_log')).sort();
    expect(dates).toEqual(['date=2019-03-14', 'date=2025-03-10', 'date=2025-03-11', 'date=2025-03-12']);
    expect(s.files.every((f) => /^access_log\/date=\d{4}-\d{2}-\d{2}\/[\w-]+\.parquet$/.test(f))).toBe(true);
    // The -0500 records of 2025-03-12 15:0x local are 20:0x UTC, same date.
    const rows = await readRows(opts().data);
    for (const r of rows) expect(r.date).toBe((r.event_time as string).slice(0, 10));
  });

  it('accounts for every line: read = ingested + rejected + skipped', async () => {
    const s = await ingest([new URL('access-logs/', SAMPLES).pathname], opts());
    expect(s.lines).toBe(s.rows + s.rejected + s.skipped);
    expect(s.rejected).toBe(3);
    expect(s.skipped).toBe(2);
  });

  it('records each reject with file, line, reason and the raw line, and goes on', async () => {
    const file = join(tmp.dir, 'mixed.log');
    const good = [...generateAccessLogLines({ lines: 3, seed: 2, quirks: 0 })];
    writeFileSync(file, [good[0], 'garbage line', good[1], (good[2] as string).replace(' 200 ', ' 2x0 ')].join('\n'));
    const s = await ingest([file], opts());
    expect(s.rows).toBe(2);
    expect(s.rejectsFile).not.toBeNull();
    const rejects = readFileSync(join(opts().data, s.rejectsFile as string), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rejects).toEqual([
      { source_file: file, line: 2, reason: 'not an access-log record: 2 fields, at least 18 needed (event_time missing)', raw: 'garbage line' },
      { source_file: file, line: 4, reason: 'http_status: "2x0" is not a number', raw: (good[2] as string).replace(' 200 ', ' 2x0 ') },
    ]);
  });

  it('adds nothing when the same input is ingested twice', async () => {
    const src = new URL('access-logs/', SAMPLES).pathname;
    const first = await ingest([src], opts());
    const before = await readRows(opts().data);
    const second = await ingest([src], opts());
    expect(second.rows).toBe(0);
    expect(second.files).toEqual([]);
    expect(second.passed).toHaveLength(first.sources);
    expect(second.passed.every((p) => p.reason === 'already ingested')).toBe(true);
    expect(await readRows(opts().data)).toEqual(before);
  });

  it('passes over the same content under another name', async () => {
    const a = join(tmp.dir, 'a.log');
    writeFileSync(a, [...generateAccessLogLines({ lines: 5, seed: 3 })].join('\n'));
    cpSync(a, join(tmp.dir, 'copy-of-a.log'));
    await ingest([a], opts());
    const s = await ingest([join(tmp.dir, 'copy-of-a.log')], opts());
    expect(s.rows).toBe(0);
    expect(s.passed[0]?.reason).toMatch(/^same content as .*a\.log, already ingested$/);
  });

  it('with --force re-reads and replaces, never duplicates', async () => {
    const src = new URL('access-logs/', SAMPLES).pathname;
    await ingest([src], opts());
    const before = await readRows(opts().data);
    const again = await ingest([src], opts({ force: true }));
    expect(again.rows).toBe(before.length);
    expect(again.replaced.length).toBeGreaterThan(0);
    expect(await readRows(opts().data)).toEqual(before);
  });

  it('replaces the rows of a file that changed since, keeping other files of that run', async () => {
    const a = join(tmp.dir, 'a.log');
    const b = join(tmp.dir, 'b.log');
    const lines = [...generateAccessLogLines({ lines: 20, seed: 4, days: 1 })];
    writeFileSync(a, lines.slice(0, 10).join('\n') + '\n');
    writeFileSync(b, lines.slice(10).join('\n') + '\n');
    await ingest([a, b], opts());
    appendFileSync(a, [...generateAccessLogLines({ lines: 3, seed: 5, days: 1 })].join('\n') + '\n');
    const s = await ingest([a, b], opts());
    expect(s.replaced).toEqual([a]);
    const rows = await readRows(opts().data);
    expect(rows.filter((r) => r.source_file === a)).toHaveLength(13);
    expect(rows.filter((r) => r.source_file === b)).toHaveLength(10);
  });

  it('reads gzip by content, whatever the name, the same as plain', async () => {
    const lines = [...generateAccessLogLines({ lines: 50, seed: 6 })];
    writeFileSync(join(tmp.dir, 'plain.log'), lines.join('\n'));
    writeFileSync(join(tmp.dir, 'packed.log'), gzipSync(lines.join('\n')));
    await ingest([join(tmp.dir, 'plain.log')], opts({ data: join(tmp.dir, 'p') }));
    await ingest([join(tmp.dir, 'packed.log')], opts({ data: join(tmp.dir, 'g') }));
    const strip = (rows: Record<string, unknown>[]) => rows.map(({ source_file: _s, ...r }) => r);
    expect(strip(await readRows(join(tmp.dir, 'g')))).toEqual(strip(await readRows(join(tmp.dir, 'p'))));
  });

  it('keeps what a truncated gzip held and rejects the rest with a reason', async () => {
    const lines = [...generateAccessLogLines({ lines: 2000, seed: 7 })];
    const gz = gzipSync(lines.join('\n'));
    writeFileSync(join(tmp.dir, 'cut.log.gz'), gz.subarray(0, Math.floor(gz.length / 2)));
    const s = await ingest([join(tmp.dir, 'cut.log.gz')], opts());
    expect(s.rejected).toBe(1);
    expect(s.firstRejects[0]?.reason).toMatch(/reading stopped at byte \d+: unexpected end of file/);
    expect(s.rows).toBeGreaterThan(0);
    expect(s.lines).toBe(s.rows + s.rejected + s.skipped);
  });

  it('reads stdin (-) and names it - in source_file', async () => {
    const lines = [...generateAccessLogLines({ lines: 30, seed: 8 })];
    const s = await ingest(['-'], opts({ stdin: Readable.from([Buffer.from(lines.join('\n'))]) }));
    expect(s.rows).toBe(30);
    const rows = await readRows(opts().data);
    expect(new Set(rows.map((r) => r.source_file))).toEqual(new Set(['-']));
    const again = await ingest(['-'], opts({ stdin: Readable.from([Buffer.from(lines.join('\n'))]) }));
    expect(again.rows).toBe(0);
  });

  it('keeps a record with invalid UTF-8, the bad bytes replaced', async () => {
    const line = [...generateAccessLogLines({ lines: 1, seed: 9, quirks: 0 })][0] as string;
    const bad = Buffer.concat([Buffer.from(line.replace(/"[^"]*"$/, '').replace(/ "([^"]*)" -/, ' "ua-') ), Buffer.from([0xff, 0xfe]), Buffer.from('" -')]);
    const file = join(tmp.dir, 'bad-utf8.log');
    writeFileSync(file, Buffer.concat([Buffer.from(line + '\n'), bad]));
    const s = await ingest([file], opts());
    expect(s.rows + s.rejected).toBe(2);
    const rows = await readRows(opts().data);
    expect(JSON.stringify(rows)).not.toMatch(/\\u00ff/);
  });

  it('with --strict commits nothing when a line is rejected', async () => {
    const file = join(tmp.dir, 'x.log');
    writeFileSync(file, [...generateAccessLogLines({ lines: 3, seed: 10 })].join('\n') + '\nnot a record\n');
    const s = await ingest([file], opts({ strict: true }));
    expect(s.strictFailed).toBe(true);
    expect(existsSync(join(opts().data, 'access_log'))).toBe(false);
    expect(existsSync(join(opts().data, '_manifest.json'))).toBe(false);
  });

  it('refuses a missing source with a message naming it', async () => {
    await expect(ingest([join(tmp.dir, 'nope.log')], opts())).rejects.toThrow(/nope\.log: no such file or folder/);
  });

  it('refuses a second writer while one holds the dataset', async () => {
    const file = join(tmp.dir, 'one.log');
    writeFileSync(file, [...generateAccessLogLines({ lines: 20000, seed: 12 })].join('\n'));
    const file2 = join(tmp.dir, 'two.log');
    writeFileSync(file2, [...generateAccessLogLines({ lines: 10, seed: 13 })].join('\n'));
    // The second writer starts while the first reports progress, so while it surely holds the lock.
    let second: Promise<string> | undefined;
    const first = ingest([file], { ...opts(), onProgress: () => {
      second ??= ingest([file2], opts()).then(() => 'accepted', (err: unknown) => String(err));
    } });
    await first;
    expect(await second).toMatch(/being written by another s3sift/);
  });
});
