import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
// s3rver ships no types.
// @ts-expect-error -- untyped package
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, type IngestOptions } from '../../ingest/ingest.js';
import { generateAccessLogLines } from '../../scripts/gen-access-logs.js';
import { readRows, SAMPLES, tempDir } from '../helpers/dataset.js';
import { publish } from '../../ingest/publish.js';
import { keyDate, keyWindow, listS3Sources, objectBytes, s3Client } from '../../ingest/s3.js';

let tmp: { dir: string; cleanup: () => void };
let server: { run(): Promise<{ address: string; port: number }>; close(): Promise<void> };
let endpoint: string;
let client: S3Client;
const env = { AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY, AWS_REGION: process.env.AWS_REGION };

beforeAll(async () => {
  tmp = tempDir();
  server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: join(tmp.dir, 's3'), configureBuckets: [{ name: 'logs' }, { name: 'locked' }] });
  const { port } = await server.run();
  endpoint = `http://127.0.0.1:${port}`;
  // s3rver checks signatures made with its default key.
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' });
  client = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', requestChecksumCalculation: 'WHEN_REQUIRED' });
  const lines = [...generateAccessLogLines({ lines: 60, seed: 4 })];
  for (let i = 0; i < 6; i++) {
    const body = lines.slice(i * 10, i * 10 + 10).join('\n') + '\n';
    await client.send(new PutObjectCommand({ Bucket: 'logs', Key: `access/2025-03-1${i}-00-00-00-ABCDEF${i}`, Body: i % 2 ? gzipSync(body) : body }));
  }
  await client.send(new PutObjectCommand({ Bucket: 'logs', Key: 'access/.hidden', Body: 'x' }));
}, 30_000);
afterAll(async () => {
  client?.destroy();
  await server?.close();
  Object.assign(process.env, env);
  tmp.cleanup();
});

/** Run the CLI without blocking this process (the S3 server runs in it and must go on answering). */
async function cli(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const { spawn } = await import('node:child_process');
  const bin = new URL('../../bin/s3sift', import.meta.url).pathname;
  const p = spawn(process.execPath, [bin, ...args], { env: { ...process.env } });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const status = await new Promise<number | null>((res) => p.on('close', res));
  return { status, stdout, stderr };
}

const opts = (over: Partial<IngestOptions> = {}): IngestOptions => ({ data: join(tmp.dir, 'data'), format: 'auto', force: false, strict: false, s3: { endpoint, pageSize: 2 }, ...over });

