/**
 * The records of a detection test, written as a named base event and the
 * fields that differ from it (docs/detections.md#tests), so the one field
 * that makes a case fire or stay quiet is what a reader sees:
 *
 *   - base: s3-management-event
 *     label: public-acl
 *     eventName: PutBucketAcl
 *     requestParameters.x-amz-acl: [public-read]
 *
 * A key is a dotted path into the base (`userIdentity.arn`); `unset` lists
 * paths to remove; `repeat: N` makes N copies, `every: S` seconds apart,
 * for bursts, where `{n}` in a value is the copy's number (`{n:4}`: 0001)
 * and `{i}` the same from 0. Every record gets its own request and event ID unless it sets
 * one. An access-log record is a map of the log's field names, written out
 * as a log line (`fields: N` keeps the first N, as older records have);
 * `line:` gives a raw line instead, for parser quirks.
 */
import { DetectionError } from '../common/errors.js';

/** The server access log's fields, in order (the 27 documented ones). */
export const ACCESS_LOG_FIELDS = [
  'bucket_owner', 'bucket', 'time', 'remote_ip', 'requester', 'request_id', 'operation', 'key', 'request_uri', 'http_status',
  'error_code', 'bytes_sent', 'object_size', 'total_time', 'turn_around_time', 'referrer', 'user_agent', 'version_id', 'host_id',
  'signature_version', 'cipher_suite', 'authentication_type', 'host_header', 'tls_version', 'access_point_arn', 'acl_required', 'source_region',
] as const;
const QUOTED = new Set(['request_uri', 'referrer', 'user_agent']);

const ALICE = { type: 'IAMUser', principalId: 'AIDAALICE', arn: 'arn:aws:iam::111122223333:user/alice', accountId: '111122223333', accessKeyId: 'AKIAALICE', userName: 'alice' };

/** The named bases: an S3 data event and an S3 management event in CloudTrail, and an access-log record. */
export const TEST_BASES = {
  /** A successful GetObject by alice (account 111122223333) on prod-data, over TLS 1.2, logged as a data event. */
  's3-data-event': {
    eventVersion: '1.09', userIdentity: ALICE, eventTime: '2025-03-10T08:00:00Z', eventSource: 's3.amazonaws.com', eventName: 'GetObject',
    awsRegion: 'us-east-1', sourceIPAddress: '203.0.113.9', userAgent: '[aws-cli/2.13.0]',
    requestParameters: { bucketName: 'prod-data', Host: 'prod-data.s3.us-east-1.amazonaws.com', key: 'reports/q1.csv' }, responseElements: null,
    additionalEventData: { SignatureVersion: 'SigV4', CipherSuite: 'ECDHE-RSA-AES128-GCM-SHA256', bytesTransferredIn: 0, AuthenticationMethod: 'AuthHeader', 'x-amz-id-2': 'hostid=', bytesTransferredOut: 512 },
    requestID: 'REQUEST', eventID: 'EVENT', readOnly: true,
    resources: [{ type: 'AWS::S3::Object', ARN: 'arn:aws:s3:::prod-data/reports/q1.csv' }, { accountId: '111122223333', type: 'AWS::S3::Bucket', ARN: 'arn:aws:s3:::prod-data' }],
    eventType: 'AwsApiCall', managementEvent: false, recipientAccountId: '111122223333', eventCategory: 'Data',
    tlsDetails: { tlsVersion: 'TLSv1.2', cipherSuite: 'ECDHE-RSA-AES128-GCM-SHA256', clientProvidedHostHeader: 'prod-data.s3.us-east-1.amazonaws.com' },
  },
  /** A successful GetBucketAcl by alice on prod-data: a management event (set eventName and requestParameters). */
  's3-management-event': {
    eventVersion: '1.09', userIdentity: ALICE, eventTime: '2025-03-10T08:00:00Z', eventSource: 's3.amazonaws.com', eventName: 'GetBucketAcl',
    awsRegion: 'us-east-1', sourceIPAddress: '203.0.113.9', userAgent: '[aws-cli/2.13.0]',
    requestParameters: { bucketName: 'prod-data', Host: 'prod-data.s3.us-east-1.amazonaws.com', acl: '' }, responseElements: null,
    additionalEventData: { SignatureVersion: 'SigV4', CipherSuite: 'ECDHE-RSA-AES128-GCM-SHA256', bytesTransferredIn: 0, AuthenticationMethod: 'AuthHeader', 'x-amz-id-2': 'hostid=', bytesTransferredOut: 0 },
    requestID: 'REQUEST', eventID: 'EVENT', readOnly: true,
    resources: [{ accountId: '111122223333', type: 'AWS::S3::Bucket', ARN: 'arn:aws:s3:::prod-data' }],
    eventType: 'AwsApiCall', managementEvent: true, recipientAccountId: '111122223333', eventCategory: 'Management',
    tlsDetails: { tlsVersion: 'TLSv1.2', cipherSuite: 'ECDHE-RSA-AES128-GCM-SHA256', clientProvidedHostHeader: 'prod-data.s3.us-east-1.amazonaws.com' },
  },
  /** A successful GET of reports/q1.csv in prod-data by alice over TLS 1.3, with all 27 fields. */
  'access-log': {
    bucket_owner: '79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be', bucket: 'prod-data', time: '2025-03-10T08:00:00Z',
    remote_ip: '203.0.113.9', requester: 'arn:aws:iam::111122223333:user/alice', request_id: 'REQUEST', operation: 'REST.GET.OBJECT',
    key: 'reports/q1.csv', request_uri: 'GET /prod-data/reports/q1.csv HTTP/1.1', http_status: 200, error_code: null, bytes_sent: 512,
    object_size: 512, total_time: 10, turn_around_time: 5, referrer: null, user_agent: 'aws-cli/2.13.0', version_id: null, host_id: 'hostid=',
    signature_version: 'SigV4', cipher_suite: 'TLS_AES_128_GCM_SHA256', authentication_type: 'AuthHeader',
    host_header: 'prod-data.s3.us-east-1.amazonaws.com', tls_version: 'TLSv1.3', access_point_arn: null, acl_required: null, source_region: null,
  },
} as const;

