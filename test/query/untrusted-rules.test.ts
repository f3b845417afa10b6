/**
 * A detection file from `--rules` is untrusted (issue 15): its SQL and its
 * coverage SQL run with the guarantees of user SQL in `serve`: one read-only
 * SELECT, over the dataset's files only, configuration frozen. Every escape
 * is refused before anything runs, naming the file, in `detect` and in
 * `detections test`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLES, tempDir } from '../helpers/dataset.js';

const BIN = new URL('../../bin/s3sift', import.meta.url).pathname;
const run = (args: string[]): { code: number | null; stdout: string; stderr: string } => {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};
const SIGV2 = readFileSync(new URL('../../query/detections/sigv2-request.yaml', import.meta.url), 'utf8');
const ORIGINAL_SQL = SIGV2.slice(SIGV2.indexOf('sql: |\n') + 'sql: |\n'.length, SIGV2.indexOf('tests:\n'));

let tmp: { dir: string; cleanup: () => void };
let data: string;
beforeAll(() => {
  tmp = tempDir();
  data = join(tmp.dir, 'data');
  expect(run(['ingest', new URL('access-logs/', SAMPLES).pathname, '--data', data]).code).toBe(0);
});
afterAll(() => tmp.cleanup());

/** A rules folder holding sigv2-request as `id`, its SQL (or its coverage SQL) replaced. */
function rule(id: string, o: { sql?: string; coverage?: string }): string {
  const dir = join(tmp.dir, `rules-${id}`);
  mkdirSync(dir, { recursive: true });
  const indent = (sql: string): string => sql.split('\n').map((l) => `  ${l}`).join('\n') + '\n';
  let text = SIGV2.replace('id: sigv2-request', `id: ${id}`);
  // (the comment names the table its sources list, so the file passes its loading checks)
  if (o.sql !== undefined) text = text.replace(ORIGINAL_SQL, indent(`${o.sql} -- s3_requests`));
  if (o.coverage !== undefined) text = text.replace('tests:\n', `coverage: |\n${indent(o.coverage)}tests:\n`);
  writeFileSync(join(dir, `${id}.yaml`), text);
  return dir;
}

describe('SQL from --rules', () => {
  const target = (): string => join(tmp.dir, 'written-by-a-rule.csv');
  const escapes: Array<[string, { sql?: string; coverage?: string }, RegExp]> = [
    ['copy-out', { sql: `COPY (SELECT 1) TO '${'TARGET'}'` }, /copy-out\.yaml: the SQL is not a read-only SELECT/],
    ['two-statements', { sql: `SELECT 1 AS bucket; COPY (SELECT 1) TO '${'TARGET'}'` }, /two-statements\.yaml: the SQL holds 2 statements; one SELECT is allowed/],
    ['coverage-escape', { coverage: `SELECT 1 AS scope, 'x' AS reason; COPY (SELECT 1) TO '${'TARGET'}'; SELECT 1 AS scope, 'x' AS reason` }, /coverage-escape\.yaml: the coverage SQL holds 3 statements/],
    ['attach', { sql: `ATTACH '${'TARGET'}.db' AS evil` }, /attach\.yaml: the SQL is not a read-only SELECT/],
    ['set', { sql: 'SET enable_external_access = true' }, /set\.yaml: the SQL is not a read-only SELECT/],
    ['read-outside', { sql: "SELECT content AS bucket FROM read_text('/etc/passwd')" }, /read-outside\.yaml: the SQL does not run on the dataset's tables: .*(Permission|disabled|not allowed)/i],
  ];

  for (const [id, o, error] of escapes) {
    it(`${id}: refused before anything runs, by detect and by detections test, naming the file`, () => {
      const sub = (x: string | undefined): string | undefined => x?.replaceAll('TARGET', target());
      const dir = rule(id, { sql: sub(o.sql), coverage: sub(o.coverage) });
      const detect = run(['detect', '--data', data, '--rules', dir, '--only', id]);
      expect([detect.code, detect.stderr]).toEqual([2, expect.stringMatching(error)]);
      const tests = run(['detections', 'test', '--rules', dir, '--only', id]);
      expect(tests.code).not.toBe(0);
      expect(tests.stdout + tests.stderr).toMatch(error);
      expect(existsSync(target())).toBe(false);
      expect(existsSync(`${target()}.db`)).toBe(false);
    });
  }

  it('a well-behaved rule from --rules still runs, and reads the dataset', () => {
    const dir = rule('plain-copy', {});
    const r = run(['detect', '--data', data, '--rules', dir, '--only', 'plain-copy', '--format', 'ndjson']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('"detection_id":"plain-copy"');
  });
});
