/**
 * The access-log scanner: finds the fields of one line in a byte buffer and
 * validates the typed ones, without allocating. Both the string parser
 * (`parseAccessLogLine`) and the bulk ingest path (`tsv.ts`) are built on it,
 * so there is one definition of how a line splits.
 *
 * Format: https://docs.aws.amazon.com/AmazonS3/latest/userguide/LogFormat.html
 * Space-delimited; the time is bracketed and holds a space; request-URI,
 * referrer and user agent are quoted but never escaped, so a quote inside
 * them is literal. Records have 18 to 27 fields (fields were appended over
 * the years) and AWS may append more.
 */
import * as bytes from '../bytes.js';

/** Field positions in log order (0-based). */
export const F = {
  bucket_owner: 0, bucket: 1, event_time: 2, remote_ip: 3, requester: 4, request_id: 5, operation: 6,
  key: 7, request_uri: 8, http_status: 9, error_code: 10, bytes_sent: 11, object_size: 12,
  total_time_ms: 13, turnaround_time_ms: 14, referrer: 15, user_agent: 16, version_id: 17, host_id: 18,
  signature_version: 19, cipher_suite: 20, auth_type: 21, host_header: 22, tls_version: 23,
  access_point_arn: 24, acl_required: 25, source_region: 26,
} as const;

/** Field names in log order, for reject reasons. */
export const FIELD_NAMES = Object.keys(F) as (keyof typeof F)[];

/** Fewest fields a record may have (through `version_id`). */
export const MIN_FIELDS = 18;
/** Fields documented today; later ones go to `extra_fields`. */
export const KNOWN_FIELDS = 27;
/**
 * Fields after the 27th kept in `extra_fields`; `field_count` still counts
 * them all. AWS adds a field every few years: a line with hundreds is not a
 * record AWS wrote, and keeping them all cost gigabytes (a 2 MB line holds a
 * million one-letter fields).
 */
export const MAX_EXTRA_FIELDS = 32;

export const INT_MAX = 2147483647;

/** Longer lines are not records (S3 caps request lines and headers far below this). */
export const MAX_RECORD_BYTES = 4 << 20;

/** Numeric fields and the largest value each column type holds. */
const NUMERIC: ReadonlyArray<[number, number]> = [
  [F.http_status, 999],
  [F.bytes_sent, Number.MAX_SAFE_INTEGER],
  [F.object_size, Number.MAX_SAFE_INTEGER],
  [F.total_time_ms, INT_MAX],
  [F.turnaround_time_ms, INT_MAX],
];

// Module-local copies, read as fast as literals (see bytes.ts).
const { DASH, DOUBLE_QUOTE, SPACE } = bytes;

/** acl_required: the record has no such field / `-` / `Yes`. */
export const ACL_ABSENT = 0;
export const ACL_NO = 1;
export const ACL_YES = 2;

/**
 * The result of scanning one line, reused from line to line. Field `i` spans
 * bytes `[start[i], end[i])` of the buffer, without quotes or brackets.
 */
export class AccessLogScan {
  readonly start = new Int32Array(KNOWN_FIELDS);
  readonly end = new Int32Array(KNOWN_FIELDS);
  /** Known fields present (18..27). */
  fields = 0;
  /** Fields after the 27th: their starts and ends (the first MAX_EXTRA_FIELDS of them). */
  readonly extraStart: number[] = [];
  readonly extraEnd: number[] = [];
  /** Fields after the 27th, kept or not. */
  extraFields = 0;
  /** event_time in epoch milliseconds (UTC). */
  time = 0;
  /** Numeric field values by field index; NaN is NULL. */
  readonly num = new Float64Array(KNOWN_FIELDS);
  acl = ACL_ABSENT;
  /** End of the HTTP method inside request_uri, or -1 when there is none. */
  methodEnd = -1;
  /** X-Amz-Expires of a SigV4 pre-signed request-URI; NaN when none. */
  expires = NaN;
  /** Why the line was rejected, when scan returned false. */
  reason = '';

