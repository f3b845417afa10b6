/**
 * Soak: `s3sift serve` as users run it (its own process), under a bounded
 * mixed load: good queries, slow queries that hit the time limit, sandbox
 * escapes, malformed and unauthorised requests, all at once. Every response
 * must carry the status its kind deserves, the server must stay up, and its
 * memory must level off (no growth from one half of the run to the next).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../../ingest/ingest.js';
import { SAMPLES, tempDir } from '../helpers/dataset.js';

const BIN = new URL('../../bin/s3sift', import.meta.url).pathname;
const TOKEN = 'soak-token';
let tmp: { dir: string; cleanup: () => void };
let server: ChildProcess;
let url: string;

beforeAll(async () => {
  tmp = tempDir();
  const data = join(tmp.dir, 'data');
  await ingest([new URL('.', SAMPLES).pathname], { data, format: 'auto', force: false, strict: false });
  server = spawn(process.execPath, [BIN, 'serve', '--data', data, '--port', '0', '--token', TOKEN, '--timeout-ms', '1000', '--max-concurrent', '2'], { stdio: ['ignore', 'ignore', 'pipe'] });
  url = await new Promise<string>((res, rej) => {
    let err = '';
    server.stderr?.on('data', (c: Buffer) => {
      err += c.toString();
      const m = /serving .* at (http:\/\/\S+?)\/ /.exec(err);
      if (m) res(m[1] as string);
    });
    server.once('exit', (code) => rej(new Error(`serve exited ${code}: ${err}`)));
  });
}, 60_000);
afterAll(() => {
  server?.kill('SIGTERM');
  tmp.cleanup();
});

/** Resident memory of the server process (kB), from /proc. */
function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1]);
}

interface Kind {
  name: string;
  expect: number;
  send(): Promise<Response>;
}

const auth = { authorization: `Bearer ${TOKEN}` };
const query = (sql: string): Promise<Response> => fetch(`${url}/api/query`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ sql }) });
const SLOW: Kind = { name: 'slow query', expect: 408, send: () => query('SELECT count(*) FROM range(1000000000000) a') };
const KINDS: Kind[] = [
  { name: 'good query', expect: 200, send: () => query('SELECT operation, count(*) AS n FROM s3_requests GROUP BY ALL ORDER BY n DESC') },
  { name: 'findings', expect: 200, send: () => fetch(`${url}/api/findings?severity=high`, { headers: auth }) },
  { name: 'saved query', expect: 200, send: () => fetch(`${url}/api/queries/tls_versions`, { headers: auth }) },
  { name: 'arrow', expect: 200, send: () => fetch(`${url}/api/query?format=arrow`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ sql: 'SELECT * FROM access_log LIMIT 50' }) }) },
  { name: 'read a file', expect: 400, send: () => query("SELECT * FROM read_csv('/etc/passwd')") },
  { name: 'COPY', expect: 400, send: () => query("COPY access_log TO '/tmp/x.csv'") },
  { name: 'ATTACH', expect: 400, send: () => query("ATTACH '/tmp/x.db' AS x") },
  { name: 'two statements', expect: 400, send: () => query('SELECT 1; SELECT 2') },
  { name: 'SET', expect: 400, send: () => query("SET enable_external_access = true") },
  { name: 'bad JSON', expect: 400, send: () => fetch(`${url}/api/query`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"sql": ' }) },
  { name: 'no sql', expect: 400, send: () => fetch(`${url}/api/query`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' }) },
  { name: 'bad parameter', expect: 400, send: () => fetch(`${url}/api/findings?since=yesterday`, { headers: auth }) },
  { name: 'huge body', expect: 413, send: () => fetch(`${url}/api/query`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ sql: `SELECT '${'x'.repeat(70_000)}'` }) }) },
  { name: 'no token', expect: 401, send: () => fetch(`${url}/api/detections`) },
  { name: 'no route', expect: 404, send: () => fetch(`${url}/api/nothing`, { headers: auth }) },
];

describe('serve under a mixed load', () => {
  it('answers every request with the right status, stays up, and its memory levels off', async () => {
    const pid = server.pid as number;
    const wrong: string[] = [];
    const counts = new Map<string, number>();
    let sent = 0;
    const TOTAL = 2000;
    const rss: number[] = [];
    // 8 clients at once, each taking the next request of the mix.
    const client = async (): Promise<void> => {
      while (sent < TOTAL) {
        // Every 32nd request runs into the time limit (holding one of the two query slots for a second).
        const k = sent % 32 === 31 ? SLOW : (KINDS[sent % KINDS.length] as Kind);
        sent++;
        const r = await k.send();
        await r.arrayBuffer();
        counts.set(k.name, (counts.get(k.name) ?? 0) + 1);
        // A slow query may also find the queue full; that is the 429 the limit promises, not a failure.
        if (r.status !== k.expect && !(k.name === 'slow query' && r.status === 429)) wrong.push(`${k.name}: ${r.status}`);
        if (sent % 250 === 0) rss.push(rssKb(pid));
      }
    };
    await Promise.all(Array.from({ length: 8 }, client));
    expect(wrong).toEqual([]);
    expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(TOTAL);
    expect((await fetch(`${url}/health`)).status).toBe(200);
    expect(server.exitCode).toBeNull();
    // Flat: the second half of the run ends no more than 32 MB above where its first half ended.
    const half = rss[Math.floor(rss.length / 2) - 1] as number;
    const end = rss.at(-1) as number;
    expect(end - half, `RSS samples (kB): ${rss.join(', ')}`).toBeLessThan(32 * 1024);
  }, 240_000);
});
