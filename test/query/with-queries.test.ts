import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { DetectionError } from '../../common/errors.js';
import { openDataset } from '../../query/dataset.js';
import { compareCoverage, compareFindings, paramsFor, runCoverage, runDetection, runDetections, selectDetections, sharedWith, sourceCoverage, sourcesPresent, sourcesRead, sourcesSql } from '../../query/detect.js';
import { datasetFor } from '../../query/detection-tests.js';
import { loadDetections, validateDetection, type Detection, type DetectionTest } from '../../query/detection.js';
import { rowsOf } from '../../query/rows.js';

/**
 * A detection's `with:` queries (docs/detections.md): named queries its SQL
 * and its coverage SQL both read. Athena, and a detection's own tests, run
 * them in front of each as WITH queries; a DuckDB run computes each once,
 * as a temporary table, and must answer the same.
 */
const library = await loadDetections();
const users = library.filter((d) => d.with !== undefined);

describe('with: queries', () => {
  let dir: string;
  let data: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 's3sift-with-'));
    // A month of alice's reads from her usual network, then a new bucket from a new network, 1.2 GB.
    data = await datasetFor(
      {
        name: 'baseline',
        expect: 0,
        records: [
          { base: 'access-log', repeat: 40, every: 86400, set: { bucket: 'other-data', time: '2025-02-01T08:00:00Z' } },
          { base: 's3-data-event', repeat: 20, every: 86400, set: { eventTime: '2025-02-21T08:30:00Z' } },
          { base: 'access-log', repeat: 3, every: 300, set: { bucket: 'payroll', time: '2025-03-13T09:00:00Z', remote_ip: '198.51.100.7', bytes_sent: 400000000 } },
          { base: 'access-log', repeat: 3, every: 86400, set: { requester: 'arn:aws:iam::111122223333:user/new-hire', time: '2025-03-11T09:00:00Z' } },
        ],
      } as unknown as DetectionTest,
      dir,
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('are used by the detections whose SQL and coverage SQL shared a copy of the same queries, or whose coverage SQL reads fewer records with one computed first', () => {
    expect(users.map((d) => d.id).sort()).toEqual(['bucket-enumeration', 'cross-account-access', 'first-access-to-bucket', 'new-network-for-principal', 'read-volume-over-baseline']);
    for (const d of users) {
      // As run by Athena and by the detection's tests: every with: query in front, as written.
      for (const w of d.with ?? []) {
        expect(d.sql).toContain(w.sql);
        expect(d.coverage).toContain(w.sql);
      }
      expect(d.sqlAsWritten).toBeDefined();
      expect(d.sqlAsWritten).not.toContain((d.with ?? [])[0]?.sql);
    }
  });

  it('computed once as tables by a DuckDB run answer as the queries in front of each, and are dropped after', async () => {
    const ds = await openDataset(data);
    try {
      const inFront = { findings: [] as Awaited<ReturnType<typeof runDetection>>, coverage: [] as Awaited<ReturnType<typeof runCoverage>> };
      for (const d of users) {
        inFront.findings.push(...(await runDetection(ds.conn, d, paramsFor(d))));
        inFront.coverage.push(...(await runCoverage(ds.conn, d, paramsFor(d))));
      }
      const run = await runDetections(ds, users);
      expect(run.findings.length).toBeGreaterThan(0);
      expect(run.coverage.length).toBeGreaterThan(0);
      expect(run.findings).toEqual(inFront.findings.sort(compareFindings));
      expect(run.coverage).toEqual(inFront.coverage.sort(compareCoverage));
      const names = users.flatMap((d) => (d.with ?? []).map((w) => `'${w.name}'`));
      expect((await ds.conn.runAndReadAll(`SELECT table_name FROM information_schema.tables WHERE table_name IN (${names.join(', ')})`)).getRows()).toEqual([]);
    } finally {
      ds.close();
    }
  }, 60_000);

  it('written alike by two detections (the same name, SQL and values, after the same queries) are computed once for both, and only those', () => {
    const pair = selectDetections(library, ['first-access-to-bucket', 'new-network-for-principal']);
    const share = sharedWith(pair, new Map(pair.map((d) => [d.id, paramsFor(d)])));
    // request_days only: both also have a data query of the same text, but it reads their own, different, grouped.
    expect([...share.shared].map((k) => (JSON.parse(k) as unknown[])[1])).toEqual(['request_days']);
    const other = { ...(pair[1] as Detection), with: (pair[1] as Detection).with?.map((w) => (w.name === 'request_days' ? { ...w, sql: `${w.sql}\n` } : w)) };
    expect(sharedWith([pair[0] as Detection, other], new Map(pair.map((d) => [d.id, paramsFor(d)]))).shared.size).toBe(0);
  });

  it('computed once for two detections answer as each computing its own, the shared table empty too (a window with no requests, history before it)', async () => {
    const pair = selectDetections(library, ['first-access-to-bucket', 'new-network-for-principal']);
    for (const window of [{}, { since: new Date('2025-03-20T00:00:00Z') }]) {
      const ds = await openDataset(data, window);
      try {
        const own = { findings: [] as Awaited<ReturnType<typeof runDetection>>, coverage: [] as Awaited<ReturnType<typeof runCoverage>> };
        const present = sourcesPresent(sourcesRead(pair), rowsOf(await ds.conn.runAndReadAll(sourcesSql(sourcesRead(pair)))));
        for (const d of pair) {
          own.findings.push(...(await runDetection(ds.conn, d, paramsFor(d))));
          own.coverage.push(...sourceCoverage(d, present, ds.window), ...(await runCoverage(ds.conn, d, paramsFor(d))));
        }
        const run = await runDetections(ds, pair);
        expect(run.findings).toEqual(own.findings.sort(compareFindings));
        expect(run.coverage).toEqual(own.coverage.sort(compareCoverage));
        if ('since' in window) {
          // The window holds no requests: request_days is empty, and the history before it is judged against nothing.
          expect(Number((await ds.conn.runAndReadAll('SELECT count(*) FROM s3_requests')).getRows()[0]?.[0])).toBe(0);
          expect(Number((await ds.conn.runAndReadAll('SELECT count(*) FROM s3_requests_history')).getRows()[0]?.[0])).toBeGreaterThan(0);
        } else expect(run.findings.length).toBeGreaterThan(0);
      } finally {
        ds.close();
      }
    }
  }, 60_000);

  it('are checked with the SQL before anything runs: one that is not a SELECT stops the run, naming the file', async () => {
    const ds = await openDataset(data);
    try {
      const d = selectDetections(users, ['first-access-to-bucket'])[0] as Detection;
      const evil = validateDetection({ ...rawOf(d), with: { ...rawOf(d).with as object, seen: "SELECT 1 AS x; COPY (SELECT 1) TO '/tmp/x.csv'" } }, '/rules/first-access-to-bucket.yaml');
      await expect(runDetections(ds, [evil])).rejects.toThrow(DetectionError);
      await expect(runDetections(ds, [evil])).rejects.toThrow(/\/rules\/first-access-to-bucket\.yaml: the SQL/);
    } finally {
      ds.close();
    }
  });
});

