/**
 * Log content is hostile: a dataset whose keys, user agents, referrers,
 * principals, file names and rule files carry terminal escapes goes through
 * every command, and what reaches stdout and stderr holds no character a
 * terminal acts on (only the newlines between lines), shows each one as
 * `\uXXXX`, and the machine formats keep the original characters exactly.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { main } from '../../cli/main.js';
import { accessLogLine, TEST_BASES } from '../../query/test-records.js';
import { tempDir } from '../helpers/dataset.js';
import { captureIo } from '../helpers/io.js';

/** Clear the screen and the scrollback, home the cursor, print a lie; set the title (OSC 0); write the clipboard (OSC 52); C1 CSI; reverse the text. */
const ATTACK = '\x1b[2J\x1b[3J\x1b[HAll clear\x1b]0;x\x07\x1b]52;c;ZXZpbA==\x07\u009b31m\u202eevil\u202c';
/** The same with no space (an access-log key is one word). */
const KEY = `reports/${ATTACK.replaceAll(' ', '')}.csv`;
/** A field with a newline inside, that could forge a line of the report. */
const FORGED = 'line one\n0 findings from 0 of 36 detections';
const ROOT_ARN = 'arn:aws:iam::111122223333:root';

/** Any character a terminal acts on, the newline aside. */
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
/** How ATTACK shows once escaped. */
const SHOWN = ['\\u001b[2J\\u001b[3J\\u001b[HAll clear\\u001b]0;x\\u0007', '\\u001b]52;c;ZXZpbA==\\u0007', '\\u009b31m\\u202eevil\\u202c'];

let tmp: { dir: string; cleanup: () => void };
let logs: string;
let data: string;
let rules: string;
/** A file name that is itself an attack (it shows in summaries, rejects and each finding's "at FILE:LINE"). */
const FILE = `access\x1b]0;owned\x07\u202e.log`;

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo();
  const code = await main(args, io);
  return { code, out: io.out(), err: io.err() };
}

/** Nothing a terminal acts on got through, and the attack shows escaped. */
function expectEscaped(text: string, shown: readonly string[] = SHOWN): void {
  expect(text).not.toMatch(RAW);
  for (const s of shown) expect(text).toContain(s);
}

