import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseCloudTrailRecord, Skip } from '../../ingest/cloudtrail/record.js';
import { ingest, type IngestOptions } from '../../ingest/ingest.js';
import { Reject } from '../../ingest/reject.js';
import { CLOUDTRAIL } from '../../ingest/schema.js';
import { generateCloudTrailRecords } from '../../scripts/gen-cloudtrail.js';
import { asDuckRow, CONFORMANCE, fromDuckRow, SAMPLES, readRows, tempDir } from '../helpers/dataset.js';
import { openDataset } from '../../query/dataset.js';
import { sqlString } from '../../common/sql.js';

let tmp: { dir: string; cleanup: () => void };
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

const opts = (over: Partial<IngestOptions> = {}): IngestOptions => ({ data: join(tmp.dir, 'data'), format: 'auto', force: false, strict: false, ...over });
const conf = (p: string): string => new URL(p, CONFORMANCE).pathname;
const write = (name: string, content: string | Buffer): string => {
  const path = join(tmp.dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, content);
  return path;
};
const ctRows = (orderBy = 'source_file, source_line, event_id'): Promise<Record<string, unknown>[]> => readRows(opts().data, 'cloudtrail', orderBy);

/** Records with the values that stress the staging format and the span copy. */
function awkwardRecords(): Array<Record<string, unknown>> {
  const base = [...generateCloudTrailRecords({ records: 300, seed: 5 })];
  const one = base[0] as Record<string, unknown>;
  return [
    ...base,
    { ...one, eventID: 'tabs', userAgent: 'ua\twith\ttabs and \u0001 SOH and "quotes"', requestParameters: { bucketName: 'b', key: 'line\nbreak\r\n', note: 'tab\there \u0001' } },
    { ...one, eventID: 'unicode', requestParameters: { bucketName: 'b', key: 'Téléchargé/ü/€/𝄞.txt' }, userAgent: 'Téléchargeur/1.0' },
    { ...one, eventID: 'nulls', responseElements: null, additionalEventData: null, resources: null, userIdentity: { type: 'AWSAccount', principalId: '', accountId: 'ANONYMOUS_PRINCIPAL' } },
    { ...one, eventID: 'future', eventVersion: '1.11', someNewField: { nested: [1, 'two', null] }, annotation: 'x' },
  ];
}

