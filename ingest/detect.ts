/**
 * Tells the formats apart by content, not by name: the first record that is
 * not blank decides (JSON, or a CloudTrail Lake CSV header, is CloudTrail).
 */
import { AccessLogScan } from './access-log/scan.js';
import { bomLength } from './bytes.js';
import { isLakeHeader } from './cloudtrail/lake-csv.js';

export type Format = 'access-log' | 'cloudtrail';
export type Detected = Format | 'unknown';

/** The format of content starting with `head` (decompressed bytes). */
export function detectFormat(head: Buffer): Detected {
  let s = bomLength(head);
  while (s < head.length) {
    let e = head.indexOf(10, s);
    if (e < 0) e = head.length;
    let i = s;
    while (i < e && (head[i] === 32 || head[i] === 9 || head[i] === 13)) i++;
    if (i < e) {
      const c = head[i];
      if (c === 0x7b || c === 0x5b) return 'cloudtrail'; // { or [
      if (isLakeHeader(head.toString('utf8', i, e))) return 'cloudtrail'; // a CloudTrail Lake CSV export
      // A line cut by the end of `head` may be a record that goes on.
      return new AccessLogScan().scan(head, i, e) ? 'access-log' : 'unknown';
    }
    s = e + 1;
  }
  return 'unknown';
}
