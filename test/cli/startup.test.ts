/**
 * The command line loads a command's libraries only when that command runs:
 * help, version and usage errors load no DuckDB, AWS SDK, server, Arrow or
 * YAML, and each command loads only what it needs. (How fast that makes it
 * is measured by `npm run bench`, never timed here.)
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../cli/commands/index.js';
import { emptyDataset, tempDir } from '../helpers/dataset.js';

const BIN = fileURLToPath(new URL('../../bin/s3sift', import.meta.url));
const HOOK = new URL('../helpers/trace-imports.mjs', import.meta.url).href;
const tmp = tempDir();
afterAll(() => tmp.cleanup());

// DuckDB's package entry (its lib/sql.js, which only quotes, loads nothing native).
const HEAVY = { duckdb: '@duckdb/node-api/lib/index.js', aws: '@aws-sdk', server: 'hono', arrow: 'apache-arrow', yaml: 'yaml', csv: 'csv-' } as const;
type Heavy = keyof typeof HEAVY;

let runs = 0;
/** Run the CLI; the heavy libraries it loaded, and its exit code. */
function loaded(args: string[]): { code: number | null; libs: Heavy[] } {
  const trace = join(tmp.dir, `trace-${runs++}.txt`);
  const r = spawnSync(process.execPath, ['--import', HOOK, BIN, ...args], { encoding: 'utf8', env: { ...process.env, S3SIFT_TRACE_IMPORTS: trace } });
  let urls: string[] = [];
  try {
    urls = readFileSync(trace, 'utf8').split('\n');
  } catch {
    // nothing resolved past the entry point
  }
  const libs = (Object.keys(HEAVY) as Heavy[]).filter((k) => urls.some((u) => u.includes(`/node_modules/${HEAVY[k]}`)));
  return { code: r.status, libs };
}

describe('start-up', () => {
  it('loads no heavy library for help, version, or a usage error', () => {
    const cases = [['--help'], ['--version'], ['nope'], ['detect', '--sinse', 'x'], ...COMMANDS.map((c) => [c.name, '--help']), ['athena', 'ddl', '--help'], ['athena', 'verify', '--help'], ['athena', 'verify', '--database', 's3sift_verify'], ['detections', 'test', '--help']];
    for (const args of cases) expect([args.join(' '), loaded(args).libs]).toEqual([args.join(' '), []]);
    // The tracer works: a command that runs does load its libraries.
    expect(loaded(['query', '--data', tmp.dir, 'SELECT 1']).libs).toContain('duckdb');
  });

  it('loads only what each command needs', async () => {
    const q = loaded(['query', '--data', await emptyDataset(join(tmp.dir, 'empty')), 'SELECT 42']);
    expect(q).toEqual({ code: 0, libs: ['duckdb', 'csv'] });
    const ddl = loaded(['athena', 'ddl', '--location', 's3://sec-data/s3sift']);
    expect(ddl).toEqual({ code: 0, libs: [] });
    const local = loaded(['ingest', fileURLToPath(new URL('../../samples/access-logs/logs-archive/2025-03-12.log', import.meta.url)), '--data', join(tmp.dir, 'd')]);
    expect(local.code).toBe(0);
    expect(local.libs).not.toContain('aws');
    const list = loaded(['detections', 'list']);
    expect(list).toEqual({ code: 0, libs: ['yaml', 'csv'] });
  });
});
