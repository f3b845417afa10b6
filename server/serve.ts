/**
 * Listening: the one place the HTTP app meets a socket. Refuses to bind a
 * non-loopback address without a token, and to run more user queries at
 * once than Node's worker threads leave room for.
 */
import { serve as listen, type ServerType } from '@hono/node-server';
import { S3siftError, UsageError, describe } from '../common/errors.js';
import { createApp, type ServerConfig } from './app.js';
import { isLoopback } from './guards.js';
import { DEFAULTS, workerThreadsNeeded } from './settings.js';

export { isLoopback } from './guards.js';

export interface Listening {
  url: string;
  close(): Promise<void>;
}

export interface ServeConfig extends ServerConfig {
  host: string;
  port: number;
  /** Node's worker threads (UV_THREADPOOL_SIZE; the entry point reads it). */
  workerThreads?: number;
}

/**
 * A listen that failed: the host or port given is the thing to change (code
 * `usage`, exit 2), but no flag was malformed, so the CLI prints this one
 * line without the usage block a UsageError brings.
 */
export class ListenError extends S3siftError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('usage', message, options);
  }
}

/** Why a listen failed, in one line. */
export function listenError(err: unknown, host: string, port: number): ListenError {
  const e = err as NodeJS.ErrnoException;
  const fail = (message: string): ListenError => new ListenError(message, { cause: err });
  switch (e?.code) {
    case 'EADDRINUSE':
      return fail(`port ${port} is in use${isLoopback(host) ? '' : ` on ${host}`}; pick another with --port`);
    case 'EADDRNOTAVAIL':
      return fail(`cannot bind ${host}: no such address on this machine (give one of its addresses, 127.0.0.1, or 0.0.0.0 for all)`);
    case 'EACCES':
    case 'EPERM':
      return fail(`cannot listen on port ${port}: permission denied${port < 1024 ? ' (ports below 1024 need privileges; pick one from 1024 up with --port)' : ''}`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return fail(`cannot bind ${host}: no such host name`);
    default:
      return fail(`cannot listen on ${host}:${port}: ${e?.code ? `${e.code} ` : ''}${describe(err)}`);
  }
}

export async function serve(cfg: ServeConfig): Promise<Listening> {
  if (!isLoopback(cfg.host) && !cfg.token) {
    throw new UsageError(`refusing to listen on ${cfg.host} without a token: anyone who can reach it could read your logs. Give S3SIFT_TOKEN (or --token), or bind 127.0.0.1`);
  }
  const threads = cfg.workerThreads ?? 4;
  const running = cfg.maxConcurrent ?? DEFAULTS.maxConcurrent;
  if (workerThreadsNeeded(running) > threads) {
    throw new UsageError(`--max-concurrent ${running} needs ${workerThreadsNeeded(running)} worker threads and Node has ${threads}: slow user queries would hold them all ` +
      `and the dashboard's saved queries would wait behind them. Lower --max-concurrent to ${Math.max(1, threads - workerThreadsNeeded(0))}, or start with UV_THREADPOOL_SIZE=${workerThreadsNeeded(running)}`);
  }
  if (!Number.isInteger(cfg.port) || cfg.port < 0 || cfg.port > 65535) throw new UsageError(`port ${cfg.port} is out of range: give 1 to 65535 (or 0 for a free one) with --port`);
  const { app, listening, close } = await createApp(cfg);
  let server: ServerType;
  try {
    server = await new Promise<ServerType>((resolve, reject) => {
      const s = listen({ fetch: app.fetch, hostname: cfg.host, port: cfg.port }, () => {
        s.off('error', reject);
        resolve(s);
      });
      // A listen that fails emits 'error' (nothing else would ever settle this promise).
      s.once('error', reject);
    });
  } catch (err) {
    // Nothing listens: the dataset's DuckDB handle goes too, so the process can end.
    close();
    throw listenError(err, cfg.host, cfg.port);
  }
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : cfg.port;
  listening(port);
  return {
    url: `http://${cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host}:${port}`,
    close: () =>
      new Promise<void>((res) => {
        server.close(() => {
          close();
          res();
        });
      }),
  };
}
