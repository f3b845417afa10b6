/**
 * The HTTP API (docs/contract.md), built without listening: tests call
 * `app.request()`, `serve.ts` listens. Route modules (server/routes/*) each
 * build a sub-app from the shared context; this file puts the guards in
 * front of them and one error boundary (errors.ts) behind.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { loadDetections } from '../query/detection.js';
import { FindingsCache, fail, type Ctx, type ServerConfig, type Settings } from './context.js';
import { errorBoundary } from './errors.js';
import { crossSiteGuard, hostGuard, openWithoutToken, tokenGuard } from './guards.js';
import { dashboardRoutes, type Asset } from './routes/dashboard.js';
import { findingsRoutes } from './routes/findings.js';
import { postureRoutes } from './routes/posture.js';
import { queriesRoutes } from './routes/queries.js';
import { tablesRoutes } from './routes/tables.js';
import { Sandbox } from './sandbox.js';
import { DEFAULTS } from './settings.js';

export type { ServerConfig } from './context.js';

export interface App {
  app: Hono;
  sandbox: Sandbox;
  /** Tell the app the port it listens on, for the Host check (until then any port of its names passes). */
  listening(port: number): void;
  close(): void;
}

export async function createApp(cfg: ServerConfig, assets: Record<string, Asset> = {}): Promise<App> {
  const given = Object.fromEntries(Object.entries(cfg).filter(([k, v]) => v !== undefined && k in DEFAULTS));
  const opts: Settings = { ...DEFAULTS, ...given };
  const detections = await loadDetections(cfg.rules ?? []);
  const sandbox = await Sandbox.open(cfg.data, { timeoutMs: opts.timeoutMs, rowCap: opts.rowCap, byteCap: opts.byteCap, maxConcurrent: opts.maxConcurrent, maxQueued: opts.maxQueued, memoryLimitMb: opts.memoryLimitMb, intel: cfg.intel });
  let ctx: Ctx;
  try {
    const findings = new FindingsCache(sandbox, cfg.data, detections, cfg.overrides, cfg.suppress);
    await findings.get();
    ctx = { cfg, opts, sandbox, findings, detections };
  } catch (err) {
    // The findings could not be computed: no handle is left open behind the error.
    sandbox.close();
    throw err;
  }
  let port: number | undefined;
  const app = new Hono();

  app.onError(errorBoundary(cfg.log ?? ((line: string) => process.stderr.write(`${line}\n`))));
  app.notFound((c) => c.json({ ok: false, error: `no route ${c.req.method} ${c.req.path}`, status: 404 }, 404));

  app.use('*', hostGuard({ host: cfg.host ?? '127.0.0.1', port: () => port, allowedHosts: cfg.allowedHosts ?? [] }));
  app.use('*', crossSiteGuard());
  app.get('/health', (c) => c.json({ ok: true }));
  // Every route but the page, its assets and /health needs the token: a route added later is closed until said otherwise.
  if (cfg.token) app.use('*', tokenGuard(cfg.token, openWithoutToken));
  // A parameter given twice: hono's query() keeps the first value only, so status=open&status=resolved would answer open alone.
  app.use('*', async (c, next) => {
    const twice = Object.entries(c.req.queries()).filter(([, v]) => v.length > 1).map(([k]) => JSON.stringify(k.slice(0, 60)));
    if (twice.length) fail(400, `parameter ${twice.join(', ')} given more than once: give it once (several values comma-separated where the parameter takes them)`);
    await next();
  });
  app.use('*', bodyLimit({ maxSize: opts.bodyLimit, onError: () => fail(413, `request body larger than ${opts.bodyLimit} bytes`) }));

  // The route modules set no onError or notFound of their own: hono calls only the top-level notFound, and a
  // sub-app's onError would take priority over this boundary (hono.dev/api/hono, "Error Handling").
  app.route('/', tablesRoutes(ctx));
  app.route('/', findingsRoutes(ctx));
  app.route('/', queriesRoutes(ctx));
  app.route('/', postureRoutes(ctx));
  app.route('/', dashboardRoutes(assets));

  return { app, sandbox, listening: (p) => (port = p), close: () => sandbox.close() };
}
