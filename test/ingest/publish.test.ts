/**
 * publish deletes only what this dataset published and no longer has, never
 * after a failure to read the dataset, and says each failed upload or delete
 * in one line (issue 18).
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname, join, sep } from 'node:path';
import { ListObjectsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
// s3rver ships no types.
// @ts-expect-error -- untyped package
import S3rver from 's3rver';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DatasetError, InputError } from '../../common/errors.js';
import { ingest } from '../../ingest/ingest.js';
import { lock } from '../../ingest/dataset.js';
import { loadManifest } from '../../ingest/manifest.js';
import { PUBLISHED, publish } from '../../ingest/publish.js';
import { s3Client } from '../../ingest/s3.js';
import { SAMPLES, tempDir } from '../helpers/dataset.js';

const BIN = new URL('../../bin/s3sift', import.meta.url).pathname;
const accessLogs = new URL('access-logs/', SAMPLES).pathname;

let tmp: { dir: string; cleanup: () => void };
let server: { run(): Promise<{ port: number }>; close(): Promise<void> };
let endpoint: string;
let client: S3Client;
const env = { AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY, AWS_REGION: process.env.AWS_REGION };

beforeAll(async () => {
  tmp = tempDir();
  server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: join(tmp.dir, 's3'), configureBuckets: [{ name: 'lake' }] });
  const { port } = await server.run();
  endpoint = `http://127.0.0.1:${port}`;
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' });
  client = s3Client({ endpoint });
}, 30_000);
afterAll(async () => {
  client?.destroy();
  await server?.close();
  Object.assign(process.env, env);
  tmp.cleanup();
});

let n = 0;
let prefix: string;
let data: string;
beforeEach(async () => {
  n++;
  prefix = `p${n}`;
  data = join(tmp.dir, `data${n}`);
  await ingest([accessLogs], { data, format: 'auto', force: false, strict: false });
});

async function remoteKeys(p = prefix): Promise<string[]> {
  const out = await client.send(new ListObjectsCommand({ Bucket: 'lake', Prefix: `${p}/` }));
  return (out.Contents ?? []).map((o) => o.Key as string).sort();
}

/** A client whose calls of one command fail as S3 would answer, or answer `output` instead (the rest go through). */
function clientWith(command: string, answer: { fail: Error } | { output: Record<string, unknown> }): S3Client {
  const c = s3Client({ endpoint });
  c.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== command) return next(args);
      if ('fail' in answer) throw answer.fail;
      return { output: { $metadata: {}, ...answer.output }, response: {} };
    },
    { step: 'initialize', name: 'fakeAnswer' },
  );
  return c;
}

function s3Failure(name: string, message: string, status: number): Error {
  return Object.assign(new Error(message), { name, $fault: 'client', $metadata: { httpStatusCode: status } });
}

