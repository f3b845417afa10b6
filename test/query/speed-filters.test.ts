import { describe, expect, it } from 'vitest';
import { runDetectionTest, type TestOutcome } from '../../query/detection-tests.js';
import { loadDetections, type Detection, type DetectionTest } from '../../query/detection.js';
import { buildRecords, type RecordSpec } from '../../query/test-records.js';

/**
 * A speed filter (`management_event IS NOT FALSE`, which lets DuckDB skip
 * the data-event files) must never change what a detection finds: the
 * detection's tests give the same findings without it, also with their
 * records written as the data events AWS logs them as, and no query that
 * has it looks for a call AWS logs as a data event (PutObjectAcl is one:
 * filtered so, a public object was never seen).
 */
const FILTER = /\bAND (?:\w+\.)?management_event IS NOT FALSE\b/g;

/** S3 calls CloudTrail logs as data events (object-level APIs), from AWS's list of S3 data events. */
const DATA_EVENTS = [
  'GetObject', 'HeadObject', 'PutObject', 'PostObject', 'CopyObject', 'DeleteObject', 'DeleteObjects', 'PutObjectAcl', 'GetObjectAcl', 'PutObjectTagging',
  'GetObjectTagging', 'DeleteObjectTagging', 'PutObjectRetention', 'GetObjectRetention', 'PutObjectLegalHold', 'GetObjectLegalHold', 'RestoreObject',
  'CreateMultipartUpload', 'UploadPart', 'UploadPartCopy', 'CompleteMultipartUpload', 'AbortMultipartUpload', 'ListParts', 'ListObjects',
  'ListObjectsV2', 'ListObjectVersions', 'ListMultipartUploads', 'SelectObjectContent', 'GetObjectAttributes', 'GetObjectTorrent',
];

/** Does AWS log the CloudTrail record a spec builds as a data event? */
function loggedAsDataEvent(spec: RecordSpec): boolean {
  if (spec.line !== undefined || spec.base === 'access-log') return false;
  const built = buildRecords([{ ...spec, repeat: undefined }])[0];
  if (built?.source !== 'cloudtrail') return false;
  const { eventSource, eventName } = built.record as { eventSource?: string; eventName?: string };
  return eventSource === 's3.amazonaws.com' && DATA_EVENTS.includes(eventName ?? '');
}

/** The test with its data-event calls written as AWS logs them (managementEvent false, category Data); undefined when it has none. */
function asDataEvents(t: DetectionTest): DetectionTest | undefined {
  const records = t.records ?? [];
  if (!records.some(loggedAsDataEvent)) return undefined;
  return {
    ...t,
    name: `${t.name} (data events as AWS logs them)`,
    records: records.map((r) => (loggedAsDataEvent(r) ? { ...r, set: { ...r.set, managementEvent: false, eventCategory: 'Data' } } : r)),
  };
}

/** What a run found, findings in full but for the scratch folder's name. */
function found(o: TestOutcome): { error?: string; fired: string[]; findings: string[] } {
  return { error: o.error, fired: o.fired, findings: o.findings.map(({ source_file: _file, evidence, ...f }) => JSON.stringify({ ...f, evidence: evidence.map(({ source_file: _f, ...e }) => e) })).sort() };
}

/** The detection's findings on each test (and each test as data events), with its SQL as given. */
async function outcomes(d: Detection): Promise<Array<[string, ReturnType<typeof found>]>> {
  const tests = [...d.tests, ...d.tests.map(asDataEvents).filter((t): t is DetectionTest => t !== undefined)];
  const out: Array<[string, ReturnType<typeof found>]> = [];
  for (const t of tests) out.push([t.name, found(await runDetectionTest(d, t))]);
  return out;
}

const withoutFilter = (d: Detection): Detection => ({ ...d, sql: d.sql.replace(FILTER, '') });
/** The data-event calls the queries that have a filter look for. */
const dataEventNames = (d: Detection): string[] =>
  [...d.sql.matchAll(FILTER)].flatMap((f) => [...filteredQuery(d.sql, f.index).matchAll(/'([A-Za-z]+)'/g)].map((m) => m[1] as string)).filter((n) => DATA_EVENTS.includes(n));

