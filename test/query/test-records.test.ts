import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAccessLogLine, type AccessLogRecord } from '../../ingest/access-log/parse.js';
import { Reject } from '../../ingest/reject.js';
import { runDetectionTest } from '../../query/detection-tests.js';
import { loadDetections, type DetectionTest } from '../../query/detection.js';
import { ACCESS_LOG_FIELDS, TEST_BASES, accessLogLine, buildRecords, parseRecordSpec } from '../../query/test-records.js';
import { CONFORMANCE } from '../helpers/dataset.js';

const spec = (v: Record<string, unknown>) => parseRecordSpec(v, 'test');

describe('test records: a base and what differs', () => {
  it('writes an access-log record as the line AWS writes (an AWS documentation example, field for field)', () => {
    const line = readFileSync(new URL('aws-docs/access-log-example.log', CONFORMANCE), 'utf8').split('\n').find((l) => l.includes('REST.GET.VERSIONING')) as string;
    const parsed = parseAccessLogLine(line) as AccessLogRecord;
    expect(parsed).not.toBeInstanceOf(Reject);
    // Re-write it from its own fields: the same line comes out.
    const tokens = line.match(/\[[^\]]*\]|"[^"]*"|\S+/g) as string[];
    const fields = Object.fromEntries(ACCESS_LOG_FIELDS.slice(0, tokens.length).map((f, i) => {
      const t = tokens[i] as string;
      return [f, f === 'time' ? t : t.startsWith('"') ? t.slice(1, -1) : t === '-' ? null : t];
    }));
    expect(accessLogLine(fields, tokens.length)).toBe(line.trim());
  });

  it('the access-log base parses, with every field', () => {
    const [built] = buildRecords([spec({ base: 'access-log' })]);
    const r = parseAccessLogLine((built as { line: string }).line) as AccessLogRecord;
    expect(r).toMatchObject({ bucket: 'prod-data', operation: 'REST.GET.OBJECT', tls_version: 'TLSv1.3', request_id: 'T1-1', field_count: 27 });
    expect(r.event_time).toEqual(new Date('2025-03-10T08:00:00Z'));
  });

  it('sets dotted paths, removes unset ones, and gives each record its own IDs', () => {
    const built = buildRecords([
      spec({ base: 's3-management-event', eventName: 'PutBucketAcl', 'requestParameters.x-amz-acl': ['public-read'], 'userIdentity.arn': 'arn:aws:iam::111122223333:user/bob', unset: ['tlsDetails', 'resources'] }),
      spec({ base: 's3-data-event', requestID: 'MINE' }),
    ]);
    const [a, b] = built.map((x) => (x as { record: Record<string, unknown> }).record);
    expect(a).toMatchObject({ eventName: 'PutBucketAcl', requestID: 'T1-1', eventID: 'T1-1', requestParameters: { bucketName: 'prod-data', 'x-amz-acl': ['public-read'] }, userIdentity: { arn: 'arn:aws:iam::111122223333:user/bob', userName: 'alice' } });
    expect(a).not.toHaveProperty('tlsDetails');
    expect(a).not.toHaveProperty('resources');
    expect(b).toMatchObject({ requestID: 'MINE', eventID: 'T2-1', managementEvent: false, eventCategory: 'Data' });
    // The bases themselves are never changed.
    expect(TEST_BASES['s3-management-event'].eventName).toBe('GetBucketAcl');
  });

  it('repeats a record for a burst: copies apart in time, each with its own IDs and numbered values', () => {
    const built = buildRecords([spec({ base: 'access-log', repeat: 3, every: 30, key: 'logs/part-{i:4}.gz', version_id: 'v{n}' })]);
    const lines = built.map((b) => (b as { line: string }).line);
    expect(lines).toHaveLength(3);
    const recs = lines.map((l) => parseAccessLogLine(l) as AccessLogRecord);
    expect(recs.map((r) => [r.key, r.version_id, r.request_id, r.event_time?.toISOString()])).toEqual([
      ['logs/part-0000.gz', 'v1', 'T1-1', '2025-03-10T08:00:00.000Z'],
      ['logs/part-0001.gz', 'v2', 'T1-2', '2025-03-10T08:00:30.000Z'],
      ['logs/part-0002.gz', 'v3', 'T1-3', '2025-03-10T08:01:00.000Z'],
    ]);
  });

  it('keeps the first N fields of an access-log record (older records), or a raw line as it is', () => {
    const [short, raw] = buildRecords([spec({ base: 'access-log', fields: 18 }), spec({ line: 'not a log line' })]) as Array<{ line: string }>;
    expect(short?.line.match(/\[[^\]]*\]|"[^"]*"|\S+/g)).toHaveLength(18);
    expect(raw?.line).toBe('not a log line');
  });
});

describe('a test says which records fire', () => {
  it('passes when exactly the named records fire, and says which fired when others do', async () => {
    const [d] = (await loadDetections()).filter((x) => x.id === 'plaintext-http-request');
    const records = [spec({ base: 'access-log', label: 'http', tls_version: null }), spec({ base: 'access-log', label: 'https' })];
    const right: DetectionTest = { name: 'right', records, fires: ['http'] };
    const wrong: DetectionTest = { name: 'wrong', records, fires: ['https'] };
    const ok = await runDetectionTest(d!, right);
    expect([ok.ok, ok.fired]).toEqual([true, ['http']]);
    const bad = await runDetectionTest(d!, wrong);
    expect([bad.ok, bad.fired, bad.expectedFires]).toEqual([false, ['http'], ['https']]);
    // By number too.
    expect((await runDetectionTest(d!, { name: 'n', records, fires: [1] })).ok).toBe(true);
  });
});
