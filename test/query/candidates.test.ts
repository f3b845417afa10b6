import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetectionError } from '../../common/errors.js';
import { columnsNamed, MIN_DETECTIONS, scanCandidates } from '../../query/candidates.js';
import { openDataset, type OpenDataset } from '../../query/dataset.js';
import { checkDetectionSql, runDetection, runDetections } from '../../query/detect.js';
import { datasetFor, runDetectionTest } from '../../query/detection-tests.js';
import { loadDetections, validateDetection, type Detection, type DetectionTest } from '../../query/detection.js';
import { parseRecordSpec } from '../../query/test-records.js';
import { lockToTables } from '../../query/untrusted-sql.js';

/**
 * A detection's `candidates:` (docs/detections.md): the access-log rows its
 * SQL reads. A DuckDB run with several such detections reads the table once
 * for all of them and gives each its own rows only; the answer must be the
 * one every row gives.
 */
const library = await loadDetections();
const users = library.filter((d) => d.candidates !== undefined);
const without = (d: Detection): Detection => {
  const { candidates: _, ...rest } = d;
  return rest;
};

const byId = (id: string): Detection => users.find((d) => d.id === id) as Detection;
const rows = async (ds: OpenDataset, sql: string): Promise<unknown[]> => (await ds.conn.runAndReadAll(sql)).getRows();

/** A rule of the detection file format, with `over` replacing its keys. */
function rule(over: Record<string, unknown>): Record<string, unknown> {
  return {
    id: 'x', title: 'x', description: 'x', severity: 'low', sources: ['access_log'],
    sql: "SELECT event_time, 'access_log' AS source, bucket, \"key\", requester AS principal, remote_ip AS source_ip, request_id, CAST(NULL AS VARCHAR) AS event_id, source_file, source_line FROM access_log WHERE signature_version = 'SigV2'",
    tests: [
      { name: 'SigV2 fires', records: [{ base: 'access-log', signature_version: 'SigV2' }], fires: [1] },
      { name: 'SigV4 is quiet', records: [{ base: 'access-log' }], fires: [] },
    ],
    ...over,
  };
}

