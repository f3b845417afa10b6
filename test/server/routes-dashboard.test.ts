/** The page and its assets (server/routes/dashboard.ts): open without the token, unlike every /api/* route. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../server/app.js';
import { openWithoutToken } from '../../server/guards.js';
import { samplesDataset } from './samples.js';

let tmp: { dir: string; data: string; cleanup: () => void };
let locked: App;
beforeAll(async () => {
  tmp = await samplesDataset();
  locked = await createApp({ data: tmp.data, token: 's3cret' }, { 'extra.css': { body: 'body{}', type: 'text/css; charset=utf-8' } });
});
afterAll(() => {
  locked.close();
  tmp.cleanup();
});

const get = (path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Response> => Promise.resolve(locked.app.request(path, { method, headers }));
const bearer = { authorization: 'Bearer s3cret' };

describe('with a token', () => {
  it('serves the page and its assets without it', async () => {
    const page = await get('/');
    expect([page.status, page.headers.get('content-type')]).toEqual([200, 'text/html; charset=UTF-8']);
    expect(await page.text()).toContain('<script src="/assets/chart.umd.js">');
    const chart = await get('/assets/chart.umd.js');
    expect([chart.status, chart.headers.get('content-type'), chart.headers.get('x-content-type-options')]).toEqual([200, 'text/javascript; charset=utf-8', 'nosniff']);
    expect((await chart.text()).length).toBeGreaterThan(100_000);
    // Assets a later page adds are served the same way.
    expect(await (await get('/assets/extra.css')).text()).toBe('body{}');
    expect((await get('/health')).status).toBe(200);
  });

  it('asks for it on every /api/* route, and on anything not the page, an asset or /health', async () => {
    for (const p of ['/api/tables', '/api/findings', '/api/detections', '/api/queries', '/api/queries/buckets', '/api/posture', '/api/pivot?kind=bucket&value=x', '/api/findings/abc',
      '/api', '/api/', '/nope', '/assets/../api/tables', '/assets/x/y', '/%61pi/tables', '//api/tables']) {
      const r = await get(p);
      expect([p, r.status]).toEqual([p, 401]);
    }
    // A POST to the page or an asset is not a fetch of it.
    expect((await get('/', {}, 'POST')).status).toBe(401);
    expect((await get('/api/tables', bearer)).status).toBe(200);
  });

  it('answers 404 (JSON) for an unknown asset, with the token or without', async () => {
    const r = await get('/assets/nope.js');
    expect([r.status, await r.json()]).toEqual([404, { ok: false, error: 'no asset "nope.js"', status: 404 }]);
    expect((await get('/assets/__proto__')).status).toBe(404);
    expect((await get('/assets/hasOwnProperty')).status).toBe(404);
  });
});

describe('openWithoutToken', () => {
  it('opens GET and HEAD of the page, /health and one asset name; nothing else', () => {
    expect(['/', '/health', '/assets/chart.umd.js'].every((p) => openWithoutToken('GET', p) && openWithoutToken('HEAD', p))).toBe(true);
    for (const [m, p] of [['POST', '/'], ['GET', '/api/tables'], ['GET', '/assets/'], ['GET', '/assets/a/b'], ['GET', '/assets/..'], ['GET', '/assets/.hidden'], ['GET', '/index.html'], ['DELETE', '/assets/x.js']] as const) {
      expect([m, p, openWithoutToken(m, p)]).toEqual([m, p, false]);
    }
  });
});
