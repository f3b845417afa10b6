/**
 * Listening: the one place the HTTP app meets a socket. Refuses to bind a
 * non-loopback address without a token.
 */
import { serve as listen, type ServerType } from '@hono/node-server';
import { UsageError } from '../common/errors.js';
import { createApp, type ServerConfig } from './app.js';

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export interface Listening {
  url: string;
  close(): Promise<void>;
}

export async function serve(cfg: ServerConfig & { host: string; port: number }): Promise<Listening> {
  if (!isLoopback(cfg.host) && !cfg.token) {
    throw new UsageError(`refusing to listen on ${cfg.host} without a token: anyone who can reach it could read your logs. Give --token (or S3SIFT_TOKEN), or bind 127.0.0.1`);
  }
  const { app, close } = await createApp(cfg);
  const server: ServerType = await new Promise((resolve) => {
    const s = listen({ fetch: app.fetch, hostname: cfg.host, port: cfg.port }, () => resolve(s));
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : cfg.port;
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