describe('publish deletes', () => {
  it('the files this dataset published and replaced, recorded in _published.json, and nothing else', async () => {
    const first = await publish(data, `s3://lake/${prefix}`, client);
    expect(first).toMatchObject({ deleted: [], foreign: [], firstPublish: true });
    const record = JSON.parse(readFileSync(join(data, PUBLISHED), 'utf8'));
    expect(Object.keys(record.destinations[`s3://lake/${prefix}/`].files).sort()).toEqual([...first.uploaded].sort());
    // Someone else's file under the prefix, in the layout.
    const foreign = `${prefix}/access_log/date=2019-03-14/someone-else.parquet`;
    await client.send(new PutObjectCommand({ Bucket: 'lake', Key: foreign, Body: 'PAR1 not ours' }));
    await ingest([accessLogs], { data, format: 'auto', force: true, strict: false });
    const second = await publish(data, `s3://lake/${prefix}/`, client);
    expect(second.firstPublish).toBe(false);
    expect([...second.deleted].sort()).toEqual([...first.uploaded].sort());
    expect(second.foreign).toEqual(['access_log/date=2019-03-14/someone-else.parquet']);
    expect(await remoteKeys()).toEqual([...second.uploaded.map((k) => `${prefix}/${k}`), foreign].sort());
    const after = JSON.parse(readFileSync(join(data, PUBLISHED), 'utf8'));
    expect(Object.keys(after.destinations[`s3://lake/${prefix}/`].files).sort()).toEqual([...second.uploaded].sort());
  });

  it('not a file it published that someone else has since overwritten (its size is no longer the one recorded): left alone, counted, forgotten', async () => {
    const first = await publish(data, `s3://lake/${prefix}`, client);
    const [theirs, ...mine] = [...first.uploaded].sort();
    await client.send(new PutObjectCommand({ Bucket: 'lake', Key: `${prefix}/${theirs}`, Body: 'PAR1 another writer put this here since' }));
    await ingest([accessLogs], { data, format: 'auto', force: true, strict: false });
    const second = await publish(data, `s3://lake/${prefix}`, client);
    expect([...second.deleted].sort()).toEqual(mine);
    expect(second.foreign).toEqual([theirs]);
    expect(await remoteKeys()).toContain(`${prefix}/${theirs}`);
    const record = JSON.parse(readFileSync(join(data, PUBLISHED), 'utf8'));
    expect(Object.keys(record.destinations[`s3://lake/${prefix}/`].files)).not.toContain(theirs);
  });

  it('nothing on the first publish to a destination (no record): files already there are left alone and counted', async () => {
    const stale = `${prefix}/access_log/date=2019-03-14/from-before.parquet`;
    await client.send(new PutObjectCommand({ Bucket: 'lake', Key: stale, Body: 'PAR1 old' }));
    const s = await publish(data, `s3://lake/${prefix}`, client);
    expect(s).toMatchObject({ deleted: [], firstPublish: true, foreign: ['access_log/date=2019-03-14/from-before.parquet'] });
    expect(await remoteKeys()).toContain(stale);
    // A second dataset publishing to the same place deletes nothing of the first's.
    const other = join(tmp.dir, `other${n}`);
    await ingest([new URL('cloudtrail/', SAMPLES).pathname], { data: other, format: 'auto', force: false, strict: false });
    const o = await publish(other, `s3://lake/${prefix}`, client);
    expect(o.deleted).toEqual([]);
    expect(await remoteKeys()).toEqual(expect.arrayContaining(s.uploaded.map((k) => `${prefix}/${k}`)));
  });

  it('nothing when a table folder cannot be read: the run stops before any upload or delete', async () => {
    // Both tables, so the other one still has files to publish.
    await ingest([new URL('cloudtrail/', SAMPLES).pathname], { data, format: 'auto', force: false, strict: false });
    await publish(data, `s3://lake/${prefix}`, client);
    const before = await remoteKeys();
    expect(before.some((k) => k.startsWith(`${prefix}/access_log/`)) && before.some((k) => k.startsWith(`${prefix}/cloudtrail/`))).toBe(true);
    // One table folder a file now (as good as unreadable): it used to look empty, and every remote file of it stale.
    rmSync(join(data, 'access_log'), { recursive: true });
    writeFileSync(join(data, 'access_log'), 'x');
    await expect(publish(data, `s3://lake/${prefix}`, client)).rejects.toThrow(DatasetError);
    await expect(publish(data, `s3://lake/${prefix}`, client)).rejects.toThrow(`${join(data, 'access_log')}: cannot read (ENOTDIR`);
    expect(await remoteKeys()).toEqual(before);
    // A folder that holds no dataset at all: said so, nothing touched.
    mkdirSync(join(tmp.dir, `nothing${n}`));
    await expect(publish(join(tmp.dir, `nothing${n}`), `s3://lake/${prefix}`, client)).rejects.toThrow('no s3sift dataset here');
    expect(await remoteKeys()).toEqual(before);
  });
});