const library = await loadDetections();
const filtered = library.filter((d) => d.sql.match(FILTER));

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
    it(`${d.id}: looks for no data event, and finds the same in its tests without the filter, also with the data events as AWS logs them`, async () => {
      expect(dataEventNames(d)).toEqual([]);
      const unfiltered = withoutFilter(d);
      expect(unfiltered.sql).not.toMatch(/management_event IS NOT FALSE/);
      expect(unfiltered.sql).not.toBe(d.sql);
      const [a, b] = [await outcomes(d), await outcomes(unfiltered)];
      for (const [name, o] of b) expect([name, o.error]).toEqual([name, undefined]);
      expect(a).toEqual(b);
    }, 60_000);
  }

  it('would catch a filter that hides data events: bucket-acl-public with one would miss PutObjectAcl', async () => {
    const d = library.find((x) => x.id === 'bucket-acl-public');
    expect(d).toBeDefined();
    const spoiled = { ...d!, sql: d!.sql.replace("WHERE event_source = 's3.amazonaws.com' AND error_code IS NULL", "WHERE event_source = 's3.amazonaws.com' AND error_code IS NULL AND management_event IS NOT FALSE") };
    expect(spoiled.sql.match(FILTER)).toHaveLength(1);
    // Both checks see it: the call names in the SQL, and the findings without the filter.
    expect(dataEventNames(spoiled)).toContain('PutObjectAcl');
    const [a, b] = [await outcomes(spoiled), await outcomes(withoutFilter(spoiled))];
    expect(a).not.toEqual(b);
    const firedOn = (o: Array<[string, ReturnType<typeof found>]>): string[] => o.flatMap(([, x]) => x.fired);
    expect(firedOn(b)).toContain('object-acl-grant');
    expect(firedOn(a)).not.toContain('object-acl-grant');
    // A test that wrote the call on the management-event base would pass with the filter: its data-event form does not.
    const t: DetectionTest = { name: 'written as a management event', records: [{ base: 's3-management-event', label: 'm', set: { eventName: 'PutObjectAcl', 'requestParameters.x-amz-acl': 'public-read' } }], fires: ['m'] };
    expect((await runDetectionTest(spoiled, t)).fired).toEqual(['m']);
    expect((await runDetectionTest(spoiled, asDataEvents(t)!)).fired).toEqual([]);
    expect((await runDetectionTest(withoutFilter(spoiled), asDataEvents(t)!)).fired).toEqual(['m']);
  }, 60_000);
});

/**
 * DuckDB 1.5 takes `col IN ('a', 'b')` on a Parquet scan only as a hint for
 * skipping row groups, and decodes every column of every row before testing
 * it; `contains(ARRAY['a', 'b'], col)` is tested inside the scan (at 10M
 * events bucket-website-changed took 0.5 s with IN lists, 0.04 s with
 * contains). The two give the same answer, NULL for a NULL value included,
 * on DuckDB and on Athena (Trino's contains is NULL for a NULL element too).
 */
describe('literal lists are tested with contains(ARRAY[...], x), which the Parquet scan applies', () => {
  const LITERAL_IN = /\bIN\s*\(\s*'/i;
  for (const d of library) {
    it(`${d.id}: no IN ('...') list in its SQL or coverage SQL`, () => {
      expect(LITERAL_IN.test(d.sql) ? d.sql.split('\n').filter((l) => LITERAL_IN.test(l)) : []).toEqual([]);
      const coverage = d.coverageAsWritten ?? '';
      expect(LITERAL_IN.test(coverage) ? coverage.split('\n').filter((l) => LITERAL_IN.test(l)) : []).toEqual([]);
    });
  }

  it('contains gives what IN gives, NOT and NULL included', async () => {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const conn = await (await DuckDBInstance.create(':memory:')).connect();
    const rows = (await conn.runAndReadAll(`SELECT x, x IN ('a', 'b') AS i, contains(ARRAY['a', 'b'], x) AS c, x NOT IN ('a', 'b') AS ni, NOT contains(ARRAY['a', 'b'], x) AS nc
      FROM (VALUES ('a'), ('c'), (NULL)) t (x) ORDER BY x NULLS LAST`)).getRowObjects();
    for (const r of rows) expect([r.x, r.c, r.nc]).toEqual([r.x, r.i, r.ni]);
    expect(rows.map((r) => r.c)).toEqual([true, false, null]);
    conn.closeSync();
  });
});
