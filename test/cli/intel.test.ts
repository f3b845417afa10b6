import { createServer, type Server } from 'node:http';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import { createApp } from '../../server/app.js';
import { IntelSet, parseIntelList } from '../../query/intel.js';
import { ingest } from '../../ingest/ingest.js';
import { awsToList, torToList } from '../../query/intel-fetch.js';
import { TEST_BASES } from '../../query/test-records.js';
import { tempDir } from '../helpers/dataset.js';
import { captureIo } from '../helpers/io.js';

const AWS = JSON.stringify({
  syncToken: '1732752000', createDate: '2024-11-28-00-00-00',
  prefixes: [
    { ip_prefix: '3.5.140.0/22', region: 'ap-northeast-2', service: 'AMAZON', network_border_group: 'ap-northeast-2' },
    { ip_prefix: '3.5.140.0/22', region: 'ap-northeast-2', service: 'S3', network_border_group: 'ap-northeast-2' },
    { ip_prefix: '13.34.37.64/27', region: 'ap-southeast-4', service: 'AMAZON', network_border_group: 'ap-southeast-4' },
  ],
  ipv6_prefixes: [{ ipv6_prefix: '2600:1f14::/35', region: 'us-west-2', service: 'EC2', network_border_group: 'us-west-2' }],
});

