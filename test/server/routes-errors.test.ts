/** The app's one error boundary (server/errors.ts): each error type to its status, nothing internal to the client. */
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError, DetectionError, InputError, QueryError, UsageError, WriteError } from '../../common/errors.js';
import { createApp, type App } from '../../server/app.js';
import { errorBoundary, mapError } from '../../server/errors.js';
import { SandboxError } from '../../server/sandbox.js';
import { samplesDataset } from './samples.js';

describe('mapError', () => {
  it('maps each error type to its status', () => {
    const cases: Array<[unknown, number]> = [
      [new HTTPException(404, { message: 'no such' }), 404], [new SandboxError('slow', 408), 408], [new SandboxError('busy', 429), 429],
      [new UsageError('bad flag'), 400], [new QueryError('bad sql'), 400], [new DetectionError('bad yaml'), 400], [new InputError('unreadable'), 422],
      [new DatasetError('locked'), 503], [new WriteError('disk full'), 503], [new Error('IO Error: Cannot open file "x.parquet"'), 503],
      [new Error('boom'), 500], ['a string', 500], [null, 500],
    ];
    expect(cases.map(([e]) => mapError(e).status)).toEqual(cases.map(([, s]) => s));
    expect(mapError(new Error('secret /etc/path')).message).toBe('internal error (see the server log)');
    expect(mapError(new UsageError('bad flag')).message).toBe('bad flag');
    expect(mapError(new DatasetError('locked')).message).toBe('the dataset cannot be read now: locked');
  });
});

describe('errorBoundary', () => {
  const lines: string[] = [];
  const app = new Hono();
  app.onError(errorBoundary((l) => lines.push(l)));
  const sub = new Hono();
  sub.get('/usage', () => {
    throw new UsageError('limit must be a whole number');
  });
  sub.get('/boom', () => {
    throw new Error('bucket \u001b[31mred\u001b[0m exploded');
  });
  sub.get('/refused', () => {
    throw new HTTPException(403, { message: 'no' });
  });
  // Errors in a sub-app composed with app.route() reach the parent's boundary.
  app.route('/x', sub);

  it('answers the envelope with the status; logs internal errors escaped, and only those', async () => {
    const usage = await app.request('/x/usage');
    expect([usage.status, await usage.json()]).toEqual([400, { ok: false, error: 'limit must be a whole number', status: 400 }]);
    expect(await (await app.request('/x/refused')).json()).toEqual({ ok: false, error: 'no', status: 403 });
    expect(lines).toEqual([]);
    const boom = await app.request('/x/boom');
    expect([boom.status, await boom.json()]).toEqual([500, { ok: false, error: 'internal error (see the server log)', status: 500 }]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^internal error on GET \/x\/boom: Error: bucket /);
    expect(lines[0]).not.toContain('\u001b');
  });
});

describe('a dataset file damaged under the running server', () => {
  let tmp: { dir: string; data: string; cleanup: () => void };
  let app: App;
  const lines: string[] = [];
  beforeAll(async () => {
    tmp = await samplesDataset();
    app = await createApp({ data: tmp.data, log: (l) => lines.push(l) });
  });
  afterAll(() => {
    app.close();
    tmp.cleanup();
  });

  it('answers 503 without the server\'s paths, and logs the file', async () => {
    const dir = join(tmp.data, 'access_log');
    const part = readdirSync(dir)[0] as string;
    const file = join(dir, part, readdirSync(join(dir, part)).find((f) => f.endsWith('.parquet')) as string);
    writeFileSync(file, 'not parquet at all');
    const r = await app.app.request('/api/tables');
    const body = (await r.json()) as { error: string; status: number };
    expect([r.status, body.status]).toEqual([503, 503]);
    expect(body.error).toBe('the dataset cannot be read now: a file of it changed or was damaged under the server (the server log names it)');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error 503 on GET \/api\/tables: /);
    expect(lines[0]).toContain(part);
  });
});