describe('candidates', () => {
  let dir: string;
  let data: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 's3sift-candidates-'));
    // Requests of each kind the library's candidates name, among ordinary ones, from both sources.
    const records = [
          { base: 'access-log', repeat: 30, every: 60 },
          { base: 'access-log', signature_version: 'SigV2' },
          { base: 'access-log', requester: 'arn:aws:iam::111122223333:root' },
          { base: 'access-log', repeat: 12, every: 5, http_status: 403, error_code: 'AccessDenied', requester: null, remote_ip: '198.51.100.7' },
          { base: 'access-log', repeat: 3, every: 5, operation: 'REST.DELETE.OBJECT', request_uri: 'DELETE /prod-data/reports/q1.csv HTTP/1.1' },
          { base: 'access-log', tls_version: 'TLSv1.1' },
          { base: 's3-data-event', repeat: 5, every: 60 },
          { base: 's3-data-event', errorCode: 'AccessDenied' },
          { base: 's3-management-event', eventName: 'PutBucketVersioning', 'requestParameters.VersioningConfiguration': { Status: 'Suspended' } },
          { base: 's3-management-event', eventName: 'DeleteBucketEncryption' },
    ].map((r, i) => parseRecordSpec(r, `record ${i + 1}`));
    data = await datasetFor({ name: 'mixed', expect: 0, records } as DetectionTest, dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  /** `fn` over a fresh opening of the dataset, closed after. */
  const onData = async (fn: (ds: OpenDataset) => Promise<void>): Promise<void> => {
    const ds = await openDataset(data);
    try {
      await fn(ds);
    } finally {
      ds.close();
    }
  };

  it('are declared by per-record detections of the library; on CloudTrail by event name alone, which the shared scan tests first', () => {
    expect(users.filter((d) => d.candidates?.access_log !== undefined).length).toBeGreaterThanOrEqual(MIN_DETECTIONS);
    const onTrail = users.filter((d) => d.candidates?.cloudtrail !== undefined);
    expect(onTrail.length).toBeGreaterThanOrEqual(MIN_DETECTIONS);
    // A condition on another column too would keep the whole scan from testing event_name first: every column of every record read.
    for (const d of onTrail) expect(d.candidates?.cloudtrail, d.id).toMatch(/^(event_name = '[A-Za-z]+'|contains\(ARRAY\['[A-Za-z]+'(, '[A-Za-z]+')*\], event_name\))$/);
  });

  it('a run that scans them once answers as every detection reading the whole table, and drops what it made', async () => {
    await onData(async (ds) => {
      const shared = await runDetections(ds, users);
      const alone = await runDetections(ds, users.map(without));
      expect(shared.findings.length).toBeGreaterThan(3);
      expect(JSON.stringify(shared.findings)).toBe(JSON.stringify(alone.findings));
      expect(JSON.stringify(shared.coverage)).toBe(JSON.stringify(alone.coverage));
      const left = await rows(ds, "SELECT table_name FROM information_schema.tables WHERE table_name LIKE '_s3sift_candidates_%' OR table_schema = 'main' AND table_catalog = 'temp'");
      expect(left).toEqual([]);
      // The tables are the whole tables again.
      expect(await rows(ds, 'SELECT count(*) FROM access_log')).toEqual([[48n]]);
      expect(shared.findings.map((f) => f.detection_id)).toEqual(expect.arrayContaining(['versioning-suspended', 'default-encryption-removed', 'sigv2-request', 'access-denied-burst']));
    });
  });

  it("give each detection its own rows only, through the table's name and s3_requests", async () => {
    await onData(async (ds) => {
      const sigv2 = byId('sigv2-request');
      const scan = await scanCandidates(ds.conn, users);
      await scan.narrowed(sigv2, async () => {
        expect(await rows(ds, 'SELECT signature_version, count(*) FROM access_log GROUP BY ALL')).toEqual([['SigV2', 1n]]);
        expect(await rows(ds, "SELECT count(*) FROM s3_requests WHERE source = 'access_log'")).toEqual([[1n]]);
        expect(await rows(ds, "SELECT count(*) FROM s3_requests WHERE source = 'cloudtrail'")).toEqual([[8n]]);
      });
      expect(await rows(ds, 'SELECT count(*) FROM access_log')).toEqual([[48n]]);
      const versioning = byId('versioning-suspended');
      await scan.narrowed(versioning, async () => {
        expect(await rows(ds, 'SELECT event_name, count(*) FROM cloudtrail GROUP BY ALL')).toEqual([['PutBucketVersioning', 1n]]);
        expect(await rows(ds, 'SELECT count(*) FROM access_log')).toEqual([[48n]]);
      });
      expect(await rows(ds, 'SELECT count(*) FROM cloudtrail')).toEqual([[8n]]);
      // A detection's SQL that fails leaves the tables whole all the same.
      await expect(scan.narrowed(sigv2, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
      expect(await rows(ds, 'SELECT count(*) FROM access_log')).toEqual([[48n]]);
      await scan.drop();
    });
  });

  it('keep the columns the detections name; a value read without naming its column (a *, a whole row) fails the query, never reads as NULL', async () => {
    await onData(async (ds) => {
      const named = validateDetection(rule({ candidates: { access_log: "signature_version = 'SigV2'" } }), 'x.yaml');
      const columns = (await rows(ds, 'DESCRIBE access_log')).map((r) => String((r as unknown[])[0]));
      const kept = columnsNamed([named], columns);
      expect([...kept].sort()).toEqual(['bucket', 'event_time', 'key', 'remote_ip', 'request_id', 'requester', 'signature_version', 'source_file', 'source_line']);
      // Through s3_requests: every column the view names.
      expect(columnsNamed([validateDetection(rule({ sql: named.sql.replace('FROM access_log', 'FROM s3_requests') }), 'x.yaml')], columns).has('user_agent')).toBe(true);
      const whole = validateDetection(rule({ id: 'whole-row', title: 'whole-row', candidates: { access_log: "signature_version = 'SigV2'" }, sql: named.sql.replace(' FROM access_log', ', to_json(a) AS record FROM access_log a') }), 'whole-row.yaml');
      const star = validateDetection(rule({ id: 'star', candidates: { access_log: "signature_version = 'SigV2'" }, sql: 'SELECT * FROM access_log WHERE signature_version = \'SigV2\'' }), 'star.yaml');
      for (const d of [whole, star]) {
        const scan = await scanCandidates(ds.conn, [d], 1);
        try {
          // The plain query over the view of its rows: the columns it does not read are never computed.
          await scan.narrowed(d, async () => expect(await rows(ds, 'SELECT count(*), min(signature_version) FROM access_log')).toEqual([[1n, 'SigV2']]));
          await expect(scan.narrowed(d, () => runDetection(ds.conn, d, {})), d.id).rejects.toThrow(/reads the column \w+ of access_log without naming it/);
        } finally {
          await scan.drop();
        }
      }
    });
  });

  it('are not scanned when they name too many rows (each detection reads the table itself then), with the same answer', async () => {
    await onData(async (ds) => {
      const scan = await scanCandidates(ds.conn, users, MIN_DETECTIONS, 10);
      const burst = byId('access-denied-burst');
      await scan.narrowed(burst, async () => {
        expect(await rows(ds, 'SELECT count(*) FROM access_log')).toEqual([[48n]]);
        // CloudTrail's candidates are two rows: scanned.
        expect(await rows(ds, 'SELECT count(*) FROM cloudtrail')).toEqual([[8n]]);
      });
      const versioning = byId('versioning-suspended');
      await scan.narrowed(versioning, async () => {
        expect(await rows(ds, 'SELECT count(*) FROM cloudtrail')).toEqual([[1n]]);
      });
      await scan.drop();
    });
  });

  it('are scanned only for enough detections: fewer read the table themselves', async () => {
    await onData(async (ds) => {
      const two = users.slice(0, MIN_DETECTIONS - 1);
      const scan = await scanCandidates(ds.conn, two);
      await scan.narrowed(two[0] as Detection, async () => {
        expect(await rows(ds, 'SELECT count(*) FROM access_log')).toEqual([[48n]]);
      });
      await scan.drop();
    });
  });

  it("a detection's tests fail when its candidates leave out rows its SQL reads", async () => {
    const d = validateDetection(rule({ candidates: { access_log: "signature_version = 'SigV4'" } }), 'x.yaml');
    const o = await runDetectionTest(d, d.tests[0] as DetectionTest);
    expect(o.ok).toBe(false);
    expect(o.error).toMatch(/^candidates: with access_log holding only the rows candidates names, the SQL gives 0 finding\(s\), not the 1 it gives with every row/);
    const right = validateDetection(rule({ candidates: { access_log: "signature_version = 'SigV2'" } }), 'x.yaml');
    for (const t of right.tests) expect((await runDetectionTest(right, t)).ok).toBe(true);
  });

  it("may name a column by its table, as the check that accepts them does: each detection's view tests it again over the rows kept", async () => {
    const d = validateDetection(rule({ candidates: { access_log: "access_log.signature_version = 'SigV2'" } }), 'x.yaml');
    for (const t of d.tests) expect(await runDetectionTest(d, t), t.name).toMatchObject({ ok: true });
  });

  it('are refused on load unless each names a table of sources with a condition without parameters, and not with with:', () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ candidates: 'true' }, /candidates must map a table/],
      [{ candidates: {} }, /candidates must map a table/],
      [{ candidates: { cloudtrail: 'true' } }, /candidates cloudtrail: not a table of sources \(access_log\)/],
      [{ candidates: { access_log: 3 } }, /candidates access_log: must be a condition/],
      [{ candidates: { access_log: ' ' } }, /candidates access_log: must be a condition/],
      [{ candidates: { access_log: 'http_status >= $n' }, params: { n: { default: 400, description: 'n' } } }, /candidates access_log: may not use parameters/],
      [{ candidates: { access_log: 'true' }, with: { w: 'SELECT 1' }, coverage: 'SELECT 1 AS scope, 2 AS reason FROM w' }, /candidates and with do not go together/],
    ];
    for (const [over, why] of bad) expect(() => validateDetection(rule(over), 'x.yaml'), JSON.stringify(over)).toThrow(why);
  });

  it('are refused before anything runs unless each is one condition on the columns of the table', async () => {
    await onData(async (ds) => {
      await lockToTables(ds.conn, ds.dir, { spill: true });
      const check = (cond: string): Promise<void> => checkDetectionSql(ds.conn, validateDetection(rule({ candidates: { access_log: cond } }), 'x.yaml'));
      await expect(check("signature_version = 'SigV2'")).resolves.toBeUndefined();
      // A comment ends at the line end s3sift puts after the condition: harmless.
      await expect(check("signature_version = 'SigV2' -- the old signature")).resolves.toBeUndefined();
      const bad: Array<[string, RegExp]> = [
        ["true) AS a, (true", /x\.yaml: candidates access_log: must be one condition on the columns of the table/],
        ["true) IS TRUE AS a FROM access_log UNION ALL SELECT *, (true", /x\.yaml: candidates access_log: (must be one condition|does not parse)/],
        ['request_id IN (SELECT request_id FROM cloudtrail)', /x\.yaml: candidates access_log: may not hold a subquery/],
        // A star expands to a column each: other detections' view of the table would carry them.
        ['COLUMNS(*) IS NOT NULL OR true', /x\.yaml: candidates access_log: may test columns with operators and functions only \(it holds star\)/],
        ['access_log.* IS NULL', /x\.yaml: candidates access_log: may test columns with operators and functions only \(it holds star\)/],
        ['http_status >= $1', /x\.yaml: candidates access_log: may not use parameters/],
        ['http_status >= ?', /x\.yaml: candidates access_log: may not use parameters/],
        ['row_number() OVER () < 10', /x\.yaml: candidates access_log: may test columns with operators and functions only \(it holds window\)/],
        ['no_such_column = 1', /x\.yaml: candidates access_log: does not run on the table: .*no_such_column/],
        ['((', /x\.yaml: candidates access_log: does not parse/],
      ];
      for (const [cond, why] of bad) await expect(check(cond), cond).rejects.toThrow(why);
      await expect(check('((')).rejects.toBeInstanceOf(DetectionError);
    });
  });
});