describe('ingest of CloudTrail', () => {
  it('stores every record exactly as the parser reads it, whether copied from the bytes or serialised', async () => {
    const recs = awkwardRecords();
    const compact = write('compact.json', JSON.stringify({ Records: recs }));
    const pretty = write('pretty.json', JSON.stringify({ Records: recs }, null, 2));
    const s = await ingest([compact, pretty], opts());
    expect(s.rejected).toBe(0);
    expect(s.rows).toBe(2 * recs.length);
    const rows = await ctRows('source_file, source_line');
    const expected = recs.map((r) => asDuckRow(CLOUDTRAIL, parseCloudTrailRecord(r) as unknown as Record<string, unknown>));
    const fromDuck = (row: Record<string, unknown>): Record<string, unknown> => fromDuckRow(CLOUDTRAIL, row);
    const [a, b] = [rows.filter((r) => r.source_file === compact), rows.filter((r) => r.source_file === pretty)];
    expect(a.map(fromDuck)).toEqual(expected);
    expect(b.map(fromDuck)).toEqual(expected);
    expect(a.map((r) => r.source_line)).toEqual(recs.map((_, i) => String(i + 1)));
  });

  it('reads every conformance file without a reject, with the values they hold', async () => {
    const s = await ingest([conf('invictus-ir'), conf('aws-docs/cloudtrail-s3-example.json'), conf('aws-docs/eventbridge-s3-putobject.json')], opts({ format: 'cloudtrail' }));
    // The invictus-ir folder also holds its LICENSE, read as CloudTrail because --format says so.
    expect(s.firstRejects.map((r) => r.source_file)).toEqual(expect.arrayContaining([conf('invictus-ir/LICENSE')]));
    expect(s.firstRejects.every((r) => r.source_file.endsWith('LICENSE'))).toBe(true);
    expect(s.byTable.cloudtrail).toBe(2900 + 3 + 1);
    const rows = await ctRows();
    const policy = rows.find((r) => r.event_name === 'PutBucketPolicy' && r.bucket === 'stratus-red-team-bdbp-lhfzvgcamn');
    expect(policy).toMatchObject({ user_name: 'bert-jan', user_type: 'IAMUser', event_time: '2023-07-10 12:22:41', error_code: null, event_source: 's3.amazonaws.com', source_line: '9' });
    expect(JSON.parse(policy?.request_parameters as string)).toHaveProperty('bucketPolicy');
    const stop = rows.filter((r) => r.event_name === 'StopLogging');
    expect(stop.every((r) => r.error_code === 'TrailNotFoundException' && r.bucket === null)).toBe(true);
    expect(rows.filter((r) => r.event_source === 's3.amazonaws.com')).toHaveLength(271 + 3 + 1);
    expect(new Set(rows.map((r) => r.event_source)).size).toBeGreaterThan(10);
    const presigned = rows.find((r) => r.presigned_expires_s !== null);
    expect(presigned).toMatchObject({ event_name: 'PutObject', presigned_expires_s: 300, mfa_authenticated: true });
  });

  it("reads every record of Panther's CloudTrail rule tests, one per line", async () => {
    const cases = (JSON.parse(readFileSync(conf('panther/cloudtrail-rule-tests.json'), 'utf8')) as { cases: Array<{ record: unknown }> }).cases;
    const file = write('panther.ndjson', cases.map((c) => JSON.stringify(c.record)).join('\n') + '\n');
    const s = await ingest([file], opts());
    expect(s.rejected).toBe(0);
    expect(s.rows).toBe(cases.length);
    const rows = await ctRows();
    expect(rows.map((r) => r.source_line)).toEqual(cases.map((_, i) => String(i + 1)));
    // One case has "eventTime": "redacted": kept, with no time, in the NULL date partition.
    const redacted = rows.filter((r) => r.event_time === null);
    expect(redacted.map((r) => [r.event_name, r.date, JSON.parse(r.other_fields as string).eventTime])).toEqual([['ExternalIdPDirectoryLogin', null, 'redacted']]);
    const suspended = rows.filter((r) => r.event_name === 'PutBucketVersioning' && (r.request_parameters as string).includes('"Suspended"'));
    expect(suspended.map((r) => [r.bucket, r.error_code])).toEqual([['important-files-bucket', null], ['important-files-bucket', 'AccessDenied']]);
  });

  it('reads gzipped files like plain ones, in the S3 delivery layout of an organisation trail', async () => {
    const recs = [...generateCloudTrailRecords({ records: 50, seed: 2 })];
    const plain = write('plain/x.json', JSON.stringify({ Records: recs }));
    const org = 'AWSLogs/o-abc123def4/111122223333/CloudTrail/us-east-1/2025/03/10/111122223333_CloudTrail_us-east-1_20250310T0000Z_abc.json.gz';
    write(`org/${org}`, gzipSync(JSON.stringify({ Records: recs })));
    await ingest([plain], opts({ data: join(tmp.dir, 'a') }));
    await ingest([join(tmp.dir, 'org')], opts({ data: join(tmp.dir, 'b') }));
    const strip = (rows: Record<string, unknown>[]): unknown[] => rows.map(({ source_file: _f, ...r }) => r);
    expect(strip(await readRows(join(tmp.dir, 'b'), 'cloudtrail', 'source_line'))).toEqual(strip(await readRows(join(tmp.dir, 'a'), 'cloudtrail', 'source_line')));
  });

  it('keeps the records before the break of a truncated gzip and rejects the rest with a reason', async () => {
    const gz = gzipSync(JSON.stringify({ Records: [...generateCloudTrailRecords({ records: 2000, seed: 3 })] }));
    const file = write('cut.json.gz', gz.subarray(0, Math.floor(gz.length * 0.6)));
    const s = await ingest([file], opts());
    expect(s.rows).toBeGreaterThan(100);
    expect(s.rows).toBeLessThan(2000);
    expect(s.rejected).toBeGreaterThanOrEqual(1);
    expect(s.lines).toBe(s.rows + s.rejected + s.skipped);
  });

  it('rejects bad lines and bad records with file, line and reason, and reads the rest', async () => {
    const good = (n: number): string => JSON.stringify({ eventVersion: '1.08', eventTime: `2025-03-10T00:00:0${n}Z`, eventName: 'GetObject', eventSource: 's3.amazonaws.com', requestParameters: { bucketName: 'b', key: `k${n}` } });
    const file = write('mixed.ndjson', [
      good(1),
      '{"eventTime": "2025-03-10T00:00:02Z", "eventName": ',
      JSON.stringify({ eventName: 'NoTime', eventSource: 's3.amazonaws.com' }),
      JSON.stringify({ eventTime: '2025-03-10T00:00:04Z' }),
      '',
      JSON.stringify({ eventVersion: '2.0', eventTime: '2025-03-10T00:00:06Z', eventName: 'Future' }),
      good(7),
    ].join('\n') + '\n');
    const s = await ingest([file], opts());
    expect(s.rows).toBe(2);
    expect(s.skipped).toBe(1);
    expect(s.skippedWhy).toEqual({ 'blank line': 1 });
    expect(s.firstRejects.map((r) => [r.line, r.reason.replace(/invalid JSON: .*/, 'invalid JSON')])).toEqual([
      [2, 'invalid JSON'],
      [3, 'eventTime: missing'],
      [4, 'eventName: missing'],
      [6, 'eventVersion 2.0: this version of s3sift reads CloudTrail event versions 1.x'],
    ]);
    expect(s.firstRejects.every((r) => r.source_file === file && r.raw.length > 0)).toBe(true);
    expect(s.lines).toBe(7);
    const rejects = readFileSync(join(opts().data, s.rejectsFile as string), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { line: number });
    expect(rejects.map((r) => r.line)).toEqual([2, 3, 4, 6]);
  });

  it('skips digest files and Insights records and counts them, never rejecting them', async () => {
    const digest = write('AWSLogs/1/CloudTrail-Digest/us-east-1/2025/03/10/1_CloudTrail-Digest_us-east-1_x.json.gz', gzipSync(JSON.stringify({
      awsAccountId: '111122223333', digestStartTime: '2025-03-10T00:00:00Z', digestEndTime: '2025-03-10T01:00:00Z', digestS3Bucket: 'trail', logFiles: [],
    })));
    const insight = write('AWSLogs/1/CloudTrail-Insight/us-east-1/2025/03/10/i.json.gz', gzipSync(JSON.stringify({ Records: [
      { eventVersion: '1.08', eventTime: '2025-03-10T00:00:00Z', eventType: 'AwsCloudTrailInsight', eventCategory: 'Insight', eventName: 'PutObject', insightDetails: { state: 'Start' } },
      { eventVersion: '1.08', eventTime: '2025-03-10T00:05:00Z', eventType: 'AwsCloudTrailInsight', eventCategory: 'Insight', eventName: 'PutObject', insightDetails: { state: 'End' } },
    ] })));
    const s = await ingest([digest, insight], opts());
    expect(s).toMatchObject({ rows: 0, rejected: 0, skipped: 3, lines: 3, skippedWhy: { 'CloudTrail digest file': 1, 'CloudTrail Insights record': 2 } });
  });

  it('reads EventBridge envelopes single, as an array and one per line', async () => {
    const env = JSON.parse(readFileSync(conf('aws-docs/eventbridge-s3-putobject.json'), 'utf8')) as { detail: Record<string, unknown> };
    const other = { ...env, 'detail-type': 'Object Created', detail: { bucket: { name: 'b' } } };
    const array = write('array.json', JSON.stringify([env, env]));
    const lines = write('lines.ndjson', `${JSON.stringify(env)}\n${JSON.stringify(other)}\n`);
    const s = await ingest([conf('aws-docs/eventbridge-s3-putobject.json'), array, lines], opts());
    expect(s.rows).toBe(4);
    expect(s.firstRejects.map((r) => [r.source_file, r.line, r.reason])).toEqual([[lines, 2, 'an EventBridge event of type "Object Created", not a CloudTrail record']]);
  });

  it('reads a CloudTrail Lake CSV export (gzipped), telling it by its header', async () => {
    const header = 'eventversion,useridentity,eventtime,eventsource,eventname,awsregion,sourceipaddress,useragent,errorcode,requestparameters,readonly,eventcategory';
    const csv = [
      header,
      '1.09,"{""type"":""IAMUser"",""arn"":""arn:aws:iam::111122223333:user/alice"",""accountId"":""111122223333""}",2025-03-10 08:00:01.000,s3.amazonaws.com,GetObject,us-east-1,203.0.113.9,"aws-cli/2.13.0, with a comma",,"{""bucketName"":""prod-data"",""key"":""a.csv""}",true,Data',
      '1.09,"{type=Root, accountid=111122223333, arn=arn:aws:iam::111122223333:root}",2025-03-10 09:00:00.000,s3.amazonaws.com,PutBucketVersioning,us-east-1,198.51.100.7,console,,{bucketName=prod-backups},false,Management',
      '1.09,,,s3.amazonaws.com,NoTime,us-east-1,,,,,,',
    ].join('\r\n') + '\r\n';
    const file = write('result_1.csv.gz', gzipSync(csv));
    const s = await ingest([file], opts());
    expect(s.rows).toBe(2);
    expect(s.firstRejects.map((r) => [r.line, r.reason])).toEqual([[4, 'eventTime: missing']]);
    const rows = await ctRows('source_line');
    expect(rows.map((r) => [r.event_name, r.bucket, r.key, r.user_type, r.user_agent, r.read_only, r.source_line])).toEqual([
      ['GetObject', 'prod-data', 'a.csv', 'IAMUser', 'aws-cli/2.13.0, with a comma', true, '2'],
      ['PutBucketVersioning', 'prod-backups', null, 'Root', 'console', false, '3'],
    ]);
  });

  it('puts access logs and CloudTrail from one folder into their own tables', async () => {
    const dir = join(tmp.dir, 'mixed');
    write('mixed/access.log', readFileSync(conf('aws-docs/access-log-example.log')));
    write('mixed/trail.json', readFileSync(conf('aws-docs/cloudtrail-s3-example.json')));
    const s = await ingest([dir], opts());
    expect(s.byTable).toEqual({ access_log: 5, cloudtrail: 3 });
    expect(readdirSync(join(opts().data, 'cloudtrail'))).toEqual(['date=2019-02-01']);
  });

  it('keeps a record whose byte count or pre-signed expiry is past its column, the column NULL, and commits the run', async () => {
    const rec = (n: number, over: { expires?: unknown; bytesIn?: unknown }): string =>
      JSON.stringify({
        eventVersion: '1.08', eventTime: `2025-03-10T00:00:0${n}Z`, eventName: 'GetObject', eventSource: 's3.amazonaws.com',
        requestParameters: { bucketName: 'b', key: `k${n}`, 'X-Amz-Expires': over.expires ?? '60' }, additionalEventData: { bytesTransferredIn: over.bytesIn ?? 1 },
      });
    // Each of these stopped the whole run: DuckDB could not cast the staged value to INTEGER / BIGINT.
    const file = write('ranges.ndjson', [rec(1, {}), rec(2, { expires: '99999999999' }), rec(3, { bytesIn: 1e300 }), rec(4, { bytesIn: 2 ** 63 }), rec(5, { expires: -(2 ** 31) - 1 })].join('\n') + '\n');
    const s = await ingest([file], opts());
    expect([s.rows, s.rejected]).toEqual([5, 0]);
    const rows = await ctRows();
    expect(rows.map((r) => [r.presigned_expires_s, r.bytes_in])).toEqual([[60, '1'], [null, '1'], [60, null], [60, null], [null, '1']]);
    // The value as logged stays in the record's JSON.
    expect(String(rows[1]?.request_parameters)).toContain('99999999999');
  });

  it('keeps a record whose eventTime is past the year 9999 timeless, and the dataset stays readable', async () => {
    const rec = (time: string, key: string): string => JSON.stringify({ eventVersion: '1.08', eventTime: time, eventName: 'GetObject', eventSource: 's3.amazonaws.com', requestParameters: { bucketName: 'b', key } });
    // Its day was committed as the folder date=+275760-09, which every later read failed to cast to a DATE.
    const file = write('far.ndjson', [rec('2025-03-10T00:00:01Z', 'a'), rec('+275760-09-13T00:00:00.000Z', 'b')].join('\n') + '\n');
    const s = await ingest([file], opts());
    expect([s.rows, s.rejected]).toEqual([2, 0]);
    expect(s.files.every((f) => /date=(\d{4}-\d\d-\d\d|__HIVE_DEFAULT_PARTITION__)\//.test(f))).toBe(true);
    const rows = await ctRows();
    expect(rows.map((r) => [r.key, r.event_time === null])).toEqual([['a', false], ['b', true]]);
    expect(String(rows[1]?.other_fields)).toContain('+275760-09-13T00:00:00.000Z');
  });

  it('writes management events and data events of a date to Parquet files of their own', async () => {
    const recs = [...generateCloudTrailRecords({ records: 200, seed: 9, days: 1 })];
    const file = write('day.json', JSON.stringify({ Records: recs }));
    await ingest([file], opts());
    const dir = join(opts().data, 'cloudtrail', 'date=2025-03-10');
    const files = readdirSync(dir);
    expect(files).toHaveLength(2);
    const ds = await openDataset(opts().data);
    try {
      const per = (await ds.conn.runAndReadAll(`SELECT count(DISTINCT management_event)::INTEGER FROM read_parquet(${sqlString(join(dir, '*.parquet'))}, filename = true) GROUP BY filename`)).getRows();
      expect(per).toEqual([[1], [1]]);
    } finally {
      ds.close();
    }
  });

  it('adds nothing when the same CloudTrail files are ingested again', async () => {
    // The folder's data files (its LICENSE is not a log).
    const files = readdirSync(conf('aws-docs')).filter((f) => f !== 'LICENSE').map((f) => conf(`aws-docs/${f}`));
    const first = await ingest(files, opts());
    const again = await ingest(files, opts());
    expect(first.byTable).toEqual({ access_log: 5, cloudtrail: 4 });
    expect(again.rows).toBe(0);
    expect(again.passed.map((p) => p.reason)).toEqual(Array(4).fill('already ingested'));
    expect(await ctRows()).toHaveLength(4);
  });
});

describe('the CloudTrail samples', () => {
  it('tell the same story as the access logs: same buckets, the same requests by request ID, and what only CloudTrail sees', async () => {
    const s = await ingest([new URL('.', SAMPLES).pathname], opts());
    expect(s.byTable.cloudtrail).toBe(164);
    expect(s.skippedWhy['CloudTrail digest file']).toBe(1);
    expect(s.firstRejects.every((r) => r.source_file.includes('access-logs/'))).toBe(true);
    const ds = await openDataset(opts().data);
    try {
      const q = async (sql: string): Promise<unknown[][]> => (await ds.conn.runAndReadAll(sql)).getRowsJson() as unknown[][];
      // Every prod-data request of the access logs by a signed-in principal is a data event here, under the same ID.
      expect(await q(`SELECT count(*) FROM cloudtrail c JOIN access_log a USING (request_id) WHERE c.bucket = a.bucket AND c.event_time = a.event_time`)).toEqual([['142']]);
      expect(await q(`SELECT DISTINCT bucket FROM cloudtrail WHERE bucket IS NOT NULL ORDER BY 1`)).toEqual([['logs-archive'], ['prod-backups'], ['prod-data'], ['web-assets']]);
      // The intruder's versioned deletes, with the version in the request and no MFA session.
      expect(await q(`SELECT count(*), count(version_id), count(mfa_authenticated) FROM cloudtrail WHERE event_name = 'DeleteObject' AND user_name = 'ci-deployer'`)).toEqual([['25', '25', '0']]);
      // The week-long pre-signed URL, from four addresses.
      expect(await q(`SELECT count(DISTINCT source_ip) FROM cloudtrail WHERE presigned_expires_s = 604800 AND auth_method = 'QueryString'`)).toEqual([['4']]);
      // What only CloudTrail sees: the planted policy, logging switched off, versioning suspended, the trail attacked.
      expect(await q(`SELECT event_name, bucket, error_code FROM cloudtrail WHERE user_name = 'ci-deployer' AND management_event AND NOT read_only ORDER BY event_time`)).toEqual([
        ['PutBucketVersioning', 'prod-data', null], ['PutBucketLogging', 'prod-data', null], ['StopLogging', null, 'AccessDenied'], ['PutBucketPolicy', 'prod-data', null],
      ]);
      expect(await q(`SELECT event_name, user_type, mfa_authenticated FROM cloudtrail WHERE event_source = 'glacier.amazonaws.com' OR event_name = 'ConsoleLogin' ORDER BY event_time`)).toEqual([
        ['SetVaultAccessPolicy', 'IAMUser', true], ['InitiateVaultLock', 'IAMUser', true], ['ConsoleLogin', 'Root', true],
      ]);
      // Day 3 came through EventBridge.
      expect(await q(`SELECT count(*) FROM cloudtrail WHERE source_file LIKE '%security-bus%'`)).toEqual([['3']]);
    } finally {
      ds.close();
    }
  });
});

describe('the CloudTrail parser on conformance records', () => {
  it('neither rejects nor skips any record of the real attack dataset', () => {
    const dir = conf('invictus-ir');
    let n = 0;
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.json'))) {
      for (const r of (JSON.parse(readFileSync(join(dir, f), 'utf8')) as { Records: unknown[] }).Records) {
        const row = parseCloudTrailRecord(r);
        expect(row instanceof Reject || row instanceof Skip ? `${f}: ${row.reason}` : 'ok').toBe('ok');
        n++;
      }
    }
    expect(n).toBe(2900);
  });
});