beforeAll(() => {
  tmp = tempDir();
  logs = join(tmp.dir, 'logs');
  data = join(tmp.dir, 'data');
  rules = join(tmp.dir, 'rules');
  mkdirSync(logs);
  mkdirSync(rules);
  const base = TEST_BASES['access-log'];
  writeFileSync(join(logs, FILE), [
    accessLogLine({ ...base, requester: ROOT_ARN, key: KEY, request_uri: `GET /prod-data/${KEY} HTTP/1.1`, referrer: ATTACK, user_agent: ATTACK }),
    // Not a log line: rejected, and the reject preview shows where and why.
    `${ATTACK} not a log line`,
  ].join('\n') + '\n');
  const event = TEST_BASES['s3-data-event'];
  const records = [
    { ...event, userIdentity: { ...event.userIdentity, type: 'Root', arn: ROOT_ARN }, userAgent: ATTACK, requestParameters: { ...event.requestParameters, key: FORGED }, eventID: 'E1', requestID: 'R1' },
    {
      ...TEST_BASES['s3-management-event'], eventName: 'PutBucketVersioning', readOnly: false, eventID: 'E2', requestID: 'R2',
      userIdentity: { ...event.userIdentity, arn: `arn:aws:iam::111122223333:user/${ATTACK}` },
      requestParameters: { bucketName: 'prod-data', Host: 'prod-data.s3.us-east-1.amazonaws.com', versioning: '', VersioningConfiguration: { Status: 'Suspended' } },
    },
  ];
  writeFileSync(join(logs, 'trail.json'), JSON.stringify({ Records: records }));
  const rule = parse(readFileSync(new URL('../../query/detections/root-account-activity.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(rules, 'hostile-rule.yaml'), stringify({ ...rule, id: 'hostile-rule', title: ATTACK, description: `${ATTACK}\nSecond line.\n` }));
});
afterAll(() => tmp.cleanup());

describe('human output escapes what the logs hold', () => {
  it('analyze: the ingest summary, its reject preview and the report', async () => {
    const r = await run(['analyze', logs, '--data', data]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^read \d+ lines and records from 2 sources: 3 ingested, 1 rejected/);
    expectEscaped(r.out + r.err, [...SHOWN, 'access\\u001b]0;owned\\u0007\\u202e.log:2: ', 'line one\\u000a0 findings from 0 of 36 detections']);
    expect(r.out).toContain('[root-account-activity]');
    expect(r.out).toContain('[versioning-suspended]');
  });

  it('detect, as a report', async () => {
    // Ungrouped: every forged field is a finding's own field, not only a grouped finding's evidence.
    const r = await run(['detect', '--data', data, '--ungrouped']);
    expect(r.code).toBe(0);
    expectEscaped(r.out + r.err, [...SHOWN, 'prod-data/line one\\u000a0 findings']);
    // The forged line is not a line of its own.
    expect(r.out.split('\n').filter((l) => l.startsWith('0 findings'))).toEqual([]);
  });

  it('ingest, again with --force: the summary and the reject preview', async () => {
    const r = await run(['ingest', logs, '--data', data, '--force']);
    expect(r.code).toBe(0);
    expectEscaped(r.out + r.err, ['access\\u001b]0;owned\\u0007\\u202e.log:2: ']);
  });

  it('ingest --strict: the rejects on stderr', async () => {
    const r = await run(['ingest', logs, '--data', join(tmp.dir, 'strict'), '--strict']);
    expect(r.code).toBe(3);
    expectEscaped(r.err, ['access\\u001b]0;owned\\u0007\\u202e.log:2: ']);
  });

  it('posture', async () => {
    const r = await run(['posture', '--data', data, '--at', '2025-03-11T00:00:00Z']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('versioning');
    expectEscaped(r.out + r.err, ['user/\\u001b[2J\\u001b[3J\\u001b[HAll clear']);
  });

  it('query as a table: a tab or newline in a cell is escaped, NULL and empty text stay apart', async () => {
    const r = await run(['query', '--data', data, "SELECT key, user_agent, referrer, NULL AS nothing, '' AS empty, 'a' || chr(9) || 'b' AS tab FROM access_log UNION ALL SELECT key, user_agent, NULL, NULL, '', '' FROM cloudtrail WHERE key IS NOT NULL ORDER BY 1"]);
    expect(r.code).toBe(0);
    expectEscaped(r.out, ['reports/\\u001b[2J', 'line one\\u000a0 findings', 'a\\u0009b', 'NULL', "''"]);
    expect(r.out).toMatch(/\(2 rows\)\n$/);
  });

  it('detections list and show a hostile rule file escaped', async () => {
    const show = await run(['detections', 'show', 'hostile-rule', '--rules', rules]);
    expect(show.code).toBe(0);
    expectEscaped(show.out, SHOWN);
    const list = await run(['detections', 'list', '--rules', rules]);
    expect(list.code).toBe(0);
    expectEscaped(list.out, ['\\u001b[2J\\u001b[3J\\u001b[HAll clear']);
  });

  it('an error message quoting a hostile file name', async () => {
    const r = await run(['ingest', join(tmp.dir, `missing\n${ATTACK}.log`), '--data', data]);
    expect(r.code).toBe(2);
    expect(r.err.split('\n')[0]).toMatch(/^error: .*missing\\u000a\\u001b\[2J.* no such file or folder$/);
    expectEscaped(r.err);
  });
});

describe('machine formats keep the characters exactly', () => {
  it('detect --format ndjson and json', async () => {
    const nd = await run(['detect', '--data', data, '--format', 'ndjson', '--only', 'root-account-activity', '--ungrouped']);
    const keys = nd.out.trim().split('\n').map((l) => (JSON.parse(l) as { key: string }).key).sort();
    expect(keys).toEqual([FORGED, KEY]);
    // JSON escapes the C0 controls itself; the rest are written as they are.
    expect(nd.out).toContain('\u009b31m\u202eevil\u202c');
    const json = await run(['detect', '--data', data, '--format', 'json', '--only', 'versioning-suspended']);
    expect((JSON.parse(json.out) as { findings: Array<{ principal: string }> }).findings[0]?.principal).toBe(`arn:aws:iam::111122223333:user/${ATTACK}`);
  });

  it('query --format json, ndjson and posture --format json', async () => {
    const sql = 'SELECT key, user_agent, referrer FROM access_log';
    const json = await run(['query', '--data', data, '--format', 'json', sql]);
    expect((JSON.parse(json.out) as { rows: unknown[] }).rows).toEqual([{ key: KEY, user_agent: ATTACK, referrer: ATTACK }]);
    const nd = await run(['query', '--data', data, '--format', 'ndjson', sql]);
    // One record, the values exactly (DuckDB's JSON writer spells an escape \u001B, JSON.stringify \u001b: the same JSON).
    expect(nd.out.split('\n')).toHaveLength(2);
    expect(JSON.parse(nd.out)).toEqual({ key: KEY, user_agent: ATTACK, referrer: ATTACK });
    const posture = await run(['posture', '--data', data, '--format', 'json']);
    expect(posture.out).toContain(JSON.stringify(`arn:aws:iam::111122223333:user/${ATTACK}`));
  });
});
