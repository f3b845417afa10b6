/**
 * Writes a scanned access-log line as one staging row, in the column order
 * of the `access_log` declaration (see `staging.ts` for how each column type
 * is staged). The round-trip test checks that rows staged here read back
 * through DuckDB exactly as `parseAccessLogLine` returns them.
 *
 * A line whose fields hold no tab, carriage return or SOH (nearly every
 * line) is staged from its own bytes: copied once, then compacted in place
 * (runs of fields one space apart kept in one piece, the spaces between
 * them made tabs); a field that is `-` is staged as `-` and read back as
 * NULL (`DASH_IS_NULL`). Other lines are staged field by field, quoted
 * where needed. Which way a line goes changes no value: the scanner alone
 * decides what the line holds.
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

/**
 * Staged columns where `-` means NULL: every field copied as logged (the
 * scanner takes an empty or `-` field as NULL; no non-NULL field is `-`).
 */
export const DASH_IS_NULL: readonly string[] = STAGED_ORDER.slice(0, KNOWN_FIELDS).filter(
  (c) => c !== 'event_time' && c !== 'acl_required',
);

const SPACE = Uint8Array.of(32);
const TAB = 9;
const CR = 13;
const SOH = 1;

/** Room to reserve for a line of `n` bytes (quoting may double it). */
export function rowBound(n: number): number {
  return 2 * n + 256;
}

/**
 * Tells whether a line holds a byte the staging format would have to quote
 * (tab, carriage return, SOH), finding each such byte once per buffer.
 */
export class PlainLines {
  private buf: Uint8Array | null = null;
  private from = -1;
  private tab = -2;
  private cr = -2;
  private soh = -2;

  /** True when bytes [s, e) of `b` hold no tab, carriage return or SOH. */
  plain(b: Buffer, s: number, e: number): boolean {
    // A new buffer, or the same one read again from an earlier offset: look afresh.
    if (b !== this.buf || s <= this.from) {
      this.buf = b;
      this.tab = this.cr = this.soh = -2;
    }
    this.from = s;
    if (this.tab !== -1 && this.tab < s) this.tab = b.indexOf(TAB, s);
    if (this.cr !== -1 && this.cr < s) this.cr = b.indexOf(CR, s);
    if (this.soh !== -1 && this.soh < s) this.soh = b.indexOf(SOH, s);
    return (this.tab < 0 || this.tab >= e) && (this.cr < 0 || this.cr >= e) && (this.soh < 0 || this.soh >= e);
  }
}

/**
 * Append the staging row for a line scanned by `s` from `b`. With `lines`,
 * a line whose fields hold no tab, carriage return or SOH has them copied
 * as they are; without, every field is checked and quoted as needed.
 */
export function stageAccessLogRow(w: TsvWriter, b: Buffer, s: AccessLogScan, fileIdx: number, line: number, lines?: PlainLines): void {
  // The known fields end where the last one does (a trailing CR is not in it).
  if (lines?.plain(b, s.start[0] as number, s.end[s.fields - 1] as number)) stagePlainFields(w, b, s);
  else stageQuotedFields(w, b, s);
  stageDerived(w, b, s, fileIdx, line);
}

/** The 27 fields' columns, each field's bytes checked and quoted when needed. */
function stageQuotedFields(w: TsvWriter, b: Uint8Array, s: AccessLogScan): void {
  const { start: S, end: E } = s;
  for (let i = 0; i < KNOWN_FIELDS; i++) {
    if (i > 0) w.tab();
    if (i === F.event_time) w.int(s.time);
    else if (i === F.acl_required) {
      if (s.acl !== ACL_ABSENT) w.ascii(s.acl === ACL_YES ? 'true' : 'false');
    } else if (!s.isNull(i, b)) w.bytes(b, S[i] as number, E[i] as number);
  }
}

/**
 * The 27 fields' columns of a plain line. The line is copied once, then
 * compacted in place: fields one space apart form a run that stays one
 * piece (moved left over the brackets and quotes dropped before it), the
 * spaces between its fields overwritten with tabs. Writing never overtakes
 * reading: each tab takes a separator's place and the time's 13 to 15 digits
 * take the 28 bytes of `[dd/Mon/yyyy:hh:mm:ss +zzzz]`, more than
 * acl_required's `true` and `false` add over `Yes` and `-`.
 */
function stagePlainFields(w: TsvWriter, b: Buffer, s: AccessLogScan): void {
  const { start: S, end: E } = s;
  const n = s.fields;
  const out = w.buf;
  const from = S[0] as number;
  // The line's bytes sit at out[base + (x - from)] until moved.
  const base = w.len;
  b.copy(out, base, from, E[n - 1] as number);
  let o = base;
  // The open run: bytes [rs, re) of the line, fields rf..rl.
  let rs = -1;
  let re = 0;
  let rf = 0;
  let rl = 0;
  for (let i = 0; i <= KNOWN_FIELDS; i++) {
    const copied = i < n && i !== F.event_time && i !== F.acl_required;
    const si = S[i] as number;
    if (copied && rs >= 0 && si === re + 1) {
      re = E[i] as number;
      rl = i;
      continue;
    }
    if (rs >= 0) {
      const at = base + rs - from;
      if (o !== at) out.copyWithin(o, at, at + re - rs);
      for (let k = rf; k < rl; k++) out[o + (E[k] as number) - rs] = TAB;
      o += re - rs;
      rs = -1;
    }
    if (i === KNOWN_FIELDS) break;
    if (i > 0) out[o++] = TAB;
    if (copied) {
      rs = si;
      re = E[i] as number;
      rf = rl = i;
    } else if (i === F.event_time) {
      w.len = o;
      w.int(s.time);
      o = w.len;
    } else if (i === F.acl_required && s.acl !== ACL_ABSENT) {
      w.len = o;
      w.ascii(s.acl === ACL_YES ? 'true' : 'false');
      o = w.len;
    }
  }
  w.len = o;
}

/** extra_fields, the derived columns, source_file and source_line. */
function stageDerived(w: TsvWriter, b: Uint8Array, s: AccessLogScan, fileIdx: number, line: number): void {
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
  if (s.methodEnd >= 0) w.bytes(b, s.start[F.request_uri] as number, s.methodEnd);
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