/** A loopback server: each path answers what the table says. */
let server: Server;
let base: string;
const ROUTES: Record<string, { status: number; body: string; type?: string; slow?: boolean }> = {
  '/torbulkexitlist': { status: 200, body: '185.220.101.4\n198.51.100.7\n2001:db8::7\n' },
  '/ip-ranges.json': { status: 200, body: AWS, type: 'application/json' },
  '/error-page': { status: 200, body: '<!DOCTYPE html><html><body>Sign in to the Wi-Fi</body></html>', type: 'text/html' },
  '/missing': { status: 404, body: 'Not Found' },
  '/huge': { status: 200, body: '' },
  '/slow': { status: 200, body: '', slow: true },
};
beforeAll(async () => {
  server = createServer((req, res) => {
    const r = ROUTES[req.url ?? ''] ?? { status: 404, body: '' };
    if (r.slow) return; // never answers
    res.writeHead(r.status, { 'content-type': r.type ?? 'text/plain' });
    if (req.url === '/huge') {
      const chunk = '10.0.0.1\n'.repeat(100_000);
      for (let i = 0; i < 40; i++) res.write(chunk);
      res.end();
      return;
    }
    res.end(r.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo();
  const code = await main(argv, io);
  return { code, out: io.out(), err: io.err() };
}

describe('s3sift intel fetch (against a loopback server)', () => {
  it('writes the Tor exit list as CSV labelled "Tor exit node", which --intel reads back', async () => {
    const tmp = tempDir();
    try {
      const out = join(tmp.dir, 'tor.csv');
      const r = await run(['intel', 'fetch', 'tor', '--out', out, '--url', `${base}/torbulkexitlist`]);
      expect(r).toMatchObject({ code: 0, err: `wrote 3 entries of Tor's bulk exit list (one address a line) to ${out}\n` });
      const text = readFileSync(out, 'utf8');
      expect(text).toMatch(/^# s3sift intel fetch tor: http:\/\/127\.0\.0\.1:\d+\/torbulkexitlist at \d{4}-/);
      expect(parseIntelList(text, out).entries.map((e) => [e.text, e.label, e.kind])).toEqual([
        ['185.220.101.4', 'Tor exit node', 'alarm'], ['198.51.100.7', 'Tor exit node', 'alarm'], ['2001:db8:0:0:0:0:0:7', 'Tor exit node', 'alarm'],
      ]);
      expect(statSync(out).mode & 0o777).toBe(0o644);
      expect(readdirSync(tmp.dir)).toEqual(['tor.csv']);
    } finally {
      tmp.cleanup();
    }
  });

  it("writes AWS's ranges as label-only entries by service and region, the AMAZON superset only where no service names the range", async () => {
    const tmp = tempDir();
    try {
      const out = join(tmp.dir, 'aws.csv');
      expect((await run(['intel', 'fetch', 'aws', '--out', out, '--url', `${base}/ip-ranges.json`])).code).toBe(0);
      expect(parseIntelList(readFileSync(out, 'utf8'), out).entries.map((e) => [e.text, e.label, e.kind])).toEqual([
        ['3.5.140.0/22', 'AWS S3 ap-northeast-2', 'label'], ['13.34.37.64/27', 'AWS AMAZON ap-southeast-4', 'label'], ['2600:1f14:0:0:0:0:0:0/35', 'AWS EC2 us-west-2', 'label'],
      ]);
    } finally {
      tmp.cleanup();
    }
  });

  it('refuses an HTML page, a 404, a body past the cap and a server that never answers, and leaves the old list as it was', async () => {
    const tmp = tempDir();
    try {
      const out = join(tmp.dir, 'tor.csv');
      writeFileSync(out, 'old\n');
      const cases: Array<[string[], RegExp]> = [
        [['tor', '--url', `${base}/error-page`], /: not a Tor exit list \(line 1: "<!DOCTYPE html><html><body>Sign in to the Wi-Fi<\/body><\/html>" is not an IPv4 or IPv6 address or CIDR\)/],
        [['aws', '--url', `${base}/error-page`], /: not AWS's ip-ranges\.json \(not JSON/],
        [['aws', '--url', `${base}/torbulkexitlist`], /: not AWS's ip-ranges\.json/],
        [['tor', '--url', `${base}/missing`], /cannot download http:\/\/127\.0\.0\.1:\d+\/missing: HTTP 404 Not Found/],
        [['tor', '--url', `${base}/huge`], /cannot download .*\/huge: larger than 33554432 bytes/],
        [['tor', '--url', `${base}/slow`, '--timeout-ms', '300'], /cannot download .*\/slow: no answer within 300 ms/],
        [['tor', '--url', 'file:///etc/passwd'], /--url must be an http:\/\/ or https:\/\/ address/],
        [['tor', '--url', 'http://127.0.0.1:1/'], /cannot download http:\/\/127\.0\.0\.1:1\/: /],
      ];
      for (const [args, msg] of cases) {
        const r = await run(['intel', 'fetch', ...args, '--out', out]);
        expect(r.code, args.join(' ')).toBe(2);
        expect(r.err).toMatch(msg);
      }
      expect(readFileSync(out, 'utf8')).toBe('old\n');
      expect(readdirSync(tmp.dir)).toEqual(['tor.csv']);
    } finally {
      tmp.cleanup();
    }
  }, 30_000);

  it('needs a source it knows and --out', async () => {
    expect((await run(['intel', 'fetch', 'spamhaus', '--out', 'x'])).err).toMatch(/intel fetch takes one of tor, aws \(got spamhaus\)/);
    expect((await run(['intel', 'fetch', 'tor'])).err).toMatch(/intel fetch needs --out FILE/);
    expect((await run(['intel', 'fetch', '--help'])).out).toMatch(/check\.torproject\.org\/torbulkexitlist[\s\S]*ip-ranges\.amazonaws\.com\/ip-ranges\.json/);
  });

  it('converts pure text: a blank or comment-only body is no list', () => {
    expect(() => torToList('\n# nothing\n', 'u')).toThrow(/u: not a Tor exit list \(no address in it\)/);
    expect(() => awsToList('{"prefixes": [], "ipv6_prefixes": []}', 'u')).toThrow(/no prefix in it/);
    expect(() => awsToList('{"prefixes": [{"ip_prefix": "3.5.140.0/22"}], "ipv6_prefixes": []}', 'u')).toThrow(/entry 1 lacks a prefix, region or service/);
  });
});

describe('detect --intel', () => {
  let tmp: { dir: string; cleanup: () => void };
  let data: string;
  beforeAll(async () => {
    tmp = tempDir();
    data = join(tmp.dir, 'data');
    const trail = join(tmp.dir, 'trail.ndjson');
    writeFileSync(trail, JSON.stringify({ ...TEST_BASES['s3-data-event'], sourceIPAddress: '185.220.101.4' }) + '\n');
    await ingest([trail], { data, format: 'auto', force: false, strict: false });
  });
  afterAll(() => tmp.cleanup());

  it('reports requests from a listed address with the label, and says how many lists and entries it loaded', async () => {
    const list = join(tmp.dir, 'tor.csv');
    writeFileSync(list, 'address,label\n185.220.101.0/24,Tor exit node\n');
    const r = await run(['detect', '--data', data, '--only', 'threat-intel-address', '--intel', list, '--format', 'ndjson']);
    expect(r.code).toBe(0);
    expect(r.err).toBe('threat intel: 1 list, 1 entry (1 alarm, 0 label only)\n');
    expect(JSON.parse(r.out)).toMatchObject({ detection_id: 'threat-intel-address', severity: 'medium', source_ip: '185.220.101.4', details: { lists: ['Tor exit node'], requests: 1 } });
  });

  it('without --intel, reports that it checked nothing (not "0 findings")', async () => {
    const r = await run(['detect', '--data', data, '--only', 'threat-intel-address', '--format', 'json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { findings: unknown[]; coverage: unknown[] };
    expect(j.findings).toEqual([]);
    expect(j.coverage).toEqual([{ detection_id: 'threat-intel-address', scope: 'intel', reason: 'no threat-intel list given (--intel FILE): no address was checked' }]);
  });

  it('serve: the findings endpoint matches the lists it was given', async () => {
    const intel = new IntelSet([parseIntelList('185.220.101.4\n', 'tor-exits.txt')]);
    const app = await createApp({ data, intel });
    try {
      const j = (await (await app.app.request('/api/findings?detection=threat-intel-address')).json()) as { rows: Array<{ source_ip: string; details: unknown }> };
      expect(j.rows).toHaveLength(1);
      expect(j.rows[0]).toMatchObject({ source_ip: '185.220.101.4' });
      expect(JSON.stringify(j.rows[0]?.details)).toContain('tor-exits');
    } finally {
      app.close();
    }
  });

  it('intel check says what each list holds, and stops at a bad line as detect would', async () => {
    const good = join(tmp.dir, 'mixed.csv');
    writeFileSync(good, 'cidr,label,kind\n185.220.101.0/24,Tor exit node,\n2600:1f14::/35,AWS EC2 us-west-2,label\n');
    const r = await run(['intel', 'check', good]);
    expect(r).toMatchObject({ code: 0, out: `${good}: 2 entries (IPv4 1, IPv6 1; alarm 1, label 1); labels: AWS EC2 us-west-2, Tor exit node\n` });
    const bad = join(tmp.dir, 'typo.txt');
    writeFileSync(bad, '10.0.0.5/24\n');
    expect(await run(['intel', 'check', good, bad])).toMatchObject({ code: 2, err: expect.stringContaining(`${bad}:1: host bits are set (the network of 10.0.0.5/24 is 10.0.0.0/24)`) });
  });

  it('stops with exit 2 naming file:line for a bad list, before reading any data', async () => {
    const list = join(tmp.dir, 'bad.txt');
    writeFileSync(list, '185.220.101.4\n185.220.101.300\n');
    const r = await run(['detect', '--data', data, '--intel', list]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${list}:2: "185.220.101.300" is not an IPv4 or IPv6 address`);
    expect(existsSync(list)).toBe(true);
  });
});
