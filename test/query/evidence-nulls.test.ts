/**
 * A finding's evidence is one record, also where that record lacks a value
 * another record of the group has. DuckDB's `min_by(x, key)` passes over
 * rows whose x is NULL (Trino's does not), so `min_by(event_id, ord)` gave
 * an access-log line a later CloudTrail record's event ID, and a first read
 * without a user agent or address the next one's: the detections take
 * `min_by(ARRAY[x], key)[1]`, the same on both engines. (The detections'
 * own tests check every finding's request and event IDs against the record
 * its file and line point at: query/detection-tests.ts, mixedEvidence.)
 */
import { describe, expect, it } from 'vitest';
import { runDetectionTest } from '../../query/detection-tests.js';
import { loadDetections, type Detection } from '../../query/detection.js';
import { TEST_BASES, accessLogLine, parseRecordSpec } from '../../query/test-records.js';

const library = await loadDetections();
const detection = (id: string): Detection => library.find((d) => d.id === id) as Detection;

async function run(id: string, specs: Array<Record<string, unknown>>) {
  const o = await runDetectionTest(detection(id), { name: id, records: specs.map((s, i) => parseRecordSpec(s, `record ${i + 1}`)), expect: 1 });
  expect(o.error).toBeUndefined();
  expect(o.mixed).toEqual([]);
  expect(o.got).toBe(1);
  return o.findings[0] as NonNullable<(typeof o.findings)[0]>;
}

describe('evidence of one record, where it has NULL values', () => {
  it("duckdb's min_by passes over NULL values (the reason for ARRAY[x])", async () => {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    try {
      const r = (await c.runAndReadAll("SELECT min_by(x, k) AS plain, min_by(ARRAY[x], k)[1] AS wrapped FROM (VALUES (NULL, 1), ('later', 2)) t(x, k)")).getRowObjectsJson();
      expect(r).toEqual([{ plain: 'later', wrapped: null }]);
    } finally {
      c.closeSync();
      db.closeSync();
    }
  });

  it('credentials-file-read: a first read without a user agent keeps none, not the next read\'s', async () => {
    const f = await run('credentials-file-read', [
      { base: 'access-log', time: '2025-03-10T08:00:00Z', key: 'keys/id_rsa', user_agent: null },
      { base: 's3-data-event', eventTime: '2025-03-10T08:05:00Z', requestParameters: { bucketName: 'prod-data', Host: 'prod-data.s3.us-east-1.amazonaws.com', key: 'app/.env' } },
    ]);
    expect([f.source, f.source_line, f.event_id, f.details.user_agent]).toEqual(['access_log', 1, null, undefined]);
  });

  it("large-data-egress: a first read whose record names no address keeps none, not the next read's", async () => {
    const f = await run('large-data-egress', [
      { base: 's3-data-event', eventTime: '2025-03-10T08:00:00Z', unset: ['sourceIPAddress'], 'additionalEventData.bytesTransferredOut': 3_000_000_000 },
      { base: 's3-data-event', eventTime: '2025-03-10T08:10:00Z', 'additionalEventData.bytesTransferredOut': 3_000_000_000 },
    ]);
    expect([f.source, f.source_line, f.event_id, f.source_ip]).toEqual(['cloudtrail', 1, 'T1-1', null]);
  });

  it("access-denied-burst: denials in both sources, the access log's first: its line, and no event ID", async () => {
    const f = await run('access-denied-burst', [
      { base: 'access-log', time: '2025-03-10T02:01:00Z', error_code: 'AccessDenied', http_status: 403 },
      { base: 's3-data-event', repeat: 11, eventTime: '2025-03-10T02:02:00Z', errorCode: 'AccessDenied', errorMessage: 'Access Denied' },
    ]);
    expect([f.source, f.source_line, f.request_id, f.event_id]).toEqual(['access_log', 1, 'T1-1', null]);
  });
});

describe('evidence of one record, in a window over records that may lack a value', () => {
  it("cloudtrail-tampering: selectors compared with an earlier call without an event ID name none, not an older call's", async () => {
    // DuckDB's max_by(event_id, ...) OVER (...) passed over the PutEventSelectors without an event ID to the CreateTrail
    // before it: "PutEventSelectors T1-1", the CreateTrail's ID under the other call's name (Trino: "?").
    const trail = { base: 's3-management-event', eventSource: 'cloudtrail.amazonaws.com', unset: ['resources', 'additionalEventData'] };
    const f = await run('cloudtrail-tampering', [
      { ...trail, eventTime: '2025-03-10T07:00:00Z', eventName: 'CreateTrail', requestParameters: { name: 'new-trail', s3BucketName: 'new-trail-logs' } },
      { ...trail, eventTime: '2025-03-10T07:01:00Z', eventName: 'PutEventSelectors', unset: [...trail.unset, 'eventID'],
        requestParameters: { trailName: 'new-trail', eventSelectors: [{ readWriteType: 'All', includeManagementEvents: true, dataResources: [] }] } },
      { ...trail, eventTime: '2025-03-10T07:05:00Z', eventName: 'PutEventSelectors',
        requestParameters: { trailName: 'new-trail', eventSelectors: [{ readWriteType: 'All', includeManagementEvents: false, dataResources: [] }] } },
    ]);
    expect([f.source_line, f.event_id, f.details.compared_with]).toEqual([3, 'T3-1', 'the previous selectors (PutEventSelectors ?)']);
  });
});

