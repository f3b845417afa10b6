/**
 * Property-based tests of both parsers (fast-check): for any input they
 * return a row or a reject and never throw; long hostile lines finish (a
 * quadratic scan of these would not finish within the test's timeout);
 * records built from field values parse back to those values; and the
 * stream splitters give the same records however the bytes are chunked.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAccessLogLine, type AccessLogRecord } from '../../ingest/access-log/parse.js';
import { AccessLogScan } from '../../ingest/access-log/scan.js';
import { parseCloudTrailRecord, Skip, type CloudTrailRow } from '../../ingest/cloudtrail/record.js';
import { MAX_DEPTH } from '../../ingest/cloudtrail/depth.js';
import { readCloudTrail } from '../../ingest/cloudtrail/read.js';
import { JsonSplitter } from '../../ingest/cloudtrail/split.js';
import { ingest } from '../../ingest/ingest.js';
import { readLines } from '../../ingest/lines.js';
import { Reject } from '../../ingest/reject.js';
import { openDataset } from '../../query/dataset.js';
import { tempDir } from '../helpers/dataset.js';

const RUNS = { numRuns: 1000 };
const VALID =
  '79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be awsexamplebucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 ' +
  'arn:aws:iam::123456789012:user/alice 3E57427F3EXAMPLE REST.GET.VERSIONING - "GET /awsexamplebucket1?versioning HTTP/1.1" 200 - 113 - 7 - "-" ' +
  '"S3Console/0.4" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader ' +
  'awsexamplebucket1.s3.us-west-1.amazonaws.com TLSV1.2 arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP Yes us-east-1';

/** A line with random edits: characters inserted, deleted, replaced, including the ones the grammar cares about. */
const mutatedLine = fc
  .array(fc.tuple(fc.nat(), fc.constantFrom('insert', 'delete', 'replace'), fc.constantFrom('"', ' ', '[', ']', '-', '\r', '\t', 'HTTP/1.1"', '\u00e9', '\ufffd', 'x', '9')), { maxLength: 8 })
  .map((edits) => {
    let s = VALID;
    for (const [at, op, ch] of edits) {
      const i = at % (s.length + 1);
      s = op === 'insert' ? s.slice(0, i) + ch + s.slice(i) : op === 'delete' ? s.slice(0, i) + s.slice(i + 1) : s.slice(0, i) + ch + s.slice(i + 1);
    }
    return s;
  });

