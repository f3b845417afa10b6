/**
 * Pure parser of one S3 server access log line: a string in, a record or a
 * Reject out. Built on the byte scanner, so it splits exactly as ingest does.
 */
import { Reject } from '../reject.js';
import { ACL_ABSENT, ACL_YES, AccessLogScan, F, text } from './scan.js';

/** One parsed record: every `access_log` column except `source_file`/`source_line`. */
export interface AccessLogRecord {
  bucket_owner: string | null;
  bucket: string | null;
  event_time: Date;
  remote_ip: string | null;
  requester: string | null;
  request_id: string | null;
  operation: string | null;
  key: string | null;
  request_uri: string | null;
  http_status: number | null;
  error_code: string | null;
  bytes_sent: number | null;
  object_size: number | null;
  total_time_ms: number | null;
  turnaround_time_ms: number | null;
  referrer: string | null;
  user_agent: string | null;
  version_id: string | null;
  host_id: string | null;
  signature_version: string | null;
  cipher_suite: string | null;
  auth_type: string | null;
  host_header: string | null;
  tls_version: string | null;
  access_point_arn: string | null;
  acl_required: boolean | null;
  source_region: string | null;
  extra_fields: string[];
  http_method: string | null;
  presigned_expires_s: number | null;
  field_count: number;
}

const scanner = new AccessLogScan();

/**
 * Parse one access-log line (without its line end; a trailing `\r` and
 * trailing blanks are ignored). Returns the record, or a Reject whose reason
 * names the field that did not parse.
 */
export function parseAccessLogLine(line: string): AccessLogRecord | Reject {
  const b = Buffer.from(line, 'utf8');
  const s = scanner;
  if (!s.scan(b, 0, b.length)) return new Reject(s.reason);
  const fieldText = (i: number): string | null => (s.isNull(i, b) ? null : text(b, s.start[i] as number, s.end[i] as number));
  const fieldNumber = (i: number): number | null => {
    const v = s.num[i] as number;
    return Number.isNaN(v) ? null : v;
  };
  const extra: string[] = [];
  for (let i = 0; i < s.extraStart.length; i++) extra.push(text(b, s.extraStart[i] as number, s.extraEnd[i] as number));
  return {
    bucket_owner: fieldText(F.bucket_owner),
    bucket: fieldText(F.bucket),
    event_time: new Date(s.time),
    remote_ip: fieldText(F.remote_ip),
    requester: fieldText(F.requester),
    request_id: fieldText(F.request_id),
    operation: fieldText(F.operation),
    key: fieldText(F.key),
    request_uri: fieldText(F.request_uri),
    http_status: fieldNumber(F.http_status),
    error_code: fieldText(F.error_code),
    bytes_sent: fieldNumber(F.bytes_sent),
    object_size: fieldNumber(F.object_size),
    total_time_ms: fieldNumber(F.total_time_ms),
    turnaround_time_ms: fieldNumber(F.turnaround_time_ms),
    referrer: fieldText(F.referrer),
    user_agent: fieldText(F.user_agent),
    version_id: fieldText(F.version_id),
    host_id: fieldText(F.host_id),
    signature_version: fieldText(F.signature_version),
    cipher_suite: fieldText(F.cipher_suite),
    auth_type: fieldText(F.auth_type),
    host_header: fieldText(F.host_header),
    tls_version: fieldText(F.tls_version),
    access_point_arn: fieldText(F.access_point_arn),
    acl_required: s.acl === ACL_ABSENT ? null : s.acl === ACL_YES,
    source_region: fieldText(F.source_region),
    extra_fields: extra,
    http_method: s.methodEnd < 0 ? null : text(b, s.start[F.request_uri] as number, s.methodEnd),
    presigned_expires_s: Number.isNaN(s.expires) ? null : s.expires,
    field_count: s.fields + s.extraFields,
  };
}

