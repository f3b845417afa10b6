/**
 * `s3sift watch` end to end, on loopback only: the CLI runs as a child
 * process (bin/s3sift), the webhook receiver and the S3 server run in this
 * process, each started and stopped by its own handle.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
// s3rver ships no types.
// @ts-expect-error -- untyped package
import S3rver from 's3rver';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { watch } from '../../cli/watch.js';
import { ingest } from '../../ingest/ingest.js';
import { generateAccessLogLines } from '../../scripts/gen-access-logs.js';
import type { Finding } from '../../query/finding.js';
import { SAMPLES, tempDir } from '../helpers/dataset.js';

const BIN = new URL('../../bin/s3sift', import.meta.url).pathname;
const ONLY = ['--only', 'anonymous-access,permanent-version-delete,mass-delete,presigned-url-long-expiry'];
const sample = (rel: string): string => new URL(`access-logs/${rel}`, SAMPLES).pathname;

interface Child {
  exited: Promise<number | null>;
  stdout(): string;
  stderr(): string;
  kill(sig: NodeJS.Signals): void;
}

/** Run the CLI without blocking this process (the receivers here must go on answering). */
function start(args: string[], env: NodeJS.ProcessEnv = {}): Child {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
  child.stderr.on('data', (b: Buffer) => (err += b.toString('utf8')));
  return { exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))), stdout: () => out, stderr: () => err, kill: (s) => child.kill(s) };
}

async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const c = start(args, env);
  const code = await c.exited;
  return { code, stdout: c.stdout(), stderr: c.stderr() };
}

async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const ndjson = (path: string): Array<Record<string, unknown>> =>
  existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) : [];

/** A webhook receiver on 127.0.0.1: what it was sent; `failFirst` requests answered 503. */
class Receiver {
  readonly got: Array<{ key: string | undefined; body: Record<string, unknown> }> = [];
  private server: Server | null = null;
  failFirst = 0;
  port = 0;
  async start(port = 0): Promise<void> {
    this.server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (b: Buffer) => (body += b.toString('utf8')));
      req.on('end', () => {
        if (this.failFirst > 0) {
          this.failFirst--;
          res.writeHead(503).end();
          return;
        }
        this.got.push({ key: req.headers['idempotency-key'] as string | undefined, body: JSON.parse(body) as Record<string, unknown> });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }
  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
  get url(): string {
    return `http://127.0.0.1:${this.port}/hook/secret-token`;
  }
}

/** Every file under `dir`, relative. */
const filesUnder = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1)) : []);

/** The finding ids waiting in the spools, sorted. */
const spooledIds = (data: string): string[] =>
  filesUnder(join(data, 'spool')).flatMap((f) => ndjson(join(data, 'spool', f))).map((a) => String(a.finding_id)).sort();

/** The finding ids detect gives over the dataset (what watch must have sent, each once). */
async function detectIds(data: string): Promise<string[]> {
  const r = await cli(['detect', '--data', data, '--format', 'ndjson', ...ONLY]);
  expect(r.code).toBe(0);
  return [...new Set(r.stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { finding_id: string }).finding_id))].sort();
}

let tmp: { dir: string; cleanup: () => void };
let receiver: Receiver;
beforeEach(() => {
  tmp = tempDir('s3sift-watch-');
  receiver = new Receiver();
});
afterEach(async () => {
  await receiver.stop();
  tmp.cleanup();
});