describe('publish uploads', () => {
  it("only the files the dataset's manifest names: not one an interrupted commit moved in before writing the head (its rows would count twice)", async () => {
    const m = await loadManifest(data);
    const named = [...new Set(Object.values(m.sources).flatMap((e) => e.files))].sort();
    expect(named.length).toBeGreaterThan(0);
    // A commit replacing rows moves its rewritten file in, then writes the head, then removes the old file: stopped between.
    const old = named[0] as string;
    const moved = join(dirname(old), 'run-r0.parquet');
    copyFileSync(join(data, old), join(data, moved));
    const s = await publish(data, `s3://lake/${prefix}`, client);
    expect([...s.uploaded].sort()).toEqual(named.map((f) => f.split(sep).join('/')));
    expect(await remoteKeys()).not.toContain(`${prefix}/${moved.split(sep).join('/')}`);
  });

  it('nothing while an ingest holds the dataset (its commit removes merged manifest segments and replaced files): refused naming the writer', async () => {
    const unlock = await lock(data);
    try {
      await expect(publish(data, `s3://lake/${prefix}`, client)).rejects.toThrow(`${data} is being written by another s3sift (pid ${process.pid})`);
    } finally {
      await unlock();
    }
    expect(await remoteKeys()).toEqual([]);
  });

  it('nothing when a file the manifest names is missing: the run stops naming it', async () => {
    const [f] = [...new Set(Object.values((await loadManifest(data)).sources).flatMap((e) => e.files))].sort();
    rmSync(join(data, f as string));
    await expect(publish(data, `s3://lake/${prefix}`, client)).rejects.toThrow(`${join(data, f as string)}: named by the manifest but missing; nothing was published or deleted`);
    expect(await remoteKeys()).toEqual([]);
  });
});

describe('publish failures', () => {
  it('an upload S3 refuses: one line with the object and S3 code and message, nothing deleted', async () => {
    const failing = clientWith('PutObjectCommand', { fail: s3Failure('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', 400) });
    try {
      const err = await publish(data, `s3://lake/${prefix}`, failing).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InputError);
      expect((err as Error).message).toMatch(new RegExp(`^upload failed: s3://lake/${prefix}/access_log/date=[\\d-]+/[\\w-]+\\.parquet: EntityTooLarge: Your proposed upload exceeds the maximum allowed size; nothing stale was deleted$`));
    } finally {
      failing.destroy();
    }
  });

  it('a DeleteObjects answer with Errors: reported with the key and message, and the key kept for the next run', async () => {
    const first = await publish(data, `s3://lake/${prefix}`, client);
    await ingest([accessLogs], { data, format: 'auto', force: true, strict: false });
    const refusing = clientWith('DeleteObjectsCommand', { output: { Deleted: [], Errors: first.uploaded.map((k) => ({ Key: `${prefix}/${k}`, Code: 'AccessDenied', Message: 'Access Denied' })) } });
    try {
      await expect(publish(data, `s3://lake/${prefix}`, refusing)).rejects.toThrow(
        new RegExp(`^${first.uploaded.length} stale file\\(s\\) could not be deleted, so Athena counts their rows twice until they are: s3://lake/${prefix}/access_log/\\S+\\.parquet: AccessDenied: Access Denied`),
      );
    } finally {
      refusing.destroy();
    }
    // Still recorded as published from here: the next run deletes them.
    const again = await publish(data, `s3://lake/${prefix}`, client);
    expect([...again.deleted].sort()).toEqual([...first.uploaded].sort());
  });

  it('from the CLI: exit 2, one line naming the object and S3 message (a store that refuses every upload)', async () => {
    // A stand-in S3 on loopback: lists nothing, refuses every PUT as S3 does.
    const fake: Server = createServer((req, res) => {
      req.resume();
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'application/xml' });
        res.end('<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>lake</Name><Prefix></Prefix><IsTruncated>false</IsTruncated></ListBucketResult>');
      } else {
        res.writeHead(400, { 'content-type': 'application/xml' });
        res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidBucketState</Code><Message>The request is not valid with the current state of the bucket.</Message></Error>');
      }
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    try {
      const port = (fake.address() as AddressInfo).port;
      const p = spawn(process.execPath, [BIN, 'publish', 's3://lake/x', '--data', data, '--endpoint-url', `http://127.0.0.1:${port}`], {
        // The SDK's warning about the Node version is no part of the answer.
        env: { ...process.env, NODE_NO_WARNINGS: '1' },
      });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const code = await new Promise<number | null>((r) => p.on('close', r));
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toMatch(/^error: upload failed: s3:\/\/lake\/x\/access_log\/date=[\d-]+\/[\w-]+\.parquet: InvalidBucketState: The request is not valid with the current state of the bucket\.; nothing stale was deleted\n$/);
    } finally {
      await new Promise((r) => fake.close(r));
    }
  });
});
