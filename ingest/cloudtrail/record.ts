/**
 * Pure parser of one CloudTrail record: a parsed JSON object in, a row of the
 * `cloudtrail` table (or a Reject, or a Skip) out. No I/O here: the readers
 * in this folder find the records in files, envelopes and CSV exports.
 *
 * Field meanings: https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html
 * S3 fields: https://docs.aws.amazon.com/AmazonS3/latest/userguide/cloudtrail-logging-understanding-s3-entries.html
 */
import { Reject } from '../reject.js';
import { deeperThan, MAX_DEPTH, TOO_DEEP } from './depth.js';

/** A record passed over on purpose (counted as skipped, never rejected). */
export class Skip {
  constructor(readonly reason: string) {}
}

/** One parsed record: every `cloudtrail` column except `source_file`/`source_line`. */
export interface CloudTrailRow {
  /** NULL when the record's `eventTime` is there but not a time (it is then kept in `other_fields`). */
  event_time: Date | null;
  event_id: string | null;
  event_name: string;
  event_source: string | null;
  event_type: string | null;
  event_category: string | null;
  event_version: string | null;
  aws_region: string | null;
  source_ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  read_only: boolean | null;
  management_event: boolean | null;
  error_code: string | null;
  error_message: string | null;
  recipient_account_id: string | null;
  vpc_endpoint_id: string | null;
  user_type: string | null;
  principal_id: string | null;
  user_arn: string | null;
  user_account_id: string | null;
  access_key_id: string | null;
  user_name: string | null;
  invoked_by: string | null;
  session_issuer_arn: string | null;
  mfa_authenticated: boolean | null;
  bucket: string | null;
  key: string | null;
  version_id: string | null;
  sse_requested: string | null;
  sse_kms_key_id: string | null;
  sse_customer_algorithm: string | null;
  sse_applied: string | null;
  auth_method: string | null;
  signature_version: string | null;
  cipher_suite: string | null;
  tls_version: string | null;
  bytes_in: number | null;
  bytes_out: number | null;
  host_id: string | null;
  presigned_expires_s: number | null;
  request_parameters: string | null;
  response_elements: string | null;
  additional_event_data: string | null;
  resources: string | null;
  host_header: string | null;
  session_issuer_account_id: string | null;
  shared_event_id: string | null;
  user_identity: string | null;
  other_fields: string | null;
}

type Obj = Record<string, unknown>;

/** Top-level fields that have a column of their own; the rest go to `other_fields`. */
export const LIFTED: ReadonlySet<string> = new Set([
  'eventTime', 'eventID', 'eventName', 'eventSource', 'eventType', 'eventCategory', 'eventVersion', 'awsRegion',
  'sourceIPAddress', 'userAgent', 'requestID', 'readOnly', 'managementEvent', 'errorCode', 'errorMessage',
  'recipientAccountId', 'vpcEndpointId', 'userIdentity', 'requestParameters', 'responseElements',
  'additionalEventData', 'resources', 'sharedEventID',
]);

/** The event version major this parser reads; later minors only add fields. */
const MAJOR_VERSION = 1;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A text value: strings as they are (empty is NULL), numbers and booleans as text. */
function asText(v: unknown): string | null {
  if (typeof v === 'string') return v === '' ? null : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return null;
}

/** A boolean from `true`/`false` or their strings (`mfaAuthenticated` is a string). */
function bool(v: unknown): boolean | null {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const l = v.toLowerCase();
    if (l === 'true') return true;
    if (l === 'false') return false;
  }
  return null;
}

/** Largest value of an INTEGER column. */
const INT32_MAX = 2 ** 31 - 1;

/**
 * An integer from a number (CloudTrail writes byte counts as `51.0`) or a
 * string of digits; NULL past `max` either way, so one hostile value cannot
 * fail the cast of a whole Parquet file (it stays in the record's JSON).
 * BIGINT columns take `Number.MAX_SAFE_INTEGER`: past it the number is not exact.
 */
function int(v: unknown, max: number): number | null {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isFinite(n)) return null;
  const r = Math.round(n);
  return Math.abs(r) <= max ? r : null;
}

/** JSON text of a nested part, NULL when absent or `null`. */
function json(v: unknown): string | null {
  return v === undefined || v === null ? null : JSON.stringify(v);
}

/** `o[name]`, else the first key equal to it ignoring case (`Key`/`key`, `Host`/`host`, `ARN`/`arn`). */
function field(o: unknown, name: string): unknown {
  if (!isObj(o)) return undefined;
  const v = o[name];
  if (v !== undefined) return v;
  const lower = name.toLowerCase();
  for (const k in o) if (k.toLowerCase() === lower) return o[k];
  return undefined;
}

/** A string, or the first string of an array (`Host` is either). */
function first(v: unknown): string | null {
  return Array.isArray(v) ? asText(v[0]) : asText(v);
}

