import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAccessLogLine, type AccessLogRecord } from '../../../ingest/access-log/parse.js';
import { MAX_EXTRA_FIELDS } from '../../../ingest/access-log/scan.js';
import { Reject } from '../../../ingest/reject.js';
import { CONFORMANCE } from '../../helpers/dataset.js';

function ok(line: string): AccessLogRecord {
  const r = parseAccessLogLine(line);
  if (r instanceof Reject) throw new Error(`rejected: ${r.reason}`);
  return r;
}

function rejected(line: string): string {
  const r = parseAccessLogLine(line);
  if (!(r instanceof Reject)) throw new Error('expected a reject');
  return r.reason;
}

/** Comparable form: Dates as ISO strings without milliseconds. */
function plain(r: AccessLogRecord): Record<string, unknown> {
  return { ...r, event_time: r.event_time.toISOString().replace('.000Z', 'Z') };
}

const OWNER = '79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be';
/** A full 27-field record; `over` replaces fields by position (0-based, time counts as one). */
function record(over: Record<number, string> = {}, count = 27): string {
  const f = [
    OWNER, 'amzn-s3-demo-bucket', '[06/Feb/2019:00:00:38 +0000]', '192.0.2.3', OWNER, '3E57427F3EXAMPLE',
    'REST.GET.OBJECT', 'photos/cat.jpg', '"GET /amzn-s3-demo-bucket/photos/cat.jpg HTTP/1.1"', '200', '-', '1024',
    '1024', '7', '5', '"-"', '"S3Console/0.4"', '-',
    's9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234=', 'SigV4',
    'ECDHE-RSA-AES128-GCM-SHA256', 'AuthHeader', 'amzn-s3-demo-bucket.s3.us-west-1.amazonaws.com', 'TLSv1.2', '-',
    'Yes', 'us-west-1',
  ];
  for (const [i, v] of Object.entries(over)) f[Number(i)] = v;
  return f.slice(0, count).join(' ');
}

describe('access-log conformance', () => {
  it('produces exactly the values AWS documents for its five example records', () => {
    const lines = readFileSync(new URL('aws-docs/access-log-example.log', CONFORMANCE), 'utf8').split('\n').filter((l) => l);
    const expected = JSON.parse(readFileSync(new URL('aws-docs/access-log-example.expected.json', CONFORMANCE), 'utf8')) as {
      records: Record<string, unknown>[];
    };
    expect(lines).toHaveLength(expected.records.length);
    lines.forEach((line, i) => {
      const got = plain(ok(line));
      for (const [k, v] of Object.entries(expected.records[i] as Record<string, unknown>)) {
        expect([i, k, got[k]]).toEqual([i, k, v]);
      }
    });
  });

  it("matches logstash's access-log cases (18- and 24-field forms, SigV2, TLSV1.1)", () => {
    const { cases } = JSON.parse(readFileSync(new URL('logstash/access-log-cases.json', CONFORMANCE), 'utf8')) as {
      cases: Array<{ line: string; expect: Record<string, unknown> }>;
    };
    expect(cases.length).toBeGreaterThan(0);
    for (const c of cases) {
      const got = plain(ok(c.line));
      for (const [k, v] of Object.entries(c.expect)) expect([k, got[k]]).toEqual([k, v]);
    }
  });
});

