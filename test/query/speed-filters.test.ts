import { describe, expect, it } from 'vitest';
import { runDetectionTest } from '../../query/detection-tests.js';
import { loadDetections, type Detection } from '../../query/detection.js';

/**
 * A speed filter (`management_event IS NOT FALSE`, which lets DuckDB skip
 * the data-event files) must never change what a detection finds: the
 * detection's tests give the same findings without it, and no query that
 * has it looks for a call AWS logs as a data event (PutObjectAcl is one:
 * filtered so, a public object was never seen).
 */
const FILTER = /\bAND (?:\w+\.)?management_event IS NOT FALSE\b/g;

/** S3 calls CloudTrail logs as data events (object-level APIs), from AWS's list of S3 data events. */
const DATA_EVENTS = [
  'GetObject', 'HeadObject', 'PutObject', 'CopyObject', 'DeleteObject', 'DeleteObjects', 'PutObjectAcl', 'GetObjectAcl', 'PutObjectTagging',
  'GetObjectTagging', 'DeleteObjectTagging', 'PutObjectRetention', 'GetObjectRetention', 'PutObjectLegalHold', 'GetObjectLegalHold', 'RestoreObject',
  'CreateMultipartUpload', 'UploadPart', 'UploadPartCopy', 'CompleteMultipartUpload', 'AbortMultipartUpload', 'ListParts', 'ListObjects',
  'ListObjectsV2', 'ListObjectVersions', 'ListMultipartUploads', 'SelectObjectContent', 'GetObjectAttributes', 'GetObjectTorrent',
];

const filtered = (await loadDetections()).filter((d) => d.sql.match(FILTER));

/**
 * The query a filter at `at` belongs to: its enclosing parentheses (a CTE or
 * a subquery), then the UNION branch it is in. Other queries of the same
 * detection may read data events unfiltered.
 */
function filteredQuery(sql: string, at: number): string {
  let start = 0;
  let end = sql.length;
  for (let i = at, depth = 0; i >= 0; i--) {
    if (sql[i] === ')') depth++;
    else if (sql[i] === '(' && depth-- === 0) {
      start = i + 1;
      break;
    }
  }
  for (let i = at, depth = 0; i < sql.length; i++) {
    if (sql[i] === '(') depth++;
    else if (sql[i] === ')' && depth-- === 0) {
      end = i;
      break;
    }
  }
  const block = sql.slice(start, end);
  const branches = block.split(/\bUNION(?: ALL)?\b/);
  let offset = start;
  for (const b of branches) {
    if (at < offset + b.length) return b;
    offset += b.length + (/^UNION ALL/.test(sql.slice(offset + b.length)) ? 'UNION ALL'.length : 'UNION'.length);
  }
  return block;
}

describe('speed filters never change what a detection finds', () => {
  it('are in the library (the test below has something to check)', () => {
    expect(filtered.length).toBeGreaterThan(5);
  });

  it('are judged query by query: a filtered one that looks for a data event is caught', () => {
    const sql = "WITH a AS (SELECT * FROM cloudtrail WHERE event_name IN ('PutBucketAcl') AND management_event IS NOT FALSE\n  UNION ALL SELECT * FROM cloudtrail WHERE event_name = 'PutObject')\n" +
      "SELECT * FROM cloudtrail WHERE event_name = 'PutObjectAcl' AND management_event IS NOT FALSE";
    const [first, second] = [...sql.matchAll(FILTER)].map((m) => filteredQuery(sql, m.index));
    expect(first).toMatch(/'PutBucketAcl'/);
    expect(first).not.toMatch(/'PutObject'/);
    expect(second).toMatch(/'PutObjectAcl'/);
  });

  for (const d of filtered) {
    it(`${d.id}: looks for no data event, and finds the same in its tests without the filter`, async () => {
      const queries = [...d.sql.matchAll(FILTER)].map((m) => filteredQuery(d.sql, m.index));
      const names = queries.flatMap((q) => [...q.matchAll(/'([A-Za-z]+)'/g)].map((m) => m[1] as string));
      expect(names.filter((n) => DATA_EVENTS.includes(n))).toEqual([]);
      const unfiltered: Detection = { ...d, sql: d.sql.replace(FILTER, '') };
      expect(unfiltered.sql).not.toMatch(/management_event IS NOT FALSE/);
      expect(unfiltered.sql).not.toBe(d.sql);
      for (const t of d.tests) {
        const [a, b] = [await runDetectionTest(d, t), await runDetectionTest(unfiltered, t)];
        expect([t.name, b.error, b.got, b.fired]).toEqual([t.name, undefined, a.got, a.fired]);
      }
    }, 30_000);
  }
});
