/**
 * The dashboard page (`GET /`) and its static assets (`/assets/*`): no data
 * in them, so they are served without the token (guards.ts
 * openWithoutToken); the page asks for it and sends it to /api/*.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { Hono } from 'hono';
import { dashboardHtml } from '../dashboard.js';

/** The static assets by name under /assets/, with their content type. */
export interface Asset {
  body: string;
  type: string;
}

function chartJs(): Asset {
  // chart.js does not export its UMD build by name: find the package, then the file beside its entry.
  const path = join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js');
  return { body: readFileSync(path, 'utf8'), type: 'text/javascript; charset=utf-8' };
}

export function dashboardRoutes(extra: Record<string, Asset> = {}): Hono {
  const app = new Hono();
  const assets: Record<string, Asset> = { 'chart.umd.js': chartJs(), ...extra };
  app.get('/assets/:name', (c) => {
    const a = Object.hasOwn(assets, c.req.param('name')) ? assets[c.req.param('name')] : undefined;
    if (!a) return c.json({ ok: false, error: `no asset ${JSON.stringify(c.req.param('name').slice(0, 80))}`, status: 404 }, 404);
    return c.body(a.body, 200, { 'content-type': a.type, 'cache-control': 'max-age=3600', 'x-content-type-options': 'nosniff' });
  });
  app.get('/', (c) => c.html(dashboardHtml()));
  return app;
}