describe('parseAccessLogLine', () => {
  it('reads all 27 fields of a current record', () => {
    const r = ok(record());
    expect(r).toMatchObject({
      bucket: 'amzn-s3-demo-bucket', remote_ip: '192.0.2.3', operation: 'REST.GET.OBJECT', key: 'photos/cat.jpg',
      http_status: 200, bytes_sent: 1024, object_size: 1024, total_time_ms: 7, turnaround_time_ms: 5,
      signature_version: 'SigV4', tls_version: 'TLSv1.2', acl_required: true, source_region: 'us-west-1', extra_fields: [],
      http_method: 'GET', presigned_expires_s: null,
    });
    expect(r.event_time.toISOString()).toBe('2019-02-06T00:00:38.000Z');
  });

  it('turns - into NULL, also for quoted fields that are a bare - without quotes', () => {
    const r = ok(record({ 15: '-', 16: '-', 8: '-' }));
    expect(r.referrer).toBeNull();
    expect(r.user_agent).toBeNull();
    expect(r.request_uri).toBeNull();
    expect(r.http_method).toBeNull();
    expect(ok(record({ 15: '"-"', 16: '"-"' })).user_agent).toBeNull();
  });

  it('ends a request-URI holding a raw quote at the HTTP/x.y" before the status', () => {
    const r = ok(record({ 8: '"GET /b/k?q="x" y HTTP/1.1"' }));
    expect(r.request_uri).toBe('GET /b/k?q="x" y HTTP/1.1');
    expect(r.http_status).toBe(200);
    expect(r.user_agent).toBe('S3Console/0.4');
  });

  it('ends a request-URI without a protocol at the quote followed by a status', () => {
    const r = ok(record({ 8: '"GET /b/a" b"' }));
    expect(r.request_uri).toBe('GET /b/a" b');
    expect(r.http_status).toBe(200);
  });

  it('keeps referrers and user agents with spaces, parentheses, commas, quotes and non-ASCII', () => {
    const r = ok(record({
      15: '"https://example.com/a page (copy), «draft»"',
      16: '"Mozilla/5.0 (X11; Linux x86_64) "quoted" Téléchargeur/1.0 (édition; ü), 日本"',
    }));
    expect(r.referrer).toBe('https://example.com/a page (copy), «draft»');
    expect(r.user_agent).toBe('Mozilla/5.0 (X11; Linux x86_64) "quoted" Téléchargeur/1.0 (édition; ü), 日本');
    expect(r.version_id).toBeNull();
    expect(r.source_region).toBe('us-west-1');
  });

  it('closes the user agent where the tail begins, even when a later field is quoted', () => {
    const r = ok(record({ 16: '"agent "v2" (x)"' }) + ' "quoted-new-field"');
    expect(r.user_agent).toBe('agent "v2" (x)');
    expect(r.signature_version).toBe('SigV4');
    expect(r.extra_fields).toEqual(['"quoted-new-field"']);
  });

  it('reads IPv6 client addresses', () => {
    expect(ok(record({ 3: '2001:db8:85a3::8a2e:370:7334' })).remote_ip).toBe('2001:db8:85a3::8a2e:370:7334');
  });

  it('reads lifecycle records: requester AmazonS3, no client address, status -', () => {
    const r = ok(record({ 3: '-', 4: 'AmazonS3', 6: 'S3.EXPIRE.OBJECT', 8: '-', 9: '-', 11: '-', 13: '-', 14: '-', 16: '"-"', 19: '-', 20: '-', 21: '-', 22: '-', 23: '-', 25: '-' }));
    expect(r).toMatchObject({ remote_ip: null, requester: 'AmazonS3', operation: 'S3.EXPIRE.OBJECT', http_status: null, request_uri: null, tls_version: null, acl_required: false });
  });

  it('keeps service requesters (svc:...)', () => {
    expect(ok(record({ 4: 'svc:logging.s3.amazonaws.com' })).requester).toBe('svc:logging.s3.amazonaws.com');
  });

  it('stores times in other zones as UTC', () => {
    expect(ok(record({ 2: '[06/Feb/2019:00:00:38 -0500]' })).event_time.toISOString()).toBe('2019-02-06T05:00:38.000Z');
    expect(ok(record({ 2: '[06/Feb/2019:01:30:00 +0130]' })).event_time.toISOString()).toBe('2019-02-06T00:00:00.000Z');
  });

  it('ignores CRLF line ends and trailing spaces', () => {
    const r = ok(record() + ' \r');
    expect(r.source_region).toBe('us-west-1');
    expect(r.extra_fields).toEqual([]);
  });

  it('keeps TLSV1.2 as well as TLSv1.2, as logged', () => {
    expect(ok(record({ 23: 'TLSV1.2' })).tls_version).toBe('TLSV1.2');
    expect(ok(record({ 23: 'TLSv1.2' })).tls_version).toBe('TLSv1.2');
  });

  it('accepts 18 to 26 fields, leaving the missing trailing ones NULL (acl_required too)', () => {
    for (let n = 18; n <= 27; n++) {
      const r = ok(record({}, n));
      expect(r.version_id).toBeNull();
      expect(r.host_id === null).toBe(n < 19);
      expect(r.tls_version === null).toBe(n < 24);
      expect(r.acl_required).toBe(n < 26 ? null : true);
      expect(r.source_region === null).toBe(n < 27);
    }
  });

  it('keeps fields after the 27th in extra_fields', () => {
    expect(ok(record() + ' new-field-1 -  x=y').extra_fields).toEqual(['new-field-1', '-', 'x=y']);
  });

  it(`keeps the first ${MAX_EXTRA_FIELDS} fields after the 27th, and counts them all in field_count`, () => {
    const r = ok(record() + ' f'.repeat(100_000));
    expect(r.extra_fields).toEqual(Array(MAX_EXTRA_FIELDS).fill('f'));
    expect(r.field_count).toBe(27 + 100_000);
    expect(r.source_region).toBe(ok(record()).source_region);
  });

  it('derives http_method from the request-URI', () => {
    expect(ok(record({ 8: '"DELETE /b/k?versionId=abc HTTP/1.1"' })).http_method).toBe('DELETE');
    expect(ok(record({ 8: '"/weird HTTP/1.1"' })).http_method).toBeNull();
  });

  it('derives presigned_expires_s from X-Amz-Expires of a SigV4 pre-signed request', () => {
    const uri = '"GET /b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20250310%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20250310T000000Z&X-Amz-Expires=604800&X-Amz-SignedHeaders=host&X-Amz-Signature=abc HTTP/1.1"';
    expect(ok(record({ 8: uri, 21: 'QueryString' })).presigned_expires_s).toBe(604800);
    expect(ok(record({ 8: '"GET /b/k?x-amz-expires=60 HTTP/1.1"' })).presigned_expires_s).toBe(60);
    // SigV2 pre-signed URLs carry an absolute Expires, not a duration.
    expect(ok(record({ 8: '"GET /b/k?AWSAccessKeyId=AKID&Expires=1741564800&Signature=abc HTTP/1.1"' })).presigned_expires_s).toBeNull();
    // A key that merely contains the words is not a query parameter.
    expect(ok(record({ 8: '"GET /b/X-Amz-Expires=5 HTTP/1.1"' })).presigned_expires_s).toBeNull();
    expect(ok(record({ 8: '"GET /b/k?X-Amz-Expires=soon HTTP/1.1"' })).presigned_expires_s).toBeNull();
  });

  it('maps acl_required Yes to true and - to false', () => {
    expect(ok(record({ 25: 'Yes' })).acl_required).toBe(true);
    expect(ok(record({ 25: '-' })).acl_required).toBe(false);
  });
});