describe('access-log parser properties', () => {
  it('returns a record or a reject for any text, never throws', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 400 }), mutatedLine), (line) => {
        const r = parseAccessLogLine(line);
        expect(r instanceof Reject || r.event_time instanceof Date).toBe(true);
        if (r instanceof Reject) expect(r.reason.length).toBeGreaterThan(0);
      }),
      RUNS,
    );
  });

  it('scans any bytes (invalid UTF-8 too) without throwing', () => {
    const scan = new AccessLogScan();
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 400 }), mutatedLine.map((s) => Buffer.from(s, 'latin1'))), (bytes) => {
        expect(typeof scan.scan(bytes, 0, bytes.length)).toBe('boolean');
      }),
      RUNS,
    );
  });

  it('finishes on long hostile lines (linear scanning)', () => {
    const n = 4_000_000;
    const hostile = ['"'.repeat(n), '['.repeat(n), ' '.repeat(n) + 'x', `${VALID.slice(0, 140)}"${'GET /a HTTP/1.1" '.repeat(n / 20)}`, `${VALID} ${'x '.repeat(n / 2)}`, `${'- '.repeat(n / 2)}`];
    for (const line of hostile) {
      const r = parseAccessLogLine(line);
      expect(r instanceof Reject || r.field_count >= 18).toBe(true);
    }
  }, 60_000);

  // Field values as AWS writes them; the record built from them must parse back to them.
  const token = (chars: string, min = 1, max = 20): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom(...chars), minLength: min, maxLength: max });
  const alnum = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  const orNull = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | null> => fc.option(a, { nil: null, freq: 4 });
  const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
  const ipv6 = fc.array(fc.nat(0xffff).map((n) => n.toString(16)), { minLength: 8, maxLength: 8 }).map((p) => p.join(':'));
  // Quoted free text: spaces, parentheses, commas, non-ASCII; never a bare "-" (that is NULL).
  const freeText = fc
    .string({ unit: fc.constantFrom(...'ab Z(),;/.:=é漢\u00a0-1'.split('')), minLength: 1, maxLength: 40 })
    .filter((s) => s !== '-' && s.trim() === s && s.length > 0);
  const values = fc.record({
    bucket_owner: orNull(token('0123456789abcdef', 64, 64)),
    bucket: token('abcdefghijklmnopqrstuvwxyz0123456789.-', 3, 63).filter((s) => s !== '-'),
    ms: fc.integer({ min: Date.UTC(2006, 0, 1), max: Date.UTC(2099, 0, 1) }).map((t) => t - (t % 1000)),
    tz: fc.integer({ min: -12 * 60, max: 14 * 60 }).map((m) => m - (m % 15)),
    remote_ip: orNull(fc.oneof(ipv4, ipv6)),
    requester: orNull(fc.oneof(token(alnum, 5, 12).map((u) => `arn:aws:iam::123456789012:user/${u}`), fc.constant('svc:logging.s3.amazonaws.com'), fc.constant('AmazonS3'))),
    request_id: token('ABCDEF0123456789', 16, 16),
    operation: fc.constantFrom('REST.GET.OBJECT', 'REST.PUT.OBJECT', 'REST.DELETE.OBJECT', 'BATCH.DELETE.OBJECT', 'S3.EXPIRE.OBJECT', 'WEBSITE.GET.OBJECT'),
    key: orNull(token(alnum + '/%._~+!*\'()', 1, 40).filter((s) => s !== '-')),
    method: fc.constantFrom('GET', 'PUT', 'HEAD', 'DELETE', 'POST'),
    path: token(alnum + '/%._~"=&', 1, 40),
    expires: orNull(fc.integer({ min: 0, max: 2_000_000_000 })),
    http_status: orNull(fc.integer({ min: 100, max: 599 })),
    error_code: orNull(token('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 3, 30)),
    bytes_sent: orNull(fc.nat()),
    object_size: orNull(fc.nat()),
    total_time_ms: orNull(fc.nat(1_000_000)),
    turnaround_time_ms: orNull(fc.nat(1_000_000)),
    referrer: orNull(freeText),
    user_agent: orNull(freeText),
    version_id: orNull(token(alnum + '._', 1, 32).filter((s) => s !== '-')),
    host_id: orNull(token(alnum + '+/=', 8, 76)),
    signature_version: orNull(fc.constantFrom('SigV2', 'SigV4')),
    cipher_suite: orNull(fc.constantFrom('ECDHE-RSA-AES128-GCM-SHA256', 'TLS_AES_128_GCM_SHA256')),
    auth_type: orNull(fc.constantFrom('AuthHeader', 'QueryString')),
    host_header: orNull(fc.constantFrom('b.s3.us-east-1.amazonaws.com', 's3.amazonaws.com')),
    tls_version: orNull(fc.constantFrom('TLSv1.2', 'TLSv1.3', 'TLSV1.2')),
    access_point_arn: orNull(fc.constant('arn:aws:s3:us-east-1:123456789012:accesspoint/ap')),
    acl_required: orNull(fc.constant(true)),
    source_region: orNull(fc.constantFrom('us-east-1', 'eu-west-3')),
    fields: fc.integer({ min: 18, max: 27 }),
    extra: fc.array(token(alnum + '-_:', 1, 12).filter((s) => s !== '-'), { maxLength: 3 }),
  });

  const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const two = (n: number): string => String(n).padStart(2, '0');
  const logTime = (ms: number, tz: number): string => {
    const d = new Date(ms + tz * 60_000);
    const sign = tz < 0 ? '-' : '+';
    const off = Math.abs(tz);
    return `[${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} ${sign}${two(Math.floor(off / 60))}${two(off % 60)}]`;
  };

  it('parses a record built from field values back to those values', () => {
    fc.assert(
      fc.property(values, (v) => {
        const dash = (x: string | number | null): string => (x === null ? '-' : String(x));
        const quoted = (x: string | null): string => (x === null ? '"-"' : `"${x}"`);
        const uri = `${v.method} /${v.path}${v.expires === null ? '' : `?X-Amz-Expires=${v.expires}&X-Amz-Signature=ab`} HTTP/1.1`;
        const all = [
          dash(v.bucket_owner), v.bucket, logTime(v.ms, v.tz), dash(v.remote_ip), dash(v.requester), v.request_id, v.operation, dash(v.key),
          `"${uri}"`, dash(v.http_status), dash(v.error_code), dash(v.bytes_sent), dash(v.object_size), dash(v.total_time_ms), dash(v.turnaround_time_ms),
          quoted(v.referrer), quoted(v.user_agent), dash(v.version_id), dash(v.host_id), dash(v.signature_version), dash(v.cipher_suite),
          dash(v.auth_type), dash(v.host_header), dash(v.tls_version), dash(v.access_point_arn), v.acl_required ? 'Yes' : '-', dash(v.source_region),
        ];
        const kept = all.slice(0, v.fields);
        const extra = v.fields === 27 ? v.extra : [];
        const r = parseAccessLogLine([...kept, ...extra].join(' '));
        if (r instanceof Reject) throw new Error(`rejected: ${r.reason}`);
        const present = <T>(field: number, x: T): T | null => (field <= v.fields ? x : null);
        const expected: AccessLogRecord = {
          bucket_owner: v.bucket_owner, bucket: v.bucket, event_time: new Date(v.ms), remote_ip: v.remote_ip, requester: v.requester,
          request_id: v.request_id, operation: v.operation, key: v.key, request_uri: uri, http_status: v.http_status, error_code: v.error_code,
          bytes_sent: v.bytes_sent, object_size: v.object_size, total_time_ms: v.total_time_ms, turnaround_time_ms: v.turnaround_time_ms,
          referrer: v.referrer, user_agent: v.user_agent,
          version_id: present(18, v.version_id), host_id: present(19, v.host_id), signature_version: present(20, v.signature_version),
          cipher_suite: present(21, v.cipher_suite), auth_type: present(22, v.auth_type), host_header: present(23, v.host_header),
          tls_version: present(24, v.tls_version), access_point_arn: present(25, v.access_point_arn),
          acl_required: v.fields >= 26 ? v.acl_required === true : null, source_region: present(27, v.source_region),
          extra_fields: extra, http_method: v.method, presigned_expires_s: v.expires, field_count: v.fields + extra.length,
        };
        expect(r).toEqual(expected);
      }),
      RUNS,
    );
  });

  it('splits lines the same however the bytes are chunked (CRLF and multi-byte characters cut too)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ unit: fc.constantFrom('a', ' ', 'é', '漢', '\r', '"'), maxLength: 30 }), { minLength: 1, maxLength: 20 }),
        fc.boolean(),
        fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 10 }),
        async (lines, crlf, cuts) => {
          const bytes = Buffer.from(lines.join(crlf ? '\r\n' : '\n'), 'utf8');
          const chunks: Buffer[] = [];
          for (let at = 0, k = 0; at < bytes.length; k++) {
            const n = cuts[k % cuts.length] as number;
            chunks.push(bytes.subarray(at, at + n));
            at += n;
          }
          const got: string[] = [];
          await readLines((async function* () { yield* chunks; })(), (b, s, e) => got.push(b.toString('utf8', s, e)), () => {});
          // A line end closes a line; it does not open one.
          const want = bytes.length === 0 ? [] : bytes.toString('utf8').replace(/\n$/, '').split('\n');
          expect(got).toEqual(want);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('CloudTrail parser properties', () => {
  const base = {
    eventVersion: '1.09', userIdentity: { type: 'IAMUser', principalId: 'AIDA', arn: 'arn:aws:iam::111122223333:user/alice', accountId: '111122223333' },
    eventTime: '2025-03-10T08:00:00Z', eventSource: 's3.amazonaws.com', eventName: 'GetObject', awsRegion: 'us-east-1', sourceIPAddress: '198.51.100.7',
    userAgent: 'aws-cli/2', requestParameters: { bucketName: 'b', key: 'k', Host: 'b.s3.amazonaws.com' }, responseElements: null,
    additionalEventData: { SignatureVersion: 'SigV4', CipherSuite: 'ECDHE-RSA-AES128-GCM-SHA256', bytesTransferredIn: 0, bytesTransferredOut: 10 },
    requestID: 'R', eventID: 'E', readOnly: true, resources: [{ type: 'AWS::S3::Object', ARN: 'arn:aws:s3:::b/k' }], eventType: 'AwsApiCall',
    managementEvent: false, recipientAccountId: '111122223333', tlsDetails: { tlsVersion: 'TLSv1.2' },
  };
  const fields = Object.keys(base);

  it('returns a row, a reject or a skip for any JSON value, and for records with any field of any type', () => {
    const damaged = fc
      .dictionary(fc.constantFrom(...fields), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 })
      .map((over) => ({ ...base, ...over }));
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue({ maxDepth: 4 }), damaged), (rec) => {
        const r = parseCloudTrailRecord(rec);
        expect(r instanceof Reject || r instanceof Skip || typeof r.event_name === 'string').toBe(true);
      }),
      RUNS,
    );
  });

  it('parses a record built from field values back to those values', () => {
    const text = fc.string({ minLength: 1, maxLength: 30 });
    fc.assert(
      fc.property(
        fc.record({
          ms: fc.integer({ min: Date.UTC(2013, 0, 1), max: Date.UTC(2099, 0, 1) }),
          eventName: fc.constantFrom('GetObject', 'PutObject', 'DeleteObject', 'PutBucketPolicy', 'CreateBucket'),
          bucket: fc.string({ unit: fc.constantFrom(...'abc123.-'), minLength: 3, maxLength: 20 }),
          key: fc.option(text, { nil: null }),
          ip: fc.oneof(fc.constant('AWS Internal'), fc.ipV4(), fc.ipV6()),
          userAgent: text,
          readOnly: fc.boolean(),
          errorCode: fc.option(fc.constantFrom('AccessDenied', 'NoSuchKey'), { nil: null }),
          expires: fc.option(fc.integer({ min: 1, max: 604_800 }), { nil: null }),
          bytesOut: fc.nat(),
        }),
        (v) => {
          const rec = {
            ...base, eventTime: new Date(v.ms).toISOString(), eventName: v.eventName, sourceIPAddress: v.ip, userAgent: v.userAgent, readOnly: v.readOnly,
            ...(v.errorCode ? { errorCode: v.errorCode } : {}),
            requestParameters: { bucketName: v.bucket, ...(v.key === null ? {} : { key: v.key }), ...(v.expires === null ? {} : { 'X-Amz-Expires': String(v.expires) }) },
            additionalEventData: { ...base.additionalEventData, bytesTransferredOut: v.bytesOut },
          };
          const r = parseCloudTrailRecord(JSON.parse(JSON.stringify(rec)));
          if (r instanceof Reject || r instanceof Skip) throw new Error(`not a row: ${r.reason}`);
          expect(r).toMatchObject<Partial<CloudTrailRow>>({
            event_time: new Date(v.ms), event_name: v.eventName, bucket: v.bucket, key: v.key, source_ip: v.ip, user_agent: v.userAgent,
            read_only: v.readOnly, error_code: v.errorCode, presigned_expires_s: v.expires, bytes_out: v.bytesOut, user_arn: base.userIdentity.arn,
          });
          expect(JSON.parse(r.request_parameters as string)).toEqual(rec.requestParameters);
        },
      ),
      RUNS,
    );
  });

  const split = (chunks: Buffer[]): { values: unknown[]; bad: number } => {
    const values: unknown[] = [];
    let bad = 0;
    // The splitter finds boundaries without parsing; the reader parses each value and rejects what is not JSON.
    const value = (b: Buffer, from: number, to: number): void => {
      try {
        values.push(JSON.parse(b.toString('utf8', from, to)));
      } catch {
        bad++;
      }
    };
    const s = new JsonSplitter({ value, bad: () => bad++, blank: () => {} });
    for (const c of chunks) s.push(c);
    s.end();
    return { values, bad };
  };
  const chunked = (bytes: Buffer, cuts: number[]): Buffer[] => {
    const out: Buffer[] = [];
    for (let at = 0, k = 0; at < bytes.length; k++) {
      const n = cuts[k % cuts.length] as number;
      out.push(bytes.subarray(at, at + n));
      at += n;
    }
    return out;
  };

  it('finds the same records in a Records file, an array or NDJSON however the bytes are chunked', () => {
    const record = fc.record({ eventName: fc.string({ maxLength: 10 }), n: fc.jsonValue({ maxDepth: 2 }), s: fc.string({ unit: fc.constantFrom('"', '\\', '{', ']', 'é', 'a', '\n'), maxLength: 12 }) });
    fc.assert(
      fc.property(fc.array(record, { minLength: 1, maxLength: 8 }), fc.constantFrom('records', 'array', 'lines', 'pretty'), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 6 }), (records, shape, cuts) => {
        const norm = JSON.parse(JSON.stringify(records)) as unknown[];
        const text =
          shape === 'records' ? JSON.stringify({ Records: records }) : shape === 'array' ? JSON.stringify(records) : shape === 'lines' ? records.map((r) => JSON.stringify(r)).join('\n') : records.map((r) => JSON.stringify(r, null, 2)).join('\n');
        const got = split(chunked(Buffer.from(text, 'utf8'), cuts));
        expect(got).toEqual({ values: norm, bad: 0 });
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on arbitrary bytes, in any chunking', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.string({ unit: fc.constantFrom('{', '}', '[', ']', '"', '\\', ',', ':', '\n', ' ', 'a', '1'), maxLength: 300 }).map((s) => Buffer.from(s))), fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 5 }), (bytes, cuts) => {
        split(chunked(Buffer.from(bytes), cuts));
      }),
      RUNS,
    );
  });

  it('finishes on long hostile input (linear splitting)', () => {
    const n = 4_000_000;
    for (const text of ['['.repeat(n), '{"Records":[' + '"\\'.repeat(n / 2), '"'.repeat(n), '{'.repeat(n) + '}'.repeat(n), '\n'.repeat(n)]) {
      split(chunked(Buffer.from(text), [65_536]));
    }
  }, 60_000);
});

