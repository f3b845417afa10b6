/**
 * DNS rebinding and cross-site requests, sent as raw HTTP over a socket so
 * that every header is exactly what a browser (or an attacker's page) sends.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boundNames } from '../../server/guards.js';
import { serve, type Listening } from '../../server/serve.js';
import { samplesDataset } from './samples.js';

let tmp: { dir: string; data: string; cleanup: () => void };
let data: string;
let local: Listening;
let proxied: Listening;
let port: number;
beforeAll(async () => {
  tmp = await samplesDataset();
  data = tmp.data;
  local = await serve({ data, host: '127.0.0.1', port: 0 });
  proxied = await serve({ data, host: '127.0.0.1', port: 0, token: 's3cret', allowedHosts: ['s3sift.example.com'] });
  port = Number(new URL(local.url).port);
}, 60_000);
afterAll(async () => {
  await local?.close();
  await proxied?.close();
  tmp?.cleanup();
});

interface Raw {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Send `lines` (request line and headers) and `body` as they are; read the whole answer (Connection: close). */
function raw(url: string, lines: string[], body = ''): Promise<Raw> {
  const { hostname, port: p } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(p), hostname);
    const chunks: Buffer[] = [];
    s.on('data', (c) => chunks.push(c));
    s.on('error', reject);
    s.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...hs] = head.split('\r\n');
      const headers = Object.fromEntries(hs.map((h) => [h.slice(0, h.indexOf(':')).toLowerCase(), h.slice(h.indexOf(':') + 1).trim()]));
      let b = rest.join('\r\n\r\n');
      // Chunked answers: keep the chunks' data.
      if (headers['transfer-encoding'] === 'chunked') b = b.split('\r\n').filter((_, i) => i % 2 === 1).join('');
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: b });
    });
    const len = body ? [`Content-Length: ${Buffer.byteLength(body)}`] : [];
    // write, not end: a half-closed socket gets no answer from Node's server once the route awaits.
    s.write([...lines, ...len, 'Connection: close', '', body].join('\r\n'));
  });
}

const QUERY = JSON.stringify({ sql: 'SELECT count(*) AS n FROM s3_requests' });

describe('the Host check (DNS rebinding)', () => {
  it('refuses (421) a page whose name was rebound to 127.0.0.1, whatever it asks for', async () => {
    for (const path of ['/api/tables', '/api/findings', '/', '/health']) {
      const r = await raw(local.url, [`GET ${path} HTTP/1.1`, `Host: rebind.attacker.example:${port}`]);
      expect([path, r.status]).toEqual([path, 421]);
      expect(JSON.parse(r.body)).toMatchObject({ ok: false, status: 421, error: expect.stringMatching(/does not answer to Host "rebind\.attacker\.example:\d+".*--allowed-host NAME/) });
    }
    const post = await raw(local.url, ['POST /api/query HTTP/1.1', 'Host: rebind.attacker.example', 'Content-Type: application/json'], QUERY);
    expect(post.status).toBe(421);
  });

  it('answers to its own address, localhost and [::1] on its own port, and to no other port', async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `LOCALHOST:${port}`]) {
      expect([host, (await raw(local.url, ['GET /api/tables HTTP/1.1', `Host: ${host}`])).status]).toEqual([host, 200]);
    }
    for (const host of [`127.0.0.1:${port + 1}`, 'localhost', '127.0.0.1.attacker.example', 'localhost.attacker.example']) {
      expect([host, (await raw(local.url, ['GET /api/tables HTTP/1.1', `Host: ${host}`])).status]).toEqual([host, 421]);
    }
    // A Host that is no host at all never reaches the app: the HTTP layer answers 400.
    expect((await raw(local.url, ['GET /api/tables HTTP/1.1', `Host: evil@127.0.0.1:${port}`])).status).toBe(400);
  });

  it('answers to an --allowed-host name on any port, and still to nothing else', async () => {
    const auth = 'Authorization: Bearer s3cret';
    for (const host of ['s3sift.example.com', 's3sift.example.com:443', 'S3SIFT.example.com']) {
      expect([host, (await raw(proxied.url, ['GET /api/detections HTTP/1.1', `Host: ${host}`, auth])).status]).toEqual([host, 200]);
    }
    expect((await raw(proxied.url, ['GET /api/detections HTTP/1.1', 'Host: other.example.com', auth])).status).toBe(421);
  });

  it('bound to every address, answers to the machine\'s addresses and loopback names, not to other names', () => {
    const names = boundNames('0.0.0.0');
    expect([...names]).toEqual(expect.arrayContaining(['localhost', '127.0.0.1', '[::1]']));
    expect(names.has('rebind.attacker.example')).toBe(false);
    expect([...boundNames('10.1.2.3')]).toEqual(['10.1.2.3']);
  });
});

