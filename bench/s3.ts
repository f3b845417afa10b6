/**
 * `npm run bench` (fifth part): ingest of 1,000 small access-log objects
 * from an S3-compatible server on loopback (s3rver, started here), at a few
 * fetch concurrencies. Reference: the same 1,000 objects as files in a local
 * folder, ingested in the same run. Medians of several runs.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PutObjectCommand } from '@aws-sdk/client-s3';
// @ts-expect-error -- s3rver ships no types
import S3rver from 's3rver';
import { ingest } from '../ingest/ingest.js';
import { s3Client } from '../ingest/s3.js';
import { generateAccessLogLines } from '../scripts/gen-access-logs.js';
import { median, ratio, saveSection, type Figure } from './harness.js';

const { values } = parseArgs({ options: { objects: { type: 'string', default: '1000' }, runs: { type: 'string', default: '3' } } });
const OBJECTS = Number(values.objects);
const runs = Number(values.runs);
const dir = mkdtempSync(join(tmpdir(), 's3sift-bench-s3-'));
Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' });
const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: join(dir, 's3'), configureBuckets: [{ name: 'logs' }] });
const { port } = (await server.run()) as { port: number };
const endpoint = `http://127.0.0.1:${port}`;
const figures: Figure[] = [];
try {
  const client = s3Client({ endpoint });
  const lines = [...generateAccessLogLines({ lines: OBJECTS * 20, seed: 5 })];
  const local = join(dir, 'local');
  mkdirSync(local);
  for (let i = 0; i < OBJECTS; i += 25) {
    await Promise.all(Array.from({ length: 25 }, (_, j) => {
      const key = `2025-03-10-00-00-${String(i + j).padStart(4, '0')}-ABCDEF`;
      const body = lines.slice((i + j) * 20, (i + j) * 20 + 20).join('\n') + '\n';
      writeFileSync(join(local, key), body);
      return client.send(new PutObjectCommand({ Bucket: 'logs', Key: `access/${key}`, Body: body }));
    }));
  }
  client.destroy();
  const timed = async (sources: string[], concurrency: number, tag: string): Promise<number> => {
    const data = join(dir, `data-${tag}`);
    rmSync(data, { recursive: true, force: true });
    const t0 = performance.now();
    const s = await ingest(sources, { data, format: 'auto', force: false, strict: false, s3: { endpoint, concurrency } });
    const seconds = (performance.now() - t0) / 1000;
    if (s.sources !== OBJECTS) throw new Error(`${tag}: read ${s.sources} of ${OBJECTS}`);
    return s.sources / seconds;
  };
  for (const concurrency of [1, 4, 16]) {
    const ours: number[] = [];
    const ref: number[] = [];
    for (let i = 0; i < runs; i++) {
      ref.push(await timed([local], concurrency, 'local'));
      ours.push(await timed(['s3://logs/access/'], concurrency, `s3-${concurrency}`));
      process.stderr.write(`concurrency ${concurrency}, run ${i + 1}: ${ours.at(-1)?.toFixed(0)} objects/s from S3, ${ref.at(-1)?.toFixed(0)} files/s from disk\n`);
    }
    const o = median(ours);
    const r = median(ref);
    figures.push({ figure: `ingest of ${OBJECTS.toLocaleString('en-US')} objects, fetch concurrency ${concurrency}${concurrency === 4 ? ' (default)' : ''}`, s3sift: `${o.toFixed(0)} objects/s`, reference: `${r.toFixed(0)} files/s`, ratio: ratio(o, r), target: concurrency === 4 ? '≥ 100 objects/s' : '-' });
  }
} finally {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}
saveSection('s3', {
  title: 'S3 ingest benchmark',
  about: `${OBJECTS.toLocaleString('en-US')} access-log objects of 20 lines on s3rver (loopback, in the same Node process, so it is the ceiling here rather than S3). Reference: the same ${OBJECTS.toLocaleString('en-US')} files ingested from a local folder, in the same run.`,
  runs,
  figures,
});