describe('s3sift watch', () => {
  it('files dropped into a watched folder reach an NDJSON sink and a webhook, each finding once; SIGTERM ends it cleanly with exit 0', async () => {
    const inbox = join(tmp.dir, 'inbox');
    const data = join(tmp.dir, 'data');
    const out = join(tmp.dir, 'alerts.ndjson');
    mkdirSync(join(inbox, 'web-assets'), { recursive: true });
    mkdirSync(join(inbox, 'prod-data'), { recursive: true });
    await receiver.start();
    receiver.failFirst = 2; // answered 503 twice: retried within the cycle
    const w = start(['watch', inbox, '--data', data, '--every', '200ms', '--sink', `ndjson:${out}`, '--sink', `webhook:${receiver.url}`, '--log-format', 'json', ...ONLY]);
    try {
      await until('the first cycle', () => /"event":"cycle"/.test(w.stderr()));
      copyFileSync(sample('web-assets/2025-03-10.log'), join(inbox, 'web-assets', '2025-03-10.log'));
      await until('the first findings', () => ndjson(out).length > 0 && receiver.got.length === ndjson(out).length);
      const first = ndjson(out).length;
      copyFileSync(sample('prod-data/2025-03-11.log'), join(inbox, 'prod-data', '2025-03-11.log'));
      await until('the second findings', () => ndjson(out).length > first && receiver.got.length === ndjson(out).length);
      // One watch per dataset: a second one is refused, naming the first.
      const second = await cli(['watch', inbox, '--data', data, '--once', '--sink', `ndjson:${out}`]);
      expect(second.code).toBe(2);
      expect(second.stderr).toMatch(/is watched by s3sift pid \d+/);
    } finally {
      w.kill('SIGTERM');
    }
    expect(await w.exited).toBe(0);
    const log = w.stderr().trim().split('\n').map((l) => JSON.parse(l) as { event: string; level: string; message: string });
    expect(log.at(-1)).toMatchObject({ event: 'stop', level: 'info' });
    expect(log.some((l) => l.event === 'signal' && /SIGTERM/.test(l.message))).toBe(true);
    // The webhook's path is not in the log (it may hold a secret).
    expect(w.stderr()).not.toContain('secret-token');

    const sent = ndjson(out);
    const ids = await detectIds(data);
    expect(sent.map((a) => a.finding_id).sort()).toEqual(ids);
    expect(sent[0]).toMatchObject({ alert: 'new', delivery_id: sent[0]?.finding_id });
    expect(Object.keys(sent[0] as object).slice(0, 4)).toEqual(['delivery_id', 'alert', 'first_seen', 'finding_id']);
    expect(receiver.got.map((g) => g.body.finding_id).sort()).toEqual(ids);
    expect(receiver.got.every((g) => g.key === g.body.delivery_id)).toBe(true);
    // No partial files: nothing staged, no temporary file, the spools empty.
    expect(filesUnder(data).filter((f) => f.includes('.tmp-') || f.startsWith('_staging') || f.startsWith('spool') || f.startsWith('_lock'))).toEqual([]);
    // Every finding is recorded as sent.
    const state = JSON.parse(readFileSync(join(data, 'findings', 'state.json'), 'utf8')) as { findings: Record<string, { alerted_at: string | null }> };
    expect(Object.values(state.findings).every((e) => e.alerted_at !== null)).toBe(true);
  });

  it('a receiver that is down keeps its findings in the spool, and gets each exactly once when it is back', async () => {
    const inbox = new URL('.', SAMPLES).pathname;
    const data = join(tmp.dir, 'data');
    // A port with no one listening on it: the receiver is down.
    await receiver.start();
    const port = receiver.port;
    await receiver.stop();
    const args = ['watch', inbox, '--data', data, '--once', '--sink', `webhook:${receiver.url}`, ...ONLY];
    const down = await cli(args);
    expect(down.code).toBe(2);
    expect(down.stderr).toMatch(/error deliver: webhook:http:\/\/127\.0\.0\.1:\d+: .*alert\(s\) kept in the spool/);
    const ids = await detectIds(data);
    expect(spooledIds(data)).toEqual(ids);
    // Still down on the next run: nothing is queued twice, and the library does not run again over a dataset that has not changed.
    const again = await cli(args);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/info detect: the dataset has not changed since the last cycle/);
    expect(spooledIds(data)).toEqual(ids);

    await receiver.start(port);
    const back = await cli(args);
    expect(back.code).toBe(0);
    expect(receiver.got.map((g) => g.body.finding_id).sort()).toEqual(ids);
    expect(new Set(receiver.got.map((g) => g.key)).size).toBe(ids.length);
    expect(filesUnder(join(data, 'spool'))).toEqual([]);
    // And never again.
    expect((await cli(args)).code).toBe(0);
    expect(receiver.got).toHaveLength(ids.length);
  });

  it('a resolved finding that fires again with newer events is sent again, as reopened', async () => {
    const inbox = join(tmp.dir, 'inbox');
    const data = join(tmp.dir, 'data');
    const out = join(tmp.dir, 'alerts.ndjson');
    mkdirSync(inbox);
    copyFileSync(sample('prod-data/2025-03-11.log'), join(inbox, 'a.log'));
    const args = ['watch', inbox, '--data', data, '--once', '--sink', `ndjson:${out}`, '--only', 'mass-delete'];
    expect((await cli(args)).code).toBe(0);
    const [first] = ndjson(out);
    expect(first).toMatchObject({ detection_id: 'mass-delete', alert: 'new' });
    expect((await cli(['findings', 'resolve', String(first?.finding_id), '--data', data, '--reason', 'cleanup job'])).code).toBe(0);
    // The same events again: it stays resolved, nothing is sent.
    expect((await cli(args)).code).toBe(0);
    expect(ndjson(out)).toHaveLength(1);
    // As if it had been resolved before its latest event: the next run reopens it and sends it again.
    const path = join(data, 'findings', 'state.json');
    const state = JSON.parse(readFileSync(path, 'utf8')) as { findings: Record<string, { last_event: string | null; status: string }> };
    (state.findings[String(first?.finding_id)] as { last_event: string | null }).last_event = '2000-01-01T00:00:00.000Z';
    writeFileSync(path, JSON.stringify(state));
    // (New logs arrive: the library runs again.)
    copyFileSync(sample('web-assets/2025-03-10.log'), join(inbox, 'b.log'));
    expect((await cli(args)).code).toBe(0);
    const [, again] = ndjson(out);
    expect(again).toMatchObject({ finding_id: first?.finding_id, alert: 'reopened', delivery_id: `${String(first?.finding_id)}/reopened-1` });
    const listed = (await cli(['findings', 'list', '--data', data, '--format', 'json'])).stdout;
    expect(JSON.parse(listed)).toMatchObject([{ finding_id: first?.finding_id, status: 'open', status_by: 's3sift' }]);
  });

  it('objects put into an S3 bucket (s3rver) produce findings; a source that fails is reported and the others go on', async () => {
    const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: join(tmp.dir, 's3'), configureBuckets: [{ name: 'logs' }] }) as { run(): Promise<{ port: number }>; close(): Promise<void> };
    const { port } = await server.run();
    const endpoint = `http://127.0.0.1:${port}`;
    const env = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };
    const client = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, requestChecksumCalculation: 'WHEN_REQUIRED' });
    try {
      const data = join(tmp.dir, 'data');
      const out = join(tmp.dir, 'alerts.ndjson');
      const put = (key: string, file: string): Promise<unknown> => client.send(new PutObjectCommand({ Bucket: 'logs', Key: key, Body: readFileSync(sample(file)) }));
      await put('access/web-assets/2025-03-10-00-00-00-AAAA', 'web-assets/2025-03-10.log');
      const args = ['watch', 's3://logs/access/', join(tmp.dir, 'missing-folder'), '--data', data, '--once', '--endpoint-url', endpoint, '--sink', `ndjson:${out}`, ...ONLY];
      const r1 = await cli(args, env);
      expect(r1.code).toBe(2);
      expect(r1.stderr).toMatch(/error source: .*missing-folder/);
      const n1 = ndjson(out).length;
      expect(n1).toBeGreaterThan(0);
      await put('access/prod-data/2025-03-11-00-00-00-BBBB', 'prod-data/2025-03-11.log');
      expect((await cli(args, env)).code).toBe(2);
      const sent = ndjson(out);
      expect(sent.length).toBeGreaterThan(n1);
      expect(sent.map((a) => a.finding_id).sort()).toEqual(await detectIds(data));
    } finally {
      client.destroy();
      await server.close();
    }
  });
});

