import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
// s3rver ships no types.
// @ts-expect-error -- untyped package
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, type IngestOptions } from '../../ingest/ingest.js';
import { generateAccessLogLines } from '../../scripts/gen-access-logs.js';
import { readRows, tempDir } from '../helpers/dataset.js';

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

  it('says clearly when the bucket does not exist or the prefix is empty', async () => {
    await expect(ingest(['s3://no-such-bucket/x/'], opts({ data: join(tmp.dir, 'd2') }))).rejects.toThrow(/s3:\/\/no-such-bucket\/x\/: no such bucket/);
    await expect(ingest(['s3://logs/nothing-here/'], opts({ data: join(tmp.dir, 'd3') }))).rejects.toThrow(/no objects under this prefix/);
  });
});
