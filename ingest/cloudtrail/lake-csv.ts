/**
 * CloudTrail Lake query results exported to S3 as CSV (`result_N.csv.gz`):
 * one record per row, columns named after the record's fields (any case:
 * Lake lower-cases them). A cell holding a nested part (`userIdentity`,
 * `requestParameters`, ...) is read as JSON, or in the `{key=value, ...}`
 * form Lake prints its rows and maps in; an `eventJson` column, when the
 * query selected it, is the whole record and wins over the rest.
 */
import type { Options } from 'csv-parse';
import { Reject } from '../reject.js';
import { hasSurrogateEscape, wellFormedValue } from '../unicode.js';
import { MAX_DEPTH, TOO_DEEP } from './depth.js';

/** Record fields by their lower-cased names, to give Lake's columns and keys their CloudTrail case. */
const KNOWN = [
  // top level
  'eventVersion', 'userIdentity', 'eventTime', 'eventSource', 'eventName', 'awsRegion', 'sourceIPAddress', 'userAgent',
  'errorCode', 'errorMessage', 'requestParameters', 'responseElements', 'additionalEventData', 'requestID', 'eventID',
  'readOnly', 'resources', 'eventType', 'apiVersion', 'managementEvent', 'recipientAccountId', 'sharedEventID',
  'annotation', 'vpcEndpointId', 'vpcEndpointAccountId', 'serviceEventDetails', 'addendum', 'edgeDeviceDetails',
  'insightDetails', 'eventCategory', 'tlsDetails', 'sessionCredentialFromConsole', 'eventJson',
  // userIdentity and its parts
  'type', 'principalId', 'arn', 'accountId', 'accessKeyId', 'userName', 'invokedBy', 'sessionContext', 'sessionIssuer',
  'attributes', 'creationDate', 'mfaAuthenticated', 'webIdFederationData', 'sourceIdentity', 'identityProvider',
  'credentialId', 'onBehalfOf', 'ec2RoleDelivery', 'federatedProvider',
  // tlsDetails, resources
  'tlsVersion', 'cipherSuite', 'clientProvidedHostHeader', 'ARN',
] as const;
const CANONICAL = new Map<string, string>(KNOWN.map((k) => [k.toLowerCase(), k]));
// `arn` and `ARN` both occur; Lake's lower case maps back to `arn`, which the parser also reads in resources.
CANONICAL.set('arn', 'arn');

/** Cells that hold nested parts. */
const NESTED = new Set([
  'userIdentity', 'requestParameters', 'responseElements', 'additionalEventData', 'resources', 'serviceEventDetails',
  'addendum', 'edgeDeviceDetails', 'insightDetails', 'tlsDetails', 'annotation',
]);

/** csv-parse options for a Lake export: a header row, quoted cells, any line end. */
export const LAKE_CSV_OPTIONS: Options = { bom: true, relax_column_count: true, skip_empty_lines: false, info: true };

/** True when a header line looks like a Lake export's (a CSV header naming `eventTime` or `eventJson`). */
export function isLakeHeader(line: string): boolean {
  const names = line.split(',').map((n) => n.trim().replace(/^"|"$/g, '').toLowerCase());
  return names.length > 1 && (names.includes('eventtime') || names.includes('eventjson')) && names.every((n) => /^[a-z0-9_.]+$/.test(n));
}

/** Thrown out of a `{key=value}` cell nested deeper than any record may be, before the recursion runs out of stack. */
class TooDeep extends Error {}

/**
 * The record of one CSV row, given the header; a cell that cannot be read
 * stays text. A Reject when a cell in Lake's `{key=value}` form nests deeper
 * than a record may (JSON cells are checked with the rest of the record).
 */
export function lakeRecord(header: readonly string[], cells: readonly string[]): Record<string, unknown> | Reject {
  // No prototype: a column named `__proto__` is kept as a field.
  const rec = Object.create(null) as Record<string, unknown>;
  try {
    header.forEach((h, i) => {
      const cell = cells[i];
      if (cell === undefined || cell === '' || cell === 'null') return;
      const name = CANONICAL.get(h.toLowerCase()) ?? h;
      if (name === 'eventTime') rec[name] = lakeTime(cell);
      else if (NESTED.has(name) || name === 'eventJson') rec[name] = nested(cell);
      else rec[name] = cell;
    });
  } catch (err) {
    if (err instanceof TooDeep) return new Reject(TOO_DEEP);
    throw err;
  }
  const whole = rec.eventJson;
  if (typeof whole === 'object' && whole !== null && !Array.isArray(whole)) return whole as Record<string, unknown>;
  return rec;
}

/** Lake prints times as `2025-03-10 08:00:01.000`, in UTC. */
function lakeTime(t: string): string {
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)$/.exec(t.trim());
  return m ? `${m[1]}T${m[2]}Z` : t;
}

function nested(cell: string): unknown {
  const t = cell.trim();
  if (t[0] !== '{' && t[0] !== '[') return cell;
  try {
    const v = JSON.parse(t) as unknown;
    // An escaped half of a surrogate pair becomes U+FFFD, as in JSON files (see unicode.ts).
    return hasSurrogateEscape(t) ? wellFormedValue(v) : v;
  } catch {
    const p = new KeyValueReader(t);
    const v = p.value(0);
    return p.pos === t.length ? v : cell;
  }
}

/**
 * Reads `{key=value, key={...}, list=[a, b]}`. Plain values have no quotes,
 * so a value ends at `, ` followed by `name=` or at the closing bracket.
 */
class KeyValueReader {
  pos = 0;
  constructor(private readonly s: string) {}

  value(depth: number): unknown {
    if (depth > MAX_DEPTH) throw new TooDeep();
    const c = this.s[this.pos];
    if (c === '{') return this.map(depth);
    if (c === '[') return this.list(depth);
    return this.plain(depth);
  }

  private map(depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.pos++; // {
    while (this.pos < this.s.length && this.s[this.pos] !== '}') {
      const eq = this.s.indexOf('=', this.pos);
      if (eq < 0) break;
      const rawKey = this.s.slice(this.pos, eq).trim();
      this.pos = eq + 1;
      const v = this.value(depth + 1);
      if (v !== null) out[CANONICAL.get(rawKey.toLowerCase()) ?? rawKey] = v;
      if (this.s.startsWith(', ', this.pos)) this.pos += 2;
    }
    this.pos++; // }
    return out;
  }

  private list(depth: number): unknown[] {
    const out: unknown[] = [];
    this.pos++; // [
    while (this.pos < this.s.length && this.s[this.pos] !== ']') {
      out.push(this.value(depth + 1));
      if (this.s.startsWith(', ', this.pos)) this.pos += 2;
    }
    this.pos++; // ]
    return out;
  }

  private plain(depth: number): string | null {
    const s = this.s;
    let i = this.pos;
    for (; i < s.length; i++) {
      const c = s[i];
      if (depth > 0 && (c === '}' || c === ']')) break;
      if (c === ',' && s[i + 1] === ' ' && /^[A-Za-z0-9_.-]+=|^[{[]/.test(s.slice(i + 2, i + 130))) break;
    }
    const v = s.slice(this.pos, i);
    this.pos = i;
    return v === 'null' ? null : v;
  }
}
