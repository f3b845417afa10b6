/**
 * `npm run bench` (fifth part): ingest of 1,000 small access-log objects
 * from an S3-compatible server on loopback (s3rver, started here), objects
 * per second at a few fetch concurrencies. Writes bench/out/s3.md.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
// @ts-expect-error -- s3rver ships no types
import S3rver from 's3rver';
import { ingest } from '../ingest/ingest.js';
import { s3Client } from '../ingest/s3.js';
import { generateAccessLogLines } from '../scripts/gen-access-logs.js';
import { OUT } from './harness.js';

const OBJECTS = 1000;
const dir = mkdtempSync(join(tmpdir(), 's3sift-bench-s3-'));
Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' });
const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: join(dir, 's3'), configureBuckets: [{ name: 'logs' }] });
const { port } = (await server.run()) as { port: number };
const endpoint = `http://127.0.0.1:${port}`;
const rows: string[] = [];
try {
  const client = s3Client({ endpoint });
  const lines = [...generateAccessLogLines({ lines: OBJECTS * 20, seed: 5 })];
  for (let i = 0; i < OBJECTS; i += 25) {
    await Promise.all(Array.from({ length: 25 }, (_, j) => client.send(new PutObjectCommand({
      Bucket: 'logs', Key: `access/2025-03-10-00-00-${String(i + j).padStart(4, '0')}-ABCDEF`, Body: lines.slice((i + j) * 20, (i + j) * 20 + 20).join('\n') + '\n',
    }))));
  }
  client.destroy();
  for (const concurrency of [1, 4, 16]) {
    const data = join(dir, `data-${concurrency}`);
    const t0 = performance.now();
    const s = await ingest(['s3://logs/access/'], { data, format: 'auto', force: false, strict: false, s3: { endpoint, concurrency } });
    const seconds = (performance.now() - t0) / 1000;
    process.stderr.write(`concurrency ${concurrency}: ${s.sources} objects, ${s.rows} rows in ${seconds.toFixed(2)} s\n`);
    rows.push(`| ${concurrency} | ${s.sources} | ${s.rows.toLocaleString('en-US')} | ${seconds.toFixed(2)} s | ${(s.sources / seconds).toFixed(0)} objects/s |`);
  }
} finally {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}
const text = [
  `# S3 ingest benchmark (${new Date().toISOString().slice(0, 10)}, ${process.version})`,
  '',
  `${OBJECTS.toLocaleString('en-US')} access-log objects of 20 lines on s3rver (loopback), one ingest each, fetch concurrency as given.`,
  '',
  '| concurrency | objects | rows | wall | rate |',
  '|---|---|---|---|---|',
  ...rows,
  '',
].join('\n');
writeFileSync(join(OUT, 's3.md'), text);
process.stdout.write(text);