describe('cross-site requests', () => {
  const host = (): string => `Host: 127.0.0.1:${port}`;

  it('refuses (403) a POST another site\'s page sends, by Origin or Sec-Fetch-Site', async () => {
    const cases = [
      ['Origin: https://attacker.example'],
      ['Origin: null'],
      [`Origin: http://127.0.0.1:${port + 1}`],
      ['Sec-Fetch-Site: cross-site'],
      ['Sec-Fetch-Site: same-site'],
    ];
    for (const extra of cases) {
      const r = await raw(local.url, ['POST /api/query HTTP/1.1', host(), 'Content-Type: application/json', ...extra], QUERY);
      expect([extra[0], r.status]).toEqual([extra[0], 403]);
      expect(JSON.parse(r.body).error).toMatch(/^cross-site POST refused/);
    }
  });

  it('does not run a query a form posts (text/plain, urlencoded, multipart): 403 with its Origin, 415 without', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const cross = await raw(local.url, ['POST /api/query HTTP/1.1', host(), `Content-Type: ${type}`, 'Origin: https://attacker.example', 'Sec-Fetch-Site: cross-site'], QUERY);
      expect([type, cross.status]).toEqual([type, 403]);
      const bare = await raw(local.url, ['POST /api/query HTTP/1.1', host(), `Content-Type: ${type}`], QUERY);
      expect([type, bare.status]).toEqual([type, 415]);
      expect(JSON.parse(bare.body).error).toMatch(/Content-Type: application\/json/);
    }
    const none = await raw(local.url, ['POST /api/query HTTP/1.1', host()], QUERY);
    expect(none.status).toBe(415);
  });

  it('runs a POST of its own page (same origin), and of clients that send neither header', async () => {
    const same = await raw(local.url, ['POST /api/query HTTP/1.1', host(), 'Content-Type: application/json; charset=utf-8', `Origin: http://127.0.0.1:${port}`, 'Sec-Fetch-Site: same-origin'], QUERY);
    expect([same.status, JSON.parse(same.body).rows]).toEqual([200, [{ n: 375 }]]);
    const curl = await raw(local.url, ['POST /api/query HTTP/1.1', host(), 'Content-Type: application/json'], QUERY);
    expect(curl.status).toBe(200);
  });

  it('lets a cross-site GET of the page through (the Host check is what keeps other sites out)', async () => {
    const r = await raw(local.url, ['GET / HTTP/1.1', host(), 'Sec-Fetch-Site: cross-site']);
    expect(r.status).toBe(200);
  });
});

describe('the bearer token', () => {
  it('refuses a missing, wrong, shorter or longer token (401), takes the right one', async () => {
    const host = `Host: s3sift.example.com`;
    for (const auth of [[], ['Authorization: Bearer s3cre'], ['Authorization: Bearer s3cretX'], ['Authorization: Bearer S3CRET'], ['Authorization: s3cret']]) {
      expect([auth[0], (await raw(proxied.url, ['GET /api/tables HTTP/1.1', host, ...auth])).status]).toEqual([auth[0], 401]);
    }
    expect((await raw(proxied.url, ['GET /api/tables HTTP/1.1', host, 'Authorization: Bearer s3cret'])).status).toBe(200);
  });
});
