/**
 * What a request must show before any route sees it: a `Host` the server
 * answers to (DNS rebinding), no other site behind a request that is not a
 * GET (cross-site requests), and the bearer token when there is one.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import type { MiddlewareHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';

function refuse(status: 401 | 403 | 421, message: string): never {
  throw new HTTPException(status, { message });
}

/** Whether `host` is a loopback address or name. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

const WILDCARD = new Set(['0.0.0.0', '::', '[::]', '']);

/** `name` or `[v6]` as it appears in a Host header, lower case. */
function hostName(address: string): string {
  const a = address.toLowerCase();
  return a.includes(':') && !a.startsWith('[') ? `[${a}]` : a;
}

/** The Host header's name and port (`undefined` when it names none). */
function parseHost(header: string): { name: string; port?: number } | null {
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(header.trim());
  if (!m) return null;
  return { name: (m[1] as string).toLowerCase().replace(/\.$/, ''), port: m[2] === undefined ? undefined : Number(m[2]) };
}

export interface HostOptions {
  /** The address the server binds (`127.0.0.1`, `0.0.0.0`, `::1`, a name). */
  host: string;
  /** The port it listens on, once known. */
  port(): number | undefined;
  /** More names the server answers to (`--allowed-host`), on any port. */
  allowedHosts: readonly string[];
}

/** The names a server bound to `host` answers to by itself, without `--allowed-host`. */
export function boundNames(host: string): Set<string> {
  const names = new Set<string>();
  if (!WILDCARD.has(host)) names.add(hostName(host));
  if (isLoopback(host) || WILDCARD.has(host)) for (const n of ['localhost', '127.0.0.1', '[::1]']) names.add(n);
  // Bound to every address: any of this machine's addresses (an address in Host is never a rebound name).
  if (WILDCARD.has(host)) for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) names.add(hostName(i.address));
  return names;
}

/**
 * Refuse (421) a request whose `Host` is not an address or name of this
 * server: a page whose name was rebound to 127.0.0.1 sends its own name.
 * Loopback and bound names must carry the listening port; `--allowed-host`
 * names (a reverse proxy's) may carry any.
 */
export function hostGuard(o: HostOptions): MiddlewareHandler {
  const own = boundNames(o.host);
  const extra = new Set(o.allowedHosts.map((h) => hostName(h).replace(/\.$/, '')));
  return async (c, next) => {
    // Without a Host header (HTTP/1.0, or app.request in tests) the URL's host stands in: no browser sends a request without one.
    const header = c.req.header('host') ?? new URL(c.req.url).host;
    const h = parseHost(header);
    const port = o.port();
    const ok = h !== null && (extra.has(h.name) || (own.has(h.name) && (port === undefined || (h.port ?? 80) === port)));
    if (!ok) {
      refuse(421, `this server does not answer to Host ${JSON.stringify(header)} (a page on another site may have pointed its name at this address): ` +
        `use ${[...own].filter((n) => !n.includes(':') || n.startsWith('[')).slice(0, 3).map((n) => (port ? `${n}:${port}` : n)).join(', ')}, or start the server with --allowed-host NAME for a name of your own`);
    }
    await next();
  };
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Refuse (403) a request that is not a GET when the browser says another
 * site sent it: `Sec-Fetch-Site` other than same-origin or none (typed by
 * the user), or an `Origin` whose host is not the request's `Host`.
 */
export function crossSiteGuard(): MiddlewareHandler {
  return async (c, next) => {
    if (!SAFE.has(c.req.method)) {
      const site = c.req.header('sec-fetch-site');
      if (site !== undefined && site !== 'same-origin' && site !== 'none') {
        refuse(403, `cross-site ${c.req.method} refused (Sec-Fetch-Site: ${site}): only pages of this server, or clients that are not browsers, may send it`);
      }
      const origin = c.req.header('origin');
      if (origin !== undefined) {
        let from: string | null = null;
        try {
          from = new URL(origin).host.toLowerCase();
        } catch {
          // "null" (a sandboxed page, a file, a redirect) and anything unreadable: another site.
        }
        const host = (c.req.header('host') ?? new URL(c.req.url).host).toLowerCase();
        if (from !== host) refuse(403, `cross-site ${c.req.method} refused (Origin: ${origin}): only pages of this server, or clients that are not browsers, may send it`);
      }
    }
    await next();
  };
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/**
 * Paths a GET may fetch without the token: the dashboard page and its
 * static assets hold no data, so a browser can load the page, which then
 * asks for the token; /health says only that the server is up. Everything
 * else (every /api/* route, and any route added later) needs the token.
 */
export function openWithoutToken(method: string, path: string): boolean {
  return (method === 'GET' || method === 'HEAD') && (path === '/' || path === '/health' || /^\/assets\/[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(path));
}

/**
 * Refuse (401) a request without `Authorization: Bearer <token>`, but for
 * those `open` lets through; compares in constant time (equal-length digests).
 */
export function tokenGuard(token: string, open: (method: string, path: string) => boolean = () => false): MiddlewareHandler {
  const expected = digest(`Bearer ${token}`);
  return async (c, next) => {
    if (open(c.req.method, c.req.path)) return next();
    if (!timingSafeEqual(digest(c.req.header('authorization') ?? ''), expected)) refuse(401, 'missing or wrong bearer token (Authorization: Bearer T)');
    await next();
  };
}