export type BaseName = keyof typeof TEST_BASES;
export const BASE_NAMES = Object.keys(TEST_BASES) as BaseName[];
/** Keys of a record entry that are not fields. */
export const RECORD_KEYS = ['base', 'label', 'repeat', 'every', 'unset', 'fields', 'line'] as const;

export interface RecordSpec {
  base?: BaseName;
  label?: string;
  repeat?: number;
  every?: number;
  unset?: string[];
  fields?: number;
  line?: string;
  /** Field paths and their values. */
  set: Record<string, unknown>;
}

/** A record written out: an access-log line or a CloudTrail record, with the entry it came from. */
export type BuiltRecord = { entry: number; copy: number; source: 'access_log'; line: string } | { entry: number; copy: number; source: 'cloudtrail'; record: Record<string, unknown> };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const clone = <T>(v: T): T => structuredClone(v);

/** Validate one record entry of a test; `where` names it in errors. */
export function parseRecordSpec(v: unknown, where: string): RecordSpec {
  const fail = (msg: string): never => {
    throw new DetectionError(`${where}: ${msg}`);
  };
  if (!isObj(v)) return fail('a record is a mapping (base: ..., then the fields that differ)');
  const spec: RecordSpec = { set: {} };
  for (const [k, val] of Object.entries(v)) {
    switch (k) {
      case 'base':
        if (!(BASE_NAMES as string[]).includes(val as string)) fail(`base must be one of ${BASE_NAMES.join(', ')}, got ${JSON.stringify(val)}`);
        spec.base = val as BaseName;
        break;
      case 'label':
        if (typeof val !== 'string' || !/^[A-Za-z0-9_-]+$/.test(val)) fail(`label must be a word (letters, digits, - and _), got ${JSON.stringify(val)}`);
        spec.label = val as string;
        break;
      case 'repeat': case 'fields':
        if (!Number.isInteger(val) || (val as number) < 1 || (val as number) > 10_000) fail(`${k} must be a whole number from 1 to 10000, got ${JSON.stringify(val)}`);
        spec[k] = val as number;
        break;
      case 'every':
        if (typeof val !== 'number' || !(val >= 0) || val > 86_400) fail(`every must be seconds from 0 to 86400, got ${JSON.stringify(val)}`);
        spec.every = val as number;
        break;
      case 'unset':
        if (!Array.isArray(val) || !val.every((x) => typeof x === 'string')) fail('unset must list field paths');
        spec.unset = val as string[];
        break;
      case 'line':
        if (typeof val !== 'string') fail('line must be text (a raw access-log line)');
        spec.line = val as string;
        break;
      default:
        spec.set[k] = val;
    }
  }
  if (spec.line !== undefined) {
    if (spec.base || Object.keys(spec.set).length || spec.unset || spec.fields) fail('a raw line takes no base, fields or unset');
    return spec;
  }
  if (!spec.base) fail(`a record needs base: (${BASE_NAMES.join(', ')}) or line:`);
  if (spec.fields !== undefined && spec.base !== 'access-log') fail('fields: is for access-log records');
  if (spec.base === 'access-log') {
    const unknown = [...Object.keys(spec.set), ...(spec.unset ?? [])].filter((k) => !(ACCESS_LOG_FIELDS as readonly string[]).includes(k));
    if (unknown.length) fail(`unknown access-log field ${unknown.join(', ')} (fields: ${ACCESS_LOG_FIELDS.join(', ')})`);
  }
  return spec;
}