  /** True when field `i` is absent, empty or `-`. */
  isNull(i: number, b: Uint8Array): boolean {
    if (i >= this.fields) return true;
    const s = this.start[i] as number;
    const len = (this.end[i] as number) - s;
    return len === 0 || (len === 1 && b[s] === DASH);
  }

  private fail(reason: string): false {
    this.reason = reason;
    return false;
  }

  /** Reject for a record that ended after `seen` fields. */
  tooFew(seen: number): false {
    const missing = FIELD_NAMES[seen] ?? 'version_id';
    return this.fail(`not an access-log record: ${seen} fields, at least ${MIN_FIELDS} needed (${missing} missing)`);
  }

  /**
   * Scan bytes `[from, to)` of `b` (one line, without its `\n`; a trailing
   * `\r` and trailing blanks are ignored). True when the line is a record;
   * false with `reason` set otherwise.
   */
  scan(b: Uint8Array, from: number, to: number): boolean {
    let end = to;
    while (end > from) {
      const c = b[end - 1];
      if (c === SPACE || c === 13 || c === 9) end--;
      else break;
    }
    if (end === from) return this.fail('blank line');
    if (end - from > MAX_RECORD_BYTES) {
      return this.fail(`not an access-log record: ${end - from} bytes long, more than any record can be (${MAX_RECORD_BYTES})`);
    }
    this.fields = 0;
    this.extraStart.length = 0;
    this.extraEnd.length = 0;
    this.extraFields = 0;
    this.acl = ACL_ABSENT;
    this.methodEnd = -1;
    this.expires = NaN;
    this.num.fill(NaN);
    const { start: S, end: E } = this;
    // No closure captures `p`, so it can stay in a register rather than a heap context.
    let p = from;

    p = token(b, p, end, S, E, F.bucket_owner);
    if (p >= end) return this.tooFew(1);
    p = token(b, p, end, S, E, F.bucket);
    if (p >= end) return this.tooFew(2);

    // [06/Feb/2019:00:00:38 +0000]
    if (b[p] !== 91) return this.fail('event_time: expected [dd/Mon/yyyy:hh:mm:ss +zzzz]');
    let close = p + 1;
    while (close < end && b[close] !== 93) close++;
    if (close >= end) return this.fail('event_time: "[" never closes with "]"');
    const time = parseLogTime(b, p, close + 1);
    if (Number.isNaN(time)) {
      return this.fail(`event_time: ${JSON.stringify(text(b, p, Math.min(close + 1, p + 40)))} is not [dd/Mon/yyyy:hh:mm:ss +zzzz]`);
    }
    this.time = time;
    S[F.event_time] = p + 1;
    E[F.event_time] = close;
    p = close + 1;
    while (p < end && b[p] === SPACE) p++;

    for (let i = F.remote_ip; i <= F.key; i++) {
      if (p >= end) return this.tooFew(i);
      p = token(b, p, end, S, E, i);
    }
    if (p >= end) return this.tooFew(F.request_uri);

    // request_uri: the closing quote is the one after `HTTP/x.y`, or else the
    // one followed by a status, so a raw quote inside the URI does not end it.
    if (b[p] === DOUBLE_QUOTE) {
      const q = closeQuote(b, p, end, CLOSES_URI, -1);
      if (q < 0) return this.fail(`request_uri: quote opened at byte ${p - from + 1} never closes`);
      S[F.request_uri] = p + 1;
      E[F.request_uri] = q;
      p = q + 1;
      while (p < end && b[p] === SPACE) p++;
    } else p = token(b, p, end, S, E, F.request_uri);

    for (let i = F.http_status; i <= F.turnaround_time_ms; i++) {
      if (p >= end) return this.tooFew(i);
      p = token(b, p, end, S, E, i);
    }

    // referrer: closes where the user agent's quote opens (`" "`).
    if (p >= end) return this.tooFew(F.referrer);
    if (b[p] === DOUBLE_QUOTE) {
      const q = closeQuote(b, p, end, CLOSES_REFERRER, -1);
      if (q < 0) return this.fail(`referrer: quote opened at byte ${p - from + 1} never closes`);
      S[F.referrer] = p + 1;
      E[F.referrer] = q;
      p = q + 1;
      while (p < end && b[p] === SPACE) p++;
    } else p = token(b, p, end, S, E, F.referrer);

    // user_agent: closes where the unquoted tail begins: at the first quote
    // whose tail reads as version_id host_id signature_version ... (so quotes
    // inside the agent are kept), else at the last quote of the line.
    if (p >= end) return this.tooFew(F.user_agent);
    if (b[p] === DOUBLE_QUOTE) {
      let last = end - 1;
      while (last > p && b[last] !== DOUBLE_QUOTE) last--;
      // The last quote, when it closes a field, is always accepted, so the
      // first-candidate fallback only applies when it does not.
      const q = closeQuote(b, p, end, CLOSES_AGENT, last);
      if (q < 0) return this.fail(`user_agent: quote opened at byte ${p - from + 1} never closes`);
      S[F.user_agent] = p + 1;
      E[F.user_agent] = q;
      p = q + 1;
      while (p < end && b[p] === SPACE) p++;
    } else p = token(b, p, end, S, E, F.user_agent);

    if (p >= end) return this.tooFew(F.version_id);
    let n = F.version_id;
    while (p < end && n < KNOWN_FIELDS) p = token(b, p, end, S, E, n++);
    this.fields = n;
    while (p < end) {
      const kept = this.extraFields++ < MAX_EXTRA_FIELDS;
      if (kept) this.extraStart.push(p);
      while (p < end && b[p] !== SPACE) p++;
      if (kept) this.extraEnd.push(p);
      while (p < end && b[p] === SPACE) p++;
    }

    for (const [i, max] of NUMERIC) {
      const v = parseCount(b, S[i] as number, E[i] as number);
      if (v === -2) return this.fail(`${FIELD_NAMES[i]}: ${JSON.stringify(text(b, S[i] as number, Math.min(E[i] as number, (S[i] as number) + 40)))} is not a number`);
      if (v > max) return this.fail(`${FIELD_NAMES[i]}: ${text(b, S[i] as number, E[i] as number)} is out of range`);
      this.num[i] = v === -1 ? NaN : v;
    }

    if (n > F.acl_required) {
      const s = S[F.acl_required] as number;
      const len = (E[F.acl_required] as number) - s;
      if (len === 1 && b[s] === DASH) this.acl = ACL_NO;
      else if (len === 3 && b[s] === 89 && b[s + 1] === 101 && b[s + 2] === 115) this.acl = ACL_YES;
      else return this.fail(`acl_required: expected Yes or -, got ${JSON.stringify(text(b, s, Math.min(s + len, s + 40)))}`);
    }

    if (!this.isNull(F.request_uri, b)) this.deriveFromUri(b, S[F.request_uri] as number, E[F.request_uri] as number);
    return true;
  }