describe('parseAccessLogLine rejects', () => {
  it('rejects a line whose time does not parse, naming event_time', () => {
    expect(rejected(record({ 2: '[06/Fab/2019:00:00:38 +0000]' }))).toMatch(/^event_time: /);
    expect(rejected(record({ 2: '[31/Feb/2019:00:00:38 +0000]' }))).toMatch(/^event_time: /);
    expect(rejected(record({ 2: '[06/Feb/2019:25:00:38 +0000]' }))).toMatch(/^event_time: /);
    expect(rejected(record({ 2: '06/Feb/2019:00:00:38' }))).toMatch(/^event_time: expected/);
  });

  it('rejects a status or count that is not a number, naming the field', () => {
    expect(rejected(record({ 9: '2OO' }))).toBe('http_status: "2OO" is not a number');
    expect(rejected(record({ 11: '12k' }))).toBe('bytes_sent: "12k" is not a number');
    expect(rejected(record({ 12: '-5' }))).toBe('object_size: "-5" is not a number');
    expect(rejected(record({ 13: '99999999999' }))).toBe('total_time_ms: 99999999999 is out of range');
    expect(rejected(record({ 14: 'x' }))).toBe('turnaround_time_ms: "x" is not a number');
  });

  it('rejects a quote that never closes', () => {
    expect(rejected(record({ 8: '"GET /b/k HTTP/1.1' }, 9))).toMatch(/^request_uri: quote opened at byte \d+ never closes$/);
  });

  it('rejects lines that are not access-log records at all', () => {
    expect(rejected('{"Records": []}')).toMatch(/^not an access-log record/);
    expect(rejected('hello world')).toMatch(/^not an access-log record/);
    expect(rejected(record({}, 17))).toBe('not an access-log record: 17 fields, at least 18 needed (version_id missing)');
  });

  it('rejects an acl_required that is neither Yes nor -', () => {
    expect(rejected(record({ 25: 'No' }))).toBe('acl_required: expected Yes or -, got "No"');
  });

  it('rejects an absurdly long line instead of scanning it', () => {
    expect(rejected(record({ 16: `"${'a'.repeat(5 << 20)}"` }))).toMatch(/bytes long/);
  });

  it('reports a blank line as blank', () => {
    expect(rejected('  \r')).toBe('blank line');
  });
});