/** `{n}` (the copy's number from 1) and `{i}` (from 0) in text, `{n:4}` zero-padded to 4 digits. */
const COUNTER = /\{([ni])(?::(\d))?\}/g;

/** A value with the copy's counters written in, for a repeated record (`key: logs/part-{n:4}.gz`). */
function numbered(v: unknown, copy: number): unknown {
  if (typeof v === 'string') return v.replace(COUNTER, (_m, which: string, width?: string) => String(which === 'n' ? copy + 1 : copy).padStart(Number(width ?? 0), '0'));
  if (Array.isArray(v)) return v.map((x) => numbered(x, copy));
  if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, numbered(x, copy)]));
  return v;
}

/** Set `path` (dotted) in `obj`, making objects on the way. */
function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let at = obj;
  for (const p of parts.slice(0, -1)) {
    if (!isObj(at[p])) at[p] = {};
    at = at[p] as Record<string, unknown>;
  }
  at[parts[parts.length - 1] as string] = clone(value);
}

function unsetPath(obj: Record<string, unknown>, path: string): void {
  const parts = path.split('.');
  let at: unknown = obj;
  for (const p of parts.slice(0, -1)) at = isObj(at) ? at[p] : undefined;
  if (isObj(at)) delete at[parts[parts.length - 1] as string];
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** An ISO time as the access log writes it: `[10/Mar/2025:08:00:01 +0000]`; text starting with `[` as it is. */
function logTime(v: unknown): string {
  const text = String(v);
  if (text.startsWith('[')) return text;
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) throw new DetectionError(`time ${JSON.stringify(text)} is not an ISO time`);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `[${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000]`;
}

/** An access-log record as a line: `-` for no value, quotes around the quoted fields. */
export function accessLogLine(fields: Record<string, unknown>, count: number = ACCESS_LOG_FIELDS.length): string {
  return ACCESS_LOG_FIELDS.slice(0, count).map((name) => {
    const v = fields[name];
    if (name === 'time') return logTime(v);
    if (v === null || v === undefined) return '-';
    return QUOTED.has(name) ? `"${String(v)}"` : String(v);
  }).join(' ');
}

/**
 * The records of one test, in order: each entry's copies with their own
 * IDs (`T<entry>-<copy>` unless the entry sets one) and times.
 */
export function buildRecords(specs: readonly RecordSpec[]): BuiltRecord[] {
  const out: BuiltRecord[] = [];
  specs.forEach((s, entry) => {
    for (let copy = 0; copy < (s.repeat ?? 1); copy++) {
      const id = `T${entry + 1}-${copy + 1}`;
      if (s.line !== undefined) {
        out.push({ entry, copy, source: 'access_log', line: s.line });
        continue;
      }
      const r = clone(TEST_BASES[s.base as BaseName]) as Record<string, unknown>;
      const access = s.base === 'access-log';
      r[access ? 'request_id' : 'requestID'] = id;
      if (!access) r.eventID = id;
      for (const [k, v] of Object.entries(s.set)) setPath(r, k, s.repeat ? numbered(v, copy) : v);
      for (const k of s.unset ?? []) unsetPath(r, k);
      const timeKey = access ? 'time' : 'eventTime';
      const step = copy * (s.every ?? 1);
      if (step && typeof r[timeKey] === 'string') {
        const d = new Date(r[timeKey] as string);
        if (!Number.isNaN(d.getTime())) r[timeKey] = new Date(d.getTime() + step * 1000).toISOString().replace(/\.000Z$/, 'Z');
      }
      if (access) out.push({ entry, copy, source: 'access_log', line: accessLogLine(r, s.fields) });
      else out.push({ entry, copy, source: 'cloudtrail', record: r });
    }
  });
  return out;
}