  /** http_method and presigned expiry from the request line `GET /k?q HTTP/1.1`. */
  private deriveFromUri(b: Uint8Array, s: number, e: number): void {
    let i = s;
    while (i < e && b[i]! >= 65 && b[i]! <= 90) i++;
    if (i > s && i < e && b[i] === SPACE) this.methodEnd = i;
    // The query runs from the first `?` to the next space.
    let q = this.methodEnd < 0 ? s : this.methodEnd + 1;
    while (q < e && b[q] !== 63 && b[q] !== SPACE) q++;
    if (q >= e || b[q] !== 63) return;
    for (let k = q; k < e && b[k] !== SPACE; k++) {
      if ((b[k] === 63 || b[k] === 38) && matchesExpires(b, k + 1, e)) {
        let v = 0;
        let j = k + 1 + EXPIRES.length;
        const d0 = j;
        while (j < e && b[j]! >= 48 && b[j]! <= 57 && j - d0 < 11) v = v * 10 + (b[j++]! - 48);
        const terminated = j >= e || b[j] === 38 || b[j] === SPACE;
        if (j > d0 && terminated && v <= INT_MAX) this.expires = v;
        return;
      }
    }
  }
}

const EXPIRES = 'x-amz-expires=';

function matchesExpires(b: Uint8Array, at: number, e: number): boolean {
  if (at + EXPIRES.length > e) return false;
  for (let i = 0; i < EXPIRES.length; i++) {
    let c = b[at + i] as number;
    if (c >= 65 && c <= 90) c += 32;
    if (c !== EXPIRES.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Field `i` is the token at `p` (it runs to the next space; runs of spaces
 * separate): its bounds go to S[i] and E[i]; returns where the next begins.
 */
function token(b: Uint8Array, p: number, end: number, S: Int32Array, E: Int32Array, i: number): number {
  S[i] = p;
  while (p < end && b[p] !== SPACE) p++;
  E[i] = p;
  while (p < end && b[p] === SPACE) p++;
  return p;
}

/** Which quote `closeQuote` takes as the end of a field. */
const CLOSES_URI = 0;
const CLOSES_REFERRER = 1;
const CLOSES_AGENT = 2;

/**
 * Index of the quote closing the field opened at `open`: the first quote
 * followed by a space or the line end that the field's rule (`rule`) takes;
 * when it takes none, the first such quote; -1 when there is none. The
 * rules: request_uri closes after `HTTP/x.y` or before a status; referrer
 * where the user agent's quote opens (`" "`); user_agent at the line's last
 * quote (`last`) or where the tail after it reads right.
 */
function closeQuote(b: Uint8Array, open: number, end: number, rule: number, last: number): number {
  let first = -1;
  for (let q = open + 1; q < end; q++) {
    if (b[q] !== DOUBLE_QUOTE) continue;
    if (q + 1 === end || b[q + 1] === SPACE) {
      const accepted =
        rule === CLOSES_URI ? endsWithHttpVersion(b, open + 1, q) || statusAhead(b, q + 1, end)
        : rule === CLOSES_REFERRER ? b[q + 2] === DOUBLE_QUOTE
        : q === last || tailLooksRight(b, q + 1, end);
      if (accepted) return q;
      if (first < 0) first = q;
    }
  }
  return first;
}

/** True when bytes before `q` end with `HTTP/d` or `HTTP/d.d`. */
function endsWithHttpVersion(b: Uint8Array, from: number, q: number): boolean {
  let i = q - 1;
  if (i >= from && isDigit(b[i])) {
    i--;
    if (i >= from && b[i] === 46) {
      i--;
      if (!(i >= from && isDigit(b[i]))) return false;
      i--;
    }
    return i - 4 >= from && b[i] === 47 && b[i - 1] === 80 && b[i - 2] === 84 && b[i - 3] === 84 && b[i - 4] === 72;
  }
  return false;
}

/**
 * True when the fields from `at` read like the tail after the user agent:
 * the third is a signature version and the fifth, if any, an auth type.
 */
function tailLooksRight(b: Uint8Array, at: number, end: number): boolean {
  const starts: number[] = [];
  const ends: number[] = [];
  let i = at;
  while (i < end && starts.length < 5) {
    while (i < end && b[i] === SPACE) i++;
    if (i >= end) break;
    starts.push(i);
    while (i < end && b[i] !== SPACE) {
      if (b[i] === DOUBLE_QUOTE) return false;
      i++;
    }
    ends.push(i);
  }
  if (starts.length < 3) return starts.length > 0 && i >= end;
  const is = (k: number, word: string): boolean => {
    const s = starts[k] as number;
    if ((ends[k] as number) - s !== word.length) return false;
    for (let j = 0; j < word.length; j++) if (b[s + j] !== word.charCodeAt(j)) return false;
    return true;
  };
  if (!(is(2, 'SigV4') || is(2, 'SigV2') || is(2, '-'))) return false;
  return starts.length < 5 || is(4, 'AuthHeader') || is(4, 'QueryString') || is(4, '-');
}

/** True when `at` starts ` 200 ` or ` - ` (the status field after the URI). */
function statusAhead(b: Uint8Array, at: number, end: number): boolean {
  if (b[at] !== SPACE) return false;
  if (b[at + 1] === DASH) return at + 2 === end || b[at + 2] === SPACE;
  return isDigit(b[at + 1]) && isDigit(b[at + 2]) && isDigit(b[at + 3]) && (at + 4 === end || b[at + 4] === SPACE);
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 48 && c <= 57;
}

/** A count field: -1 for NULL (`-` or empty), -2 when not digits, else the value. */
function parseCount(b: Uint8Array, s: number, e: number): number {
  if (e === s || (e - s === 1 && b[s] === DASH)) return -1;
  if (e - s > 16) return -2;
  let v = 0;
  for (let i = s; i < e; i++) {
    const c = (b[i] as number) - 48;
    if (c < 0 || c > 9) return -2;
    v = v * 10 + c;
  }
  return v;
}

const MONTHS: Record<string, number> = {
  Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11,
};

// One-entry cache: consecutive records share a minute more often than not.
let cacheKey = -1;
let cacheBase = 0;

/** `[06/Feb/2019:00:00:38 +0000]` at b[s..e) to epoch ms in UTC, or NaN. */
function parseLogTime(b: Uint8Array, s: number, e: number): number {
  if (e - s !== 28 || b[s + 27] !== 93) return NaN;
  const d = (at: number, n: number): number => {
    let v = 0;
    for (let i = at; i < at + n; i++) {
      const c = (b[s + i] as number) - 48;
      if (c < 0 || c > 9) return -1;
      v = v * 10 + c;
    }
    return v;
  };
  if (b[s + 3] !== 47 || b[s + 7] !== 47 || b[s + 12] !== 58 || b[s + 15] !== 58 || b[s + 18] !== 58 || b[s + 21] !== SPACE) return NaN;
  const day = d(1, 2);
  const year = d(8, 4);
  const hour = d(13, 2);
  const min = d(16, 2);
  const sec = d(19, 2);
  const sign = b[s + 22];
  const tzh = d(23, 2);
  const tzm = d(25, 2);
  if (day < 1 || day > 31 || year < 0 || hour < 0 || hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 60) return NaN;
  if (tzh < 0 || tzh > 23 || tzm < 0 || tzm > 59 || (sign !== 43 && sign !== 45)) return NaN;
  const monthKey = (b[s + 4] as number) * 65536 + (b[s + 5] as number) * 256 + (b[s + 6] as number);
  // Cache the start of the (local) day: the date part rarely changes.
  const key = (year * 32 + day) * 16777216 + monthKey;
  let base: number;
  if (key === cacheKey) base = cacheBase;
  else {
    const month = MONTHS[String.fromCharCode(b[s + 4] as number, b[s + 5] as number, b[s + 6] as number)];
    if (month === undefined) return NaN;
    base = Date.UTC(year, month, day);
    if (new Date(base).getUTCDate() !== day) return NaN; // 31/Feb and friends
    cacheKey = key;
    cacheBase = base;
  }
  const offset = (tzh * 60 + tzm) * 60000;
  const local = base + ((hour * 60 + min) * 60 + sec) * 1000;
  return sign === 43 ? local - offset : local + offset;
}

const decoder = new TextDecoder();

/** Bytes as text (for messages and the string parser). */
export function text(b: Uint8Array, s: number, e: number): string {
  return decoder.decode(b.subarray(s, e));
}