describe('ingest of s3:// sources', () => {
  it('lists across pages, reads gzip by content, and names rows by their s3:// URI', async () => {
    const s = await ingest(['s3://logs/access/'], opts());
    expect(s).toMatchObject({ sources: 6, rows: 60, rejected: 0 });
    const rows = await readRows(opts().data);
    expect(new Set(rows.map((r) => r.source_file))).toEqual(new Set(Array.from({ length: 6 }, (_, i) => `s3://logs/access/2025-03-1${i}-00-00-00-ABCDEF${i}`)));
  });

  it('passes over objects already ingested (same key and ETag) without fetching them, and re-reads a changed one', async () => {
    const again = await ingest(['s3://logs/access/'], opts());
    expect(again.rows).toBe(0);
    expect(again.passed).toHaveLength(6);
    const changed = [...generateAccessLogLines({ lines: 3, seed: 9 })].join('\n') + '\n';
    await client.send(new PutObjectCommand({ Bucket: 'logs', Key: 'access/2025-03-10-00-00-00-ABCDEF0', Body: changed }));
    const third = await ingest(['s3://logs/access/'], opts());
    expect(third).toMatchObject({ sources: 1, rows: 3, replaced: ['s3://logs/access/2025-03-10-00-00-00-ABCDEF0'] });
    expect(await readRows(opts().data)).toHaveLength(53);
  });

  it('reads only the objects whose key dates fall in --since/--until, give or take a day', async () => {
    const s = await ingest(['s3://logs/access/'], opts({ data: join(tmp.dir, 'window'), s3: { endpoint, since: new Date('2025-03-13T00:00:00Z'), until: new Date('2025-03-14T00:00:00Z') } }));
    expect(s.sources).toBe(4); // 03-12 .. 03-15
  });

  it('reads the date from the key layouts AWS delivers logs in', () => {
    expect(keyDate('logs/2025-03-10-08-15-02-1A2B3C4D5E6F7A8B')).toEqual({ day: '2025-03-10', stem: 'logs/', sep: '-' });
    expect(keyDate('logs/prod-data-2025-03-10-08-15-02-1A2B3C4D5E6F7A8B')).toEqual({ day: '2025-03-10', stem: 'logs/prod-data-', sep: '-' });
    expect(keyDate('logs/111122223333/us-east-1/prod-data/2025/03/10/2025-03-10-08-15-02-1A2B3C4D5E6F7A8B')).toEqual({ day: '2025-03-10', stem: 'logs/111122223333/us-east-1/prod-data/', sep: '/' });
    expect(keyDate('AWSLogs/o-abc123/111122223333/CloudTrail/us-east-1/2025/03/11/111122223333_CloudTrail_us-east-1_20250311T0200Z_x.json.gz')).toEqual({ day: '2025-03-11', stem: 'AWSLogs/o-abc123/111122223333/CloudTrail/us-east-1/', sep: '/' });
    expect(keyDate('2025/03/11/x.json')).toMatchObject({ day: '2025-03-11', stem: '' });
    expect(keyDate('exports/result_1.csv.gz')).toBeNull();
  });

  it('prunes the listing by key date: jumps over the days outside the window instead of listing them', async () => {
    // 60 days in three layouts (and one undated key), listed 5 keys a page.
    const keys: string[] = ['pruned/exports/result_1.csv'];
    for (let d = 0; d < 60; d++) {
      const day = new Date(Date.UTC(2025, 0, 1) + d * 86_400_000).toISOString().slice(0, 10);
      keys.push(`pruned/simple/${day}-08-00-00-A${d}`);
      keys.push(`pruned/part/111122223333/us-east-1/prod-data/${day.replaceAll('-', '/')}/${day}-08-00-00-B${d}`);
      keys.push(`pruned/AWSLogs/111122223333/CloudTrail/us-east-1/${day.replaceAll('-', '/')}/111122223333_CloudTrail_us-east-1_x${d}.json`);
    }
    await Promise.all(keys.map((Key) => client.send(new PutObjectCommand({ Bucket: 'logs', Key, Body: 'x' }))));
    let lists = 0;
    const counting = s3Client({ endpoint });
    const send = counting.send.bind(counting);
    counting.send = ((cmd: never, ...rest: never[]) => {
      if ((cmd as object) instanceof ListObjectsCommand) lists++;
      return send(cmd, ...rest);
    }) as typeof counting.send;
    try {
      const window = keyWindow(new Date('2025-02-10T00:00:00Z'), new Date('2025-02-12T00:00:00Z'));
      expect(window).toEqual({ from: '2025-02-09', to: '2025-02-13' });
      const { sources } = await listS3Sources('s3://logs/pruned/', counting, 5, window);
      const days = sources.map((s) => keyDate(s.s3?.key as string)?.day ?? 'undated');
      expect(days.filter((d) => d === 'undated')).toHaveLength(1);
      expect(new Set(days.filter((d) => d !== 'undated'))).toEqual(new Set(['2025-02-09', '2025-02-10', '2025-02-11', '2025-02-12', '2025-02-13']));
      expect(sources).toHaveLength(1 + 3 * 5);
      const fullListing = Math.ceil(keys.length / 5);
      expect(lists).toBeLessThan(fullListing / 3);
    } finally {
      counting.destroy();
    }
  });

  it('streams objects larger than the read-ahead limit and resumes a download that breaks off', async () => {
    const data = join(tmp.dir, 'streamed');
    const s = await ingest(['s3://logs/access/'], opts({ data, s3: { endpoint, prefetchMax: 0 } }));
    expect(s).toMatchObject({ sources: 6, rows: 53, rejected: 0 }); // one object was replaced by 3 lines above
    // A body that breaks off after its first bytes: the rest comes from a ranged GET that must match the ETag.
    const flaky = s3Client({ endpoint });
    const send = flaky.send.bind(flaky);
    const gets: Array<{ Range?: string; IfMatch?: string }> = [];
    flaky.send = (async (cmd: never, ...rest: never[]) => {
      const r = (await send(cmd, ...rest)) as { Body?: AsyncIterable<Uint8Array> };
      if (!((cmd as object) instanceof GetObjectCommand)) return r;
      gets.push((cmd as GetObjectCommand).input);
      if (gets.length > 1) return r;
      const body = r.Body as AsyncIterable<Uint8Array>;
      return { ...r, Body: (async function* () {
        for await (const chunk of body) {
          yield chunk.subarray(0, 100);
          throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
        }
      })() };
    }) as typeof flaky.send;
    try {
      const key = 'access/2025-03-12-00-00-00-ABCDEF2';
      const { sources } = await listS3Sources(`s3://logs/${key}`, flaky);
      const parts: Buffer[] = [];
      for await (const chunk of objectBytes(flaky, 'x', sources[0]?.s3 as never)) parts.push(chunk);
      const got = Buffer.concat(parts);
      const whole = await (await client.send(new GetObjectCommand({ Bucket: 'logs', Key: key }))).Body?.transformToByteArray();
      expect(got.equals(Buffer.from(whole as Uint8Array))).toBe(true);
      expect(gets.map((g) => g.Range)).toEqual([undefined, 'bytes=100-']);
      expect(gets.every((g) => g.IfMatch === `"${sources[0]?.s3?.etag}"`)).toBe(true);
    } finally {
      flaky.destroy();
    }
  });

  it('commits the rest when an object cannot be read, names it, and reads it on the next run', async () => {
    const data = join(tmp.dir, 'unreadable');
    const failing = s3Client({ endpoint });
    const send = failing.send.bind(failing);
    let fail = true;
    failing.send = (async (cmd: never, ...rest: never[]) => {
      if (fail && (cmd as object) instanceof GetObjectCommand && (cmd as GetObjectCommand).input.Key?.endsWith('ABCDEF3')) {
        throw Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey' });
      }
      return send(cmd, ...rest);
    }) as typeof failing.send;
    try {
      const warnings: string[] = [];
      const first = await ingest(['s3://logs/access/'], opts({ data, s3: { client: failing }, onWarning: (m) => warnings.push(m) }));
      // Named once, as unreadable; no guess about its format on the way.
      expect(warnings).toEqual(['s3://logs/access/.hidden: hidden, passed over']);
      expect(first.unreadable).toEqual([{ name: 's3://logs/access/2025-03-13-00-00-00-ABCDEF3', reason: expect.stringMatching(/deleted since it was listed/) }]);
      expect(first.rows).toBe(43); // 53 in the bucket since one object was replaced above
      fail = false;
      const second = await ingest(['s3://logs/access/'], opts({ data, s3: { client: failing } }));
      expect(second).toMatchObject({ sources: 1, rows: 10, unreadable: [], replaced: ['s3://logs/access/2025-03-13-00-00-00-ABCDEF3'] });
      expect(await readRows(data)).toHaveLength(53);
    } finally {
      failing.destroy();
    }
  });

  it('answers a missing bucket with a one-line error and exit 2, on the command line', async () => {
    const r = await cli('ingest', 's3://no-such-bucket/access/', '--endpoint-url', endpoint, '--data', join(tmp.dir, 'denied'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error: s3:\/\/no-such-bucket\/access\/: no such bucket$/m);
  }, 30_000);

  it('answers access denied with a one-line error and exit 2, on the command line', async () => {
    // s3rver accepts any key; a loopback server that refuses everything as S3 does stands in.
    const { createServer } = await import('node:http');
    const denying = createServer((_req, res) => {
      res.writeHead(403, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>R1</RequestId></Error>');
    });
    await new Promise<void>((res) => denying.listen(0, '127.0.0.1', res));
    const port = (denying.address() as { port: number }).port;
    try {
      const { status, stderr } = await cli('ingest', 's3://locked/access/', '--endpoint-url', `http://127.0.0.1:${port}`, '--data', join(tmp.dir, 'denied2'));
      expect(status).toBe(2);
      expect(stderr).toMatch(/^error: s3:\/\/locked\/access\/: access denied \(check the credentials, --profile and the bucket policy\)$/m);
    } finally {
      denying.close();
    }
  }, 30_000);

  it('analyzes straight from S3 with the S3 flags, and refuses a bad --concurrency with exit 2', async () => {
    const r = await cli('analyze', 's3://logs/access/', '--endpoint-url', endpoint, '--concurrency', '2', '--format', 'json', '--data', join(tmp.dir, 'analyzed'));
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/read 53 lines and records from 6 sources: 53 ingested/);
    expect(JSON.parse(r.stdout)).toHaveProperty('findings');
    const bad = await cli('analyze', 's3://logs/access/', '--concurrency', '0');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--concurrency must be a whole number from 1 to 64 \(got "0"\)/);
  }, 60_000);

  it('reads past a record planted under the prefix with a lone surrogate escape and one nested 100,000 deep: every run commits', async () => {
    const rec = { eventVersion: '1.08', eventTime: '2025-03-10T08:00:00Z', eventSource: 's3.amazonaws.com', eventName: 'GetObject', requestParameters: { bucketName: 'b', key: 'k' } };
    const good = JSON.stringify(rec);
    const planted = good.replace('"bucketName":"b"', '"bucketName":"b\\udfff"');
    const deep = good.replace(/\}$/, `,"deep":${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
    await client.send(new PutObjectCommand({ Bucket: 'logs', Key: 'planted/a.json', Body: [good, planted, good].join('\n') }));
    await client.send(new PutObjectCommand({ Bucket: 'logs', Key: 'planted/b.json', Body: `{"Records":[${deep},${good}]}` }));
    const s = await ingest(['s3://logs/planted/'], opts({ data: join(tmp.dir, 'planted') }));
    expect(s).toMatchObject({ sources: 2, rows: 4, rejected: 1, unreadable: [] });
    expect(s.firstRejects.map((r) => r.reason)).toEqual(['nested deeper than 100 levels']);
    const rows = await readRows(join(tmp.dir, 'planted'), 'cloudtrail');
    expect(rows.map((r) => r.bucket).sort()).toEqual(['b', 'b', 'b', 'b\ufffd']);
    expect((await ingest(['s3://logs/planted/'], opts({ data: join(tmp.dir, 'planted') }))).passed).toHaveLength(2);
  });

  it('says clearly when the bucket does not exist or the prefix is empty', async () => {
    await expect(ingest(['s3://no-such-bucket/x/'], opts({ data: join(tmp.dir, 'd2') }))).rejects.toThrow(/s3:\/\/no-such-bucket\/x\/: no such bucket/);
    await expect(ingest(['s3://logs/nothing-here/'], opts({ data: join(tmp.dir, 'd3') }))).rejects.toThrow(/no objects under this prefix/);
  });
});

describe('publish', () => {
  it('uploads the Parquet files in the Athena layout, only the new ones, and deletes what the dataset replaced', async () => {
    const data = join(tmp.dir, 'pub');
    await ingest([new URL('access-logs/', SAMPLES).pathname], { data, format: 'auto', force: false, strict: false });
    const c = s3Client({ endpoint });
    try {
      const first = await publish(data, 's3://logs/published', c);
      expect(first.uploaded.length).toBeGreaterThan(0);
      expect(first.uploaded.every((k) => /^access_log\/date=\d{4}-\d\d-\d\d\/[\w-]+\.parquet$/.test(k))).toBe(true);
      const listed = await c.send(new ListObjectsCommand({ Bucket: 'logs', Prefix: 'published/' }));
      expect((listed.Contents ?? []).map((o) => o.Key).sort()).toEqual(first.uploaded.map((k) => `published/${k}`).sort());
      const again = await publish(data, 's3://logs/published/', c);
      expect(again).toMatchObject({ uploaded: [], unchanged: first.uploaded.length, deleted: [] });
      // A forced re-ingest rewrites the files: the old ones go, the new ones come.
      await ingest([new URL('access-logs/', SAMPLES).pathname], { data, format: 'auto', force: true, strict: false });
      const third = await publish(data, 's3://logs/published', c);
      expect(third.deleted.sort()).toEqual(first.uploaded.sort());
      expect(third.uploaded.length).toBeGreaterThan(0);
      await expect(publish(data, 's3://no-such-bucket/x', c)).rejects.toThrow(/s3:\/\/no-such-bucket\/x: no such bucket/);
    } finally {
      c.destroy();
    }
  });
});
