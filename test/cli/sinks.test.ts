import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deliver, parseSink, spool, spoolDir, spooled, type Alert } from '../../cli/sinks.js';
import { tempDir } from '../helpers/dataset.js';

const alert = (id: string): Alert => ({
  delivery_id: id, alert: 'new', first_seen: '2026-01-01T00:00:00.000Z', finding_id: id, detection_id: 'mass-delete', severity: 'high', title: 't',
  event_time: null, last_time: null, count: 1, sources: [], source: null, bucket: null, key: null, principal: null, source_ip: null, account_id: null, region: null,
  request_id: null, event_id: null, source_file: null, source_line: null, evidence: [], details: {},
});

let tmp: { dir: string; cleanup: () => void };
let server: Server | null = null;
beforeEach(() => (tmp = tempDir()));
afterEach(async () => {
  const s = server;
  server = null;
  if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  tmp.cleanup();
});

describe('sinks', () => {
  it('parses stdout, ndjson:PATH and webhook:URL; a webhook is named by its origin only', () => {
    expect(parseSink('stdout')).toMatchObject({ kind: 'stdout' });
    expect(parseSink('ndjson:/tmp/a.ndjson')).toMatchObject({ kind: 'ndjson', path: '/tmp/a.ndjson' });
    expect(parseSink('webhook:https://user:pw@hooks.example.com/T0/secret?x=1')).toMatchObject({ kind: 'webhook', name: 'webhook:https://hooks.example.com' });
    expect(() => parseSink('webhook:ftp://x')).toThrow(/http/);
    expect(() => parseSink('ndjson:')).toThrow(/PATH/);
    expect(() => parseSink('syslog')).toThrow(/stdout, ndjson:PATH or webhook:URL/);
  });

  it('queues one file per cycle, never the same delivery twice, and delivers NDJSON in order', async () => {
    const out = join(tmp.dir, 'out.ndjson');
    const sink = parseSink(`ndjson:${out}`);
    await spool(tmp.dir, sink, [alert('a'), alert('b')], new Date('2026-01-01T00:00:00Z'));
    // A run that stopped before recording them as sent queues them again: only the new one is added.
    await spool(tmp.dir, sink, [alert('a'), alert('b'), alert('c')], new Date('2026-01-01T00:01:00Z'));
    expect(readdirSync(spoolDir(tmp.dir, sink))).toHaveLength(2);
    expect((await spooled(tmp.dir, sink)).flatMap((b) => b.alerts.map((a) => a.delivery_id))).toEqual(['a', 'b', 'c']);
    expect(await deliver(tmp.dir, sink, new AbortController().signal)).toEqual({ delivered: 3, left: 0, error: null });
    expect(readFileSync(out, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as Alert).delivery_id)).toEqual(['a', 'b', 'c']);
    expect(readdirSync(spoolDir(tmp.dir, sink))).toEqual([]);
  });

  it('a webhook that fails part-way keeps the rest of the batch, in order, and delivers it later exactly once', async () => {
    const got: string[] = [];
    let refuse = false;
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const key = String(req.headers['idempotency-key']);
        if (refuse || (key === 'c' && got.length === 2)) {
          refuse = true;
          res.writeHead(500).end();
          return;
        }
        got.push(key);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const sink = parseSink(`webhook:http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`);
    await spool(tmp.dir, sink, ['a', 'b', 'c', 'd'].map(alert), new Date());
    const first = await deliver(tmp.dir, sink, new AbortController().signal);
    expect(first).toMatchObject({ delivered: 2, left: 2, error: expect.stringMatching(/HTTP 500/) });
    expect((await spooled(tmp.dir, sink)).flatMap((b) => b.alerts.map((a) => a.delivery_id))).toEqual(['c', 'd']);
    refuse = false;
    got.push('(back)');
    expect(await deliver(tmp.dir, sink, new AbortController().signal)).toEqual({ delivered: 2, left: 0, error: null });
    expect(got).toEqual(['a', 'b', '(back)', 'c', 'd']);
  });
  it('a webhook URL with user:password@ sends them as Basic auth, and no error text carries the secret', async () => {
    const auth: string[] = [];
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        auth.push(String(req.headers.authorization));
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const sink = parseSink(`webhook:http://hook%20user:s3cr%3At@127.0.0.1:${port}/hook?token=T0KEN`);
    await spool(tmp.dir, sink, [alert('a')], new Date());
    expect(await deliver(tmp.dir, sink, new AbortController().signal)).toEqual({ delivered: 1, left: 0, error: null });
    expect(auth).toEqual([`Basic ${Buffer.from('hook user:s3cr:t').toString('base64')}`]);
    // A receiver that cannot be reached: the error says why without the URL's secrets.
    const closed = parseSink('webhook:http://user:s3cret@127.0.0.1:1/hook?token=T0KEN');
    await spool(tmp.dir, closed, [alert('b')], new Date());
    const d = await deliver(tmp.dir, closed, new AbortController().signal);
    expect(d.error).not.toBeNull();
    expect(d.error).not.toMatch(/s3cret|T0KEN/);
  });
});