describe("a detection test's check of the evidence (mixedEvidence)", () => {
  // a custom rule: every request as a finding, of its own record (as a library rule's shape, with this SQL)
  const rule = (sql: string): Detection => ({ ...detection('sigv2-request'), id: 'custom-evidence', sql, candidates: undefined });
  const each = `SELECT event_time, source, bucket, "key", principal, source_ip, request_id, event_id, source_file, source_line FROM s3_requests`;

  it('takes the IDs as the parsers read them: numbers, true, an empty requestID are not another record\'s', async () => {
    const o = await runDetectionTest(rule(each), {
      name: 'ids',
      records: [
        { base: 'access-log', request_id: 12345 },
        { base: 's3-data-event', requestID: 777, eventID: 888 },
        { base: 's3-data-event', requestID: '', eventID: true },
      ].map((s, i) => parseRecordSpec(s, `record ${i + 1}`)),
      expect: 3,
    });
    expect([o.error, o.mixed, o.ok]).toEqual([undefined, [], true]);
  });

  it('checks raw lines and raw CloudTrail records too (one record a line), not a line holding several', async () => {
    const base = { ...TEST_BASES['s3-data-event'] };
    const t = {
      name: 'raw',
      access_log: [accessLogLine({ ...TEST_BASES['access-log'], request_id: 'RAW1' })],
      cloudtrail: [{ ...base, requestID: 'RAW2', eventID: 'E2' }, { Records: [{ ...base, requestID: 'R3', eventID: 'E3' }, { ...base, requestID: 'R4', eventID: 'E4' }] }],
      expect: 4,
    };
    // every finding given the event ID E2: wrong for the raw access-log line, right for the raw record, not told on the Records line
    const o = await runDetectionTest(rule(each.replace('event_id,', "'E2' AS event_id,")), t);
    expect([o.error, o.got]).toEqual([undefined, 4]);
    expect(o.mixed).toEqual(['the finding at line 1 of the access log has event_id E2 (the record\'s: null)']);
    expect((await runDetectionTest(rule(each), t)).mixed).toEqual([]);
  });
});

describe('keys of rows Athena can compare', () => {
  // Trino compares ROW values only without NULL fields ("ROW comparison not supported for fields with null elements"):
  // a key ROW(time, ...) over records without a time (CloudTrail's unreadable eventTime is kept, NULL) made the
  // detection fail on Athena as soon as two of them met, where DuckDB sorts them last. The time is coalesced to a
  // value after every real one, which orders them as DuckDB did.
  const firstField = (sql: string, at: number): string => {
    let depth = 0;
    for (let i = at; i < sql.length; i++) {
      const c = sql[i];
      if (c === '(') depth++;
      else if (c === ')') depth--;
      if (depth < 0 || (depth === 0 && c === ',')) return sql.slice(at, i).trim();
    }
    return sql.slice(at).trim();
  };

  it('a ROW key that starts with a time coalesces it', () => {
    const bad: string[] = [];
    for (const d of library) {
      for (const sql of [d.sql, d.coverage ?? '', ...(d.with ?? []).map((w) => w.sql)]) {
        for (const m of sql.matchAll(/\bROW\(/g)) {
          const first = firstField(sql, (m.index ?? 0) + m[0].length);
          if (/event_time|copied_at|^first$/.test(first) && !/^coalesce\(/i.test(first)) bad.push(`${d.id}: ROW(${first}, ...)`);
        }
      }
    }
    expect(bad).toEqual([]);
  });

  it('access-denied-burst: denials without a time still fire on DuckDB, as before', async () => {
    const f = await run('access-denied-burst', [
      { base: 's3-data-event', repeat: 12, eventTime: 'redacted', errorCode: 'AccessDenied', errorMessage: 'Access Denied' },
    ]);
    expect([f.event_time, f.source_line, f.event_id]).toEqual([null, 1, 'T1-1']);
  });
});

describe("a detection test's records, where a raw line holds a line break", () => {
  it('the records after it are named and checked at the lines ingest gives them', async () => {
    // A raw line written as a YAML block (`- |`) ends in a line break: a blank line in the file, which ingest counts.
    const line = accessLogLine({ ...TEST_BASES['access-log'], request_id: 'RAW1' });
    const o = await runDetectionTest(detection('sigv2-request'), {
      name: 'block',
      access_log: [`${line}\n`],
      records: [{ base: 'access-log', label: 'one', signature_version: 'SigV2' }, { base: 'access-log', label: 'two', signature_version: 'SigV2' }]
        .map((s, i) => parseRecordSpec(s, `record ${i + 1}`)),
      fires: ['one', 'two'],
    });
    expect([o.error, o.fired, o.mixed, o.ok]).toEqual([undefined, ['one', 'two'], [], true]);
  });
});
