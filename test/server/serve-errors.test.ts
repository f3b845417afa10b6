/** `s3sift serve` when it cannot listen: one line, exit 2, nothing left open (server/serve.ts). */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Sandbox } from '../../server/sandbox.js';
import { ListenError, listenError, serve } from '../../server/serve.js';
import { samplesDataset } from './samples.js';

const BIN = new URL('../../bin/s3sift', import.meta.url).pathname;

let tmp: { dir: string; data: string; cleanup: () => void };
let busy: Server;
let busyPort: number;
beforeAll(async () => {
  tmp = await samplesDataset();
  busy = createServer();
  await new Promise<void>((res) => busy.listen(0, '127.0.0.1', () => res()));
  busyPort = (busy.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise<void>((res) => busy.close(() => res()));
  tmp.cleanup();
});

/** Run the CLI; resolve with its exit code and standard error (a hang fails the test by its timeout). */
function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  return new Promise((res) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    p.on('close', (code) => res({ code, stderr }));
  });
}

describe('serve() when the listen fails', () => {
  it('rejects with one line when the port is in use, and closes the sandbox it opened', async () => {
    const closed = vi.spyOn(Sandbox.prototype, 'close');
    try {
      const err = await serve({ data: tmp.data, host: '127.0.0.1', port: busyPort }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ListenError);
      expect((err as Error).message).toBe(`port ${busyPort} is in use; pick another with --port`);
      expect(closed).toHaveBeenCalledTimes(1);
    } finally {
      closed.mockRestore();
    }
  });

  it('refuses a port out of range before opening anything', async () => {
    await expect(serve({ data: tmp.data, host: '127.0.0.1', port: 70000 })).rejects.toThrow(/port 70000 is out of range/);
  });

  it('says why for each listen error code', () => {
    const e = (code: string): Error => Object.assign(new Error(`listen ${code}`), { code });
    expect(listenError(e('EADDRINUSE'), '10.0.0.5', 80).message).toBe('port 80 is in use on 10.0.0.5; pick another with --port');
    expect(listenError(e('EADDRNOTAVAIL'), '10.9.9.9', 8080).message).toMatch(/^cannot bind 10\.9\.9\.9: no such address on this machine/);
    expect(listenError(e('EACCES'), '127.0.0.1', 80).message).toBe('cannot listen on port 80: permission denied (ports below 1024 need privileges; pick one from 1024 up with --port)');
    expect(listenError(e('ENOTFOUND'), 'nope.invalid', 8080).message).toBe('cannot bind nope.invalid: no such host name');
    expect(listenError(e('EWHATEVER'), '127.0.0.1', 8080).message).toBe('cannot listen on 127.0.0.1:8080: EWHATEVER listen EWHATEVER');
    expect(listenError(e('EADDRINUSE'), '::1', 8080).code).toBe('usage');
  });
});

describe('s3sift serve', () => {
  it('a port in use: one line on standard error, exit 2, and the process ends', async () => {
    const r = await cli(['serve', '--data', tmp.data, '--port', String(busyPort)]);
    expect([r.code, r.stderr]).toEqual([2, `error: port ${busyPort} is in use; pick another with --port\n`]);
  }, 60_000);

  it('an address that is not this machine\'s (TEST-NET), with a token: one line, exit 2', async () => {
    const r = await cli(['serve', '--data', tmp.data, '--host', '192.0.2.1', '--port', '0'], { S3SIFT_TOKEN: 't0ken' });
    expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(/^error: cannot bind 192\.0\.2\.1: no such address on this machine[^\n]*\n$/)]);
  }, 60_000);

  it('a port out of range: exit 2 with the usage', async () => {
    const r = await cli(['serve', '--data', tmp.data, '--port', '70000']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/port/);
    expect(r.stderr).toContain('Usage: s3sift serve');
  }, 60_000);
});