/** True for the services whose records name S3 buckets and keys. */
function isS3(source: string | null): boolean {
  return source !== null && (source.startsWith('s3.') || source.startsWith('s3express.') || source.startsWith('s3-outposts.'));
}

/** Bucket and key of an `arn:<partition>:s3:::bucket[/key]` resource ARN. */
function s3Arn(arn: string | null): { bucket: string; key: string | null } | null {
  if (arn === null) return null;
  const m = /^arn:[\w-]+:s3:::([^/]+)(?:\/(.*))?$/s.exec(arn);
  if (!m) return null;
  return { bucket: m[1] as string, key: m[2] === undefined || m[2] === '' ? null : m[2] };
}

/** Bucket and key named by the record's S3 resources (object resources name both). */
function fromResources(resources: unknown): { bucket: string | null; key: string | null } {
  let bucket: string | null = null;
  let key: string | null = null;
  if (!Array.isArray(resources)) return { bucket, key };
  for (const r of resources) {
    const type = asText(field(r, 'type'));
    const arn = s3Arn(asText(field(r, 'ARN')));
    if (!arn) continue;
    if (type === 'AWS::S3::Object' && key === null) {
      key = arn.key;
      bucket ??= arn.bucket;
    } else if (type === 'AWS::S3::Bucket') bucket ??= arn.bucket;
  }
  return { bucket, key };
}

/** The JSON columns and the record fields they keep whole (`other_fields` keeps the rest). */
export const JSON_COLUMNS = {
  request_parameters: 'requestParameters',
  response_elements: 'responseElements',
  additional_event_data: 'additionalEventData',
  resources: 'resources',
  user_identity: 'userIdentity',
} as const;

/** 0001-01-01 and 9999-12-31T23:59:59.999Z: the days a `date=YYYY-MM-DD` partition can name. */
const FIRST_MS = Date.parse('0001-01-01T00:00:00Z');
const LAST_MS = Date.parse('9999-12-31T23:59:59.999Z');

/**
 * Epoch milliseconds of an `eventTime`, NaN when it is not a time or its
 * year is not 0001-9999: `Date.parse` also reads `+275760-09-13T00:00:00Z`,
 * whose partition folder (`date=+275760-09`) no reader could cast to a DATE.
 */
function timeMs(text: string): number {
  const ms = Date.parse(text);
  return ms >= FIRST_MS && ms <= LAST_MS ? ms : NaN;
}

export interface ParseOptions {
  /**
   * Serialise the nested parts into the JSON columns (default true). The
   * bulk path passes false and copies them from the bytes it read instead,
   * having checked their depth there (`objectSpans`).
   */
  nestedJson?: boolean;
}

/**
 * Parse one CloudTrail record. Rejects a record that is not an object, is
 * nested deeper than MAX_DEPTH levels, has no usable `eventTime` or
 * `eventName`, or whose event version has another major number; skips
 * CloudTrail Insights records.
 */
