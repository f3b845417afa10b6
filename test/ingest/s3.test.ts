import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ListObjectsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
// s3rver ships no types.
// @ts-expect-error -- untyped package
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, type IngestOptions } from '../../ingest/ingest.js';
import { generateAccessLogLines } from '../../scripts/gen-access-logs.js';
import { readRows, SAMPLES, tempDir } from '../helpers/dataset.js';
import { publish } from '../../ingest/publish.js';
import { keyDate, s3Client } from '../../ingest/s3.js';

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
    expect(keyDate('logs/2025-03-10-08-15-02-1A2B3C4D5E6F7A8B')).toBe('2025-03-10');
    expect(keyDate('logs/111122223333/us-east-1/prod-data/2025/03/10/2025-03-10-08-15-02-1A2B3C4D5E6F7A8B')).toBe('2025-03-10');
    expect(keyDate('AWSLogs/o-abc123/111122223333/CloudTrail/us-east-1/2025/03/11/111122223333_CloudTrail_us-east-1_20250311T0200Z_x.json.gz')).toBe('2025-03-11');
    expect(keyDate('exports/result_1.csv.gz')).toBeNull();
  });

  it('answers a missing bucket with a one-line error and exit 2, on the command line', async () => {
    // Not spawnSync: the S3 server runs in this process and must go on answering.
    const { spawn } = await import('node:child_process');
    const bin = new URL('../../bin/s3sift', import.meta.url).pathname;
    const p = spawn(process.execPath, [bin, 'ingest', 's3://no-such-bucket/access/', '--endpoint-url', endpoint, '--data', join(tmp.dir, 'denied')], {
      env: { ...process.env },
    });
    let stderr = '';
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const status = await new Promise<number | null>((res) => p.on('close', res));
    const r = { status, stderr };
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error: s3:\/\/no-such-bucket\/access\/: no such bucket$/m);
  }, 30_000);

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