/** A library detection's file as parsed YAML. */
function rawOf(d: Detection): Record<string, unknown> {
  return parseYaml(readFileSync(d.file, 'utf8')) as Record<string, unknown>;
}

describe('the with key of a detection file', () => {
  const d = library.find((x) => x.id === 'first-access-to-bucket') as Detection;
  const raw = rawOf(d);
  const file = '/rules/first-access-to-bucket.yaml';
  const doc = (over: Record<string, unknown>): Record<string, unknown> => ({ ...raw, ...over });

  it('is read in order, and put in front of the SQL and the coverage SQL', () => {
    const v = validateDetection(raw, file);
    expect(v.with?.map((w) => w.name)).toEqual(['request_days', 'grouped', 'data', 'days', 'gaps', 'seen']);
    expect(v.sql.indexOf('grouped AS (')).toBeLessThan(v.sql.indexOf('seen AS ('));
    expect(v.sql.indexOf('seen AS (')).toBeLessThan(v.sql.indexOf('hits AS ('));
    expect(v.sqlAsWritten).toBe(raw.sql);
    expect(v.coverageAsWritten).toBe(raw.coverage);
  });

  it('refuses names that are not snake_case or that s3sift gives, text that is not SQL, parameters not declared, and with without coverage', () => {
    const w = raw.with as Record<string, string>;
    expect(() => validateDetection(doc({ with: { 'Bad-Name': 'SELECT 1' } }), file)).toThrow(/with Bad-Name: names are snake_case/);
    for (const name of ['s3_requests', 'access_log', 'cloudtrail', 's3_requests_history', 'bucket_sources', 'access_log_only']) {
      expect(() => validateDetection(doc({ with: { [name]: 'SELECT 1' } }), file)).toThrow(new RegExp(`with ${name}: the name of a table or relation s3sift provides`));
    }
    expect(() => validateDetection(doc({ with: { seen: ['SELECT 1'] } }), file)).toThrow(/with seen: must be SQL text/);
    expect(() => validateDetection(doc({ with: [] }), file)).toThrow(/with must be a mapping of name: SQL/);
    expect(() => validateDetection(doc({ with: { ...w, extra: 'SELECT $nope AS x' } }), file)).toThrow(/uses \$nope but params does not declare it/);
    expect(() => validateDetection(doc({ with: { ...w, extra: 'SELECT * FROM bucket_sources' } }), file)).toThrow(/with extra: reads bucket_sources, which only coverage SQL reads/);
    const { coverage: _, ...noCoverage } = raw;
    expect(() => validateDetection(noCoverage, file)).toThrow(/with is for queries sql and coverage both read/);
  });
});