export function parseCloudTrailRecord(rec: unknown, opts: ParseOptions = {}): CloudTrailRow | Reject | Skip {
  const asJson = opts.nestedJson === false ? (): null => null : json;
  if (!isObj(rec)) return new Reject(`not a CloudTrail record: a JSON ${Array.isArray(rec) ? 'array' : rec === null ? 'null' : typeof rec}, not an object`);
  if (opts.nestedJson !== false && deeperThan(rec, MAX_DEPTH)) return new Reject(TOO_DEEP);
  const version = asText(rec.eventVersion);
  if (version !== null) {
    const major = Number(version.split('.')[0]);
    if (major !== MAJOR_VERSION) return new Reject(`eventVersion ${version}: this version of s3sift reads CloudTrail event versions ${MAJOR_VERSION}.x`);
  }
  if (rec.eventCategory === 'Insight' || rec.eventType === 'AwsCloudTrailInsight') return new Skip('CloudTrail Insights record');
  const timeText = asText(rec.eventTime);
  if (timeText === null) return new Reject('eventTime: missing');
  // A time that is there but unreadable (Panther's tests say "redacted") keeps
  // the record, timeless, in the NULL date partition; the text goes to other_fields.
  const ms = timeMs(timeText);
  const eventName = asText(rec.eventName);
  if (eventName === null) return new Reject('eventName: missing');

  const ui = isObj(rec.userIdentity) ? rec.userIdentity : {};
  const ctx = isObj(ui.sessionContext) ? ui.sessionContext : null;
  const issuer = ctx && isObj(ctx.sessionIssuer) ? ctx.sessionIssuer : {};
  const attrs = ctx && isObj(ctx.attributes) ? ctx.attributes : {};
  const req = rec.requestParameters;
  const extra = rec.additionalEventData;
  const tls = rec.tlsDetails;
  const source = asText(rec.eventSource);

  let bucket: string | null = null;
  let key: string | null = null;
  let versionId: string | null = null;
  if (isS3(source)) {
    bucket = asText(field(req, 'bucketName'));
    key = asText(field(req, 'key'));
    versionId = asText(field(req, 'versionId'));
    if (bucket === null || key === null) {
      const r = fromResources(rec.resources);
      bucket ??= r.bucket;
      // A key from the resources only when it is the same bucket's object.
      if (key === null && r.bucket === bucket) key = r.key;
    }
  }

  let other: Obj | null = null;
  if (opts.nestedJson !== false) {
    for (const k in rec) {
      if (LIFTED.has(k) && !(k === 'eventTime' && Number.isNaN(ms))) continue;
      // No prototype: a field named `__proto__` is kept as a field, as the bytes path keeps it.
      (other ??= Object.create(null) as Obj)[k] = rec[k];
    }
  }

  return {
    event_time: Number.isNaN(ms) ? null : new Date(ms),
    event_id: asText(rec.eventID),
    event_name: eventName,
    event_source: source,
    event_type: asText(rec.eventType),
    event_category: asText(rec.eventCategory),
    event_version: version,
    aws_region: asText(rec.awsRegion),
    source_ip: asText(rec.sourceIPAddress),
    user_agent: asText(rec.userAgent),
    request_id: asText(rec.requestID),
    read_only: bool(rec.readOnly),
    management_event: bool(rec.managementEvent),
    error_code: asText(rec.errorCode),
    error_message: asText(rec.errorMessage),
    recipient_account_id: asText(rec.recipientAccountId),
    vpc_endpoint_id: asText(rec.vpcEndpointId),
    user_type: asText(ui.type),
    principal_id: asText(ui.principalId),
    user_arn: asText(ui.arn),
    user_account_id: asText(ui.accountId),
    access_key_id: asText(ui.accessKeyId),
    user_name: asText(ui.userName) ?? asText(issuer.userName),
    invoked_by: asText(ui.invokedBy),
    session_issuer_arn: asText(issuer.arn),
    mfa_authenticated: ctx ? bool(attrs.mfaAuthenticated) : null,
    bucket,
    key,
    version_id: versionId,
    sse_requested: asText(field(req, 'x-amz-server-side-encryption')),
    sse_kms_key_id: asText(field(req, 'x-amz-server-side-encryption-aws-kms-key-id')),
    sse_customer_algorithm: asText(field(req, 'x-amz-server-side-encryption-customer-algorithm')),
    sse_applied: asText(field(extra, 'SSEApplied')),
    auth_method: asText(field(extra, 'AuthenticationMethod')),
    signature_version: asText(field(extra, 'SignatureVersion')),
    cipher_suite: asText(field(extra, 'CipherSuite')) ?? asText(field(tls, 'cipherSuite')),
    tls_version: asText(field(tls, 'tlsVersion')),
    bytes_in: int(field(extra, 'bytesTransferredIn'), Number.MAX_SAFE_INTEGER),
    bytes_out: int(field(extra, 'bytesTransferredOut'), Number.MAX_SAFE_INTEGER),
    host_id: asText(field(extra, 'x-amz-id-2')),
    presigned_expires_s: int(field(req, 'X-Amz-Expires'), INT32_MAX),
    request_parameters: asJson(req),
    response_elements: asJson(rec.responseElements),
    additional_event_data: asJson(extra),
    resources: asJson(rec.resources),
    host_header: asText(field(tls, 'clientProvidedHostHeader')) ?? first(field(req, 'Host')),
    session_issuer_account_id: asText(issuer.accountId),
    shared_event_id: asText(rec.sharedEventID),
    user_identity: asJson(rec.userIdentity),
    other_fields: asJson(other),
  };
}

/**
 * What one JSON value found in a file holds: a record itself, a
 * `{"Records": [...]}` log file, an EventBridge envelope (record in
 * `detail`), or an array of any of these. Each item of the answer is a
 * record to parse, or a Reject or Skip standing for one that is not (a
 * digest file is one Skip; an EventBridge event of another type one Reject).
 */
export function recordsOf(value: unknown): unknown[] {
  if (Array.isArray(value)) return value.map(unwrap);
  if (isObj(value) && Array.isArray(value.Records)) return value.Records;
  return [unwrap(value)];
}

function unwrap(v: unknown): unknown {
  if (!isObj(v)) return v;
  if ('digestStartTime' in v && 'logFiles' in v) return new Skip('CloudTrail digest file');
  if ('detail-type' in v && 'detail' in v) {
    // "AWS API Call via CloudTrail", "AWS Console Sign In via CloudTrail", ...
    const type = asText(v['detail-type']) ?? '';
    if (/ via CloudTrail$/.test(type) && isObj(v.detail)) return v.detail;
    return new Reject(`an EventBridge event of type ${JSON.stringify(v['detail-type'])}, not a CloudTrail record`);
  }
  return v;
}