/**
 * CloudTrail JSON as an attacker may write it: strings with any escape
 * (unpaired surrogates, NUL, escaped letters), keys that decode to a column's
 * field (`"request\u0050arameters"`), repeated keys, and nesting past the limit.
 * Built as text, since JSON.stringify writes none of these.
 */
describe('CloudTrail JSON escapes, repeated keys and depth', () => {
  const hex4 = (lo: number, hi: number): fc.Arbitrary<string> => fc.integer({ min: lo, max: hi }).map((n) => `\\u${n.toString(16).padStart(4, '0')}`);
  const piece = fc.oneof(
    fc.constantFrom('a', 'b', 'é', '漢', '𝄞', ' ', '\\"', '\\\\', '\\n', '\\t', '\\/', '\\u0000', '\\u0001', '\\u0050'),
    hex4(0xd800, 0xdfff), // half of a surrogate pair, alone
    fc.tuple(hex4(0xd800, 0xdbff), hex4(0xdc00, 0xdfff)).map(([h, l]) => h + l), // a whole pair
  );
  const str = fc.array(piece, { maxLength: 6 }).map((p) => `"${p.join('')}"`);
  /** A key: a field's name, the same with a letter escaped, or any string. */
  const escapeOne = (name: string, at: number): string => {
    const i = at % name.length;
    return `"${name.slice(0, i)}\\u${name.charCodeAt(i).toString(16).padStart(4, '0')}${name.slice(i + 1)}"`;
  };
  const names = ['requestParameters', 'bucketName', 'eventName', 'userAgent', 'tlsDetails', 'resources', 'key', '__proto__', 'x'];
  const key = fc.oneof(fc.constantFrom(...names).map((n) => `"${n}"`), fc.tuple(fc.constantFrom(...names), fc.nat()).map(([n, at]) => escapeOne(n, at)), str);
  const scalar = fc.oneof(str, fc.constantFrom('1', '-0.5', '51.0', 'true', 'null'));
  const nest = (depth: number, inner: string): string => '['.repeat(depth) + inner + ']'.repeat(depth);
  const value = fc.oneof(
    { weight: 4, arbitrary: scalar },
    { weight: 2, arbitrary: fc.array(fc.tuple(key, scalar), { maxLength: 4 }).map((kv) => `{${kv.map(([k, v]) => `${k}:${v}`).join(',')}}`) },
    // Deep enough to cross the limit: the record is level 1, this value level 2.
    { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 90, max: 130 }), scalar).map(([d, v]) => nest(d, v)) },
  );
  /** A record: the required fields, a requestParameters object, then any fields (repeats and escaped names among them). */
  const record = fc
    .tuple(fc.array(fc.tuple(key, scalar), { maxLength: 3 }), fc.array(fc.tuple(key, value), { maxLength: 5 }), fc.boolean())
    .map(([params, fields, paramsFirst]) => {
      const req = `"requestParameters":{"bucketName":"b",${params.map(([k, v]) => `${k}:${v}`).join(',')}${params.length ? ',' : ''}"Host":"h"}`;
      const head = '"eventVersion":"1.08","eventTime":"2025-03-10T08:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject"';
      const rest = fields.map(([k, v]) => `${k}:${v}`);
      return `{${[head, ...(paramsFirst ? [req, ...rest] : [...rest, req])].join(',')}}`;
    });
  /** Levels of nesting of a JSON value (the value itself is level 1 if it is an object or array). */
  const depthOf = (v: unknown): number => {
    let max = 0;
    const stack: Array<[unknown, number]> = [[v, 1]];
    while (stack.length) {
      const [x, d] = stack.pop() as [unknown, number];
      if (typeof x !== 'object' || x === null) continue;
      max = Math.max(max, d);
      for (const c of Object.values(x)) stack.push([c, d + 1]);
    }
    return max;
  };
  const hasLone = (s: string): boolean => /\p{Cs}/u.test(s);

  it('gives every record a row or a reject, never throws, keeps only valid text, and rejects exactly the records nested too deep', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(record, { minLength: 1, maxLength: 6 }), fc.constantFrom('lines', 'records', 'pretty'), async (recs, shape) => {
        const text = shape === 'lines' ? recs.join('\n') : shape === 'records' ? `{"Records":[${recs.join(',')}]}` : recs.map((r) => r.replace(/^\{/, '{\n')).join('\n');
        const got: Array<{ row?: CloudTrailRow; reason?: string }> = [];
        const sink = {
          row: (row: CloudTrailRow) => got.push({ row }),
          reject: (_w: number, reason: string, raw: string) => {
            expect(hasLone(raw)).toBe(false);
            got.push({ reason });
          },
          skip: () => got.push({ reason: 'skip' }),
        };
        await readCloudTrail((async function* () { yield Buffer.from(text); })(), sink, async () => {});
        expect(got).toHaveLength(recs.length);
        got.forEach((g, i) => {
          const parsed = JSON.parse(recs[i] as string) as { requestParameters: unknown };
          const tooDeep = depthOf(parsed) > MAX_DEPTH;
          expect(g.reason === `nested deeper than ${MAX_DEPTH} levels`).toBe(tooDeep);
          if (!g.row) return;
          for (const v of Object.values(g.row)) if (typeof v === 'string') expect(hasLone(v)).toBe(false);
          // The last requestParameters and the last bucketName in it, as JSON.parse reads them.
          const req = parsed.requestParameters;
          const bucket = typeof req === 'object' && req !== null ? (req as { bucketName?: unknown }).bucketName : undefined;
          if (typeof bucket === 'string' && g.row.event_source === 's3.amazonaws.com') expect(g.row.bucket).toBe(bucket === '' ? null : bucket.replace(/\p{Cs}/gu, '\ufffd'));
        });
      }),
      RUNS,
    );
  });

  it('stores the same rows whether a record is copied from its bytes or serialised, with the bucket the stored JSON names (DuckDB and JSON.parse agree)', async () => {
    const tmp = tempDir();
    let n = 0;
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(record, { minLength: 1, maxLength: 30 }), async (recs) => {
          const dir = join(tmp.dir, String(n++));
          mkdirSync(dir);
          const compact = join(dir, 'compact.ndjson');
          const pretty = join(dir, 'pretty.json');
          writeFileSync(compact, recs.join('\n'));
          writeFileSync(pretty, recs.map((r) => r.replace(/^\{/, '{\n')).join('\n'));
          const s = await ingest([compact, pretty], { data: join(dir, 'data'), format: 'cloudtrail', force: false, strict: false });
          expect(s.rows + s.rejected).toBe(2 * recs.length);
          if (s.rows === 0) return;
          const ds = await openDataset(join(dir, 'data'));
          try {
            const r = await ds.conn.runAndReadAll(
              `SELECT source_file, bucket, request_parameters, request_parameters->>'bucketName' AS duck_bucket, other_fields, user_identity, resources
               FROM cloudtrail ORDER BY source_file, source_line`,
            );
            const rows = r.getRowObjectsJson() as Array<Record<string, string | null>>;
            for (const row of rows) {
              const stored = JSON.parse(row.request_parameters ?? 'null') as { bucketName?: unknown } | null;
              if (typeof stored?.bucketName === 'string' && stored.bucketName !== '') expect([row.bucket, row.duck_bucket]).toEqual([stored.bucketName, stored.bucketName]);
            }
            const strip = (file: string): unknown[] =>
              rows.filter((x) => x.source_file === file).map(({ source_file: _f, ...x }) => Object.fromEntries(Object.entries(x).map(([k, v]) => [k, k === 'bucket' || k === 'duck_bucket' || v === null ? v : JSON.parse(v)])));
            expect(strip(pretty)).toEqual(strip(compact));
          } finally {
            ds.close();
          }
        }),
        { numRuns: 15 },
      );
    } finally {
      tmp.cleanup();
    }
  }, 120_000);
});
