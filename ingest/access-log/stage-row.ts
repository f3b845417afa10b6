/**
 * Writes a scanned access-log line as one staging row, in the column order
 * of the `access_log` declaration (see `staging.ts` for how each column type
 * is staged). The round-trip test checks that rows staged here read back
 * through DuckDB exactly as `parseAccessLogLine` returns them.
 */
import type { TsvWriter } from '../tsv-writer.js';
import { ACL_ABSENT, ACL_YES, type AccessLogScan, F, KNOWN_FIELDS } from './scan.js';

/** The staged columns, in order: the 27 fields' columns, then derived ones. */
export const STAGED_ORDER = [
  'bucket_owner', 'bucket', 'event_time', 'remote_ip', 'requester', 'request_id', 'operation', 'key',
  'request_uri', 'http_status', 'error_code', 'bytes_sent', 'object_size', 'total_time_ms',
  'turnaround_time_ms', 'referrer', 'user_agent', 'version_id', 'host_id', 'signature_version',
  'cipher_suite', 'auth_type', 'host_header', 'tls_version', 'access_point_arn', 'acl_required',
  'source_region', 'extra_fields', 'http_method', 'presigned_expires_s', 'field_count', 'source_file', 'source_line',
] as const;

const SPACE = Uint8Array.of(32);

/** Room to reserve for a line of `n` bytes (quoting may double it). */
export function rowBound(n: number): number {
  return 2 * n + 256;
}

/** Append the staging row for a line scanned by `s` from `b`. */
export function stageAccessLogRow(w: TsvWriter, b: Uint8Array, s: AccessLogScan, fileIdx: number, line: number): void {
  const { start: S, end: E } = s;
  for (let i = 0; i < KNOWN_FIELDS; i++) {
    if (i > 0) w.tab();
    if (i === F.event_time) w.int(s.time);
    else if (i === F.acl_required) {
      if (s.acl !== ACL_ABSENT) w.ascii(s.acl === ACL_YES ? 'true' : 'false');
    } else if (!s.isNull(i, b)) w.bytes(b, S[i] as number, E[i] as number);
  }
  // extra_fields: the tokens joined by single spaces (they hold no spaces).
  w.tab();
  const n = s.extraStart.length;
  if (n === 1) w.bytes(b, s.extraStart[0] as number, s.extraEnd[0] as number);
  else if (n > 1) {
    const parts: Uint8Array[] = [];
    for (let k = 0; k < n; k++) parts.push(b.subarray(s.extraStart[k], s.extraEnd[k]), SPACE);
    const joined = Buffer.concat(parts.slice(0, -1));
    w.bytes(joined, 0, joined.length);
  }
  w.tab();
  if (s.methodEnd >= 0) w.bytes(b, S[F.request_uri] as number, s.methodEnd);
  w.tab();
  if (!Number.isNaN(s.expires)) w.int(s.expires);
  w.tab();
  w.int(s.fields + s.extraFields);
  w.tab();
  w.int(fileIdx);
  w.tab();
  w.int(line);
  w.newline();
}
