import { describe, expect, it } from 'vitest';
import { runDetectionTest } from '../../query/detection-tests.js';
import { loadDetections, type Detection } from '../../query/detection.js';

/**
 * A speed filter (`management_event IS NOT FALSE`, which lets DuckDB skip
 * the data-event files) must never change what a detection finds: the
 * detection's tests give the same findings without it, and no detection
 * that has it looks for a call AWS logs as a data event (PutObjectAcl is
 * one: filtered so, a public object was never seen).
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

describe('speed filters never change what a detection finds', () => {
  it('are in the library (the test below has something to check)', () => {
    expect(filtered.length).toBeGreaterThan(5);
  });

  for (const d of filtered) {
    it(`${d.id}: looks for no data event, and finds the same in its tests without the filter`, async () => {
      const names = [...d.sql.matchAll(/'([A-Za-z]+)'/g)].map((m) => m[1] as string);
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