const loopFinding: Finding = {
  finding_id: 'f1', detection_id: 'probe', severity: 'high', title: 'Probe', event_time: '2025-03-10T08:00:00.000Z', last_time: '2025-03-10T08:00:00.000Z', count: 1,
  sources: ['access_log'], source: 'access_log', bucket: 'b', key: null, principal: null, source_ip: '192.0.2.1', account_id: null, region: null,
  request_id: 'R1', event_id: null, source_file: 'f.log', source_line: 1, evidence: [], details: {},
};

describe('s3sift watch and small files', () => {
  it('logs a note naming a date partition it wrote to that holds 16 small files or more', async () => {
    const inbox = join(tmp.dir, 'inbox');
    const data = join(tmp.dir, 'data');
    mkdirSync(inbox);
    const write = (i: number): void =>
      writeFileSync(join(inbox, `log-${i}`), [...generateAccessLogLines({ lines: 5, seed: i + 1, quirks: 0, start: Date.UTC(2025, 2, 10), days: 0.5 })].join('\n') + '\n');
    // 15 runs before: 15 small files of 2025-03-10.
    for (let i = 0; i < 15; i++) {
      write(i);
      await ingest([join(inbox, `log-${i}`)], { data, format: 'auto', force: false, strict: false });
    }
    write(15);
    const r = await cli(['watch', inbox, '--data', data, '--once', '--sink', 'stdout', '--log-format', 'json', ...ONLY]);
    expect(r.code).toBe(0);
    const notes = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { event: string; message: string; partition?: string; files?: number }).filter((l) => l.partition);
    expect(notes).toEqual([expect.objectContaining({ event: 'ingest', partition: join('access_log', 'date=2025-03-10'), files: 16 })]);
    expect(notes[0]?.message).toContain(`holds 16 small Parquet files: \`s3sift compact --data ${data}\` merges them`);
  });
});

describe('the watch loop (cli/watch.ts, fake ingest and detect)', () => {
  it('runs the library again when what it runs changes with no new data (a suppress rule past its until date)', async () => {
    let detects = 0;
    let key = 'rules in force: 1';
    const lines: string[] = [];
    const stop = new AbortController();
    const run = (): Promise<number> => watch({
      data: tmp.dir, sources: ['src'], everyMs: 100, once: true, sinks: [{ kind: 'stdout', name: 'stdout' }],
      ingest: async () => ({ sources: 0, rows: 0, rejected: 0, unreadable: [], compactable: [] }) as never,
      detect: async () => {
        detects++;
        return { findings: detects > 1 ? [loopFinding] : [], runs: [], coverage: [] };
      },
      planKey: () => key,
      stdout: { write: (s: string) => void lines.push(s) } as never,
      log: { info: () => undefined, error: () => undefined },
      stop: stop.signal,
    });
    expect(await run()).toBe(0);
    expect(await run()).toBe(0);
    expect(detects).toBe(1);
    // The rule expired: the same data, another plan.
    key = 'rules in force: 0';
    expect(await run()).toBe(0);
    expect(detects).toBe(2);
    expect(lines.join('')).toContain('"finding_id":"f1"');
  });
});
