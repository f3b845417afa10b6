/**
 * Listening: the one place the HTTP app meets a socket. Refuses to bind a
 * non-loopback address without a token, and to run more user queries at
 * once than Node's worker threads leave room for.
 */
import { serve as listen, type ServerType } from '@hono/node-server';
import { UsageError } from '../common/errors.js';
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
  const { app, listening, close } = await createApp(cfg);
  const server: ServerType = await new Promise((resolve) => {
    const s = listen({ fetch: app.fetch, hostname: cfg.host, port: cfg.port }, () => resolve(s));
  });
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
