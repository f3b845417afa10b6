import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { athenaCoverageStatements, athenaStatements } from '../../query/athena/run.js';
import { historyQuery } from '../../query/athena/render.js';
import { openDataset } from '../../query/dataset.js';
import { runDetections, selectDetections, toCoverage, toFindings } from '../../query/detect.js';
import { datasetFor } from '../../query/detection-tests.js';
import { loadDetections, type Detection, type DetectionTest } from '../../query/detection.js';
import type { Finding } from '../../query/finding.js';
import { rowsOf } from '../../query/rows.js';

/**
 * The baseline detections (docs/detections.md#baselines) judge a window's
 * requests against the history before it: with --since the history is the
 * data before the window (s3_requests_history), on DuckDB and as Athena
 * renders it; without, every request is judged against those before it.
 */
const IDS = ['first-access-to-bucket', 'new-network-for-principal', 'read-volume-over-baseline'];
const library = selectDetections(await loadDetections(), IDS);
const WINDOW = { since: new Date('2025-03-10T00:00:00Z'), until: new Date('2025-03-11T00:00:00Z') };

/** Alice reads other-data daily from `from`, (512 bytes a day), then on 2025-03-10 reads 1.2 GB of payroll from a new network. */
function records(from: string): DetectionTest {
  return {
    name: 'baseline',
    expect: 0,
    records: [
      { base: 'access-log', bucket: 'other-data', repeat: 40, every: 86400, set: { bucket: 'other-data', time: from } },
      { base: 'access-log', repeat: 3, every: 300, set: { bucket: 'payroll', time: '2025-03-10T09:00:00Z', remote_ip: '198.51.100.7', bytes_sent: 400000000 } },
    ],
  } as unknown as DetectionTest;
}

const brief = (f: Finding): string => `${f.detection_id} ${f.event_time} ${f.bucket} ${f.source_ip}`;
const duckdbTypes = (sql: string): string => sql.replace(/\bARRAY\((JSON|VARCHAR|DOUBLE|BIGINT|INTEGER)\)/g, '$1[]');

describe.each([
  ['a month of history before the window', '2025-02-01T08:00:00Z'],
  ['ten days of history before the window', '2025-02-28T08:00:00Z'],
])('baselines with %s', (_name, from) => {
  let dir: string;
  let data: string;
  const enough = from.startsWith('2025-02-01');
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 's3sift-baseline-'));
    data = await datasetFor(records(from), dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(enough ? 'judge the window against the history before it, on DuckDB' : 'say the window was not judged, on DuckDB', async () => {
    const ds = await openDataset(data, WINDOW);
    try {
      const r = await runDetections(ds, library);
      if (enough) {
        expect(r.findings.map(brief).sort()).toEqual([
          'first-access-to-bucket 2025-03-10T09:00:00.000Z payroll 198.51.100.7',
          'new-network-for-principal 2025-03-10T09:00:00.000Z payroll 198.51.100.7',
          'read-volume-over-baseline 2025-03-10T09:00:00.000Z payroll 198.51.100.7',
        ]);
        const volume = r.findings.find((f) => f.detection_id === 'read-volume-over-baseline');
        // history_windows: the windows of the days before the judged window's UTC day (not its own day's earlier hours).
        expect(volume?.details).toMatchObject({ bytes: 1200000000, median_bytes: 512, median_multiple: 10, lookback_days: 30, requests: 3, history_windows: 29 });
        const first = r.findings.find((f) => f.detection_id === 'first-access-to-bucket');
        expect(first?.details).toMatchObject({ lookback_days: 30 });
        expect(first?.details.bucket_last_seen).toBeUndefined();
        // The history read with --since: lookback_days and a day before the window's first request.
        expect(first?.details.history_since).toBe('2025-02-07T08:00:00.000Z');
        const network = r.findings.find((f) => f.detection_id === 'new-network-for-principal');
        expect(network?.details).toMatchObject({ network: '198.51.100.0/24', previous_network: '203.0.113.0/24' });
        expect(r.coverage).toEqual([]);
      } else {
        expect(r.findings).toEqual([]);
        expect(r.coverage.map((c) => [c.detection_id, c.scope, c.reason, c.records])).toEqual([
          ['first-access-to-bucket', '(dataset)', 'first requests of principals to buckets until 2025-03-10 are not judged: they have less than 30 days of data before them (the data starts 2025-02-28)', 1],
          ['new-network-for-principal', '(dataset)', 'first requests of principals from a network until 2025-03-10 are not judged: they have less than 30 days of data before them (the data starts 2025-02-28)', 1],
          ['read-volume-over-baseline', '(dataset)', 'windows of 1000000000 bytes read or more until 2025-03-10 are not judged: they have less than 30 days of data before them (the data starts 2025-02-28)', 3],
        ]);
      }
    } finally {
      ds.close();
    }
  });

  it('find the same in the window as over all the data (rolling), and as Athena renders the window', async () => {
    const all = await openDataset(data);
    const windowed = await openDataset(data, WINDOW);
    try {
      const rolling = (await runDetections(all, library)).findings.filter((f) => f.event_time?.startsWith('2025-03-10')).map(brief).sort();
      const inWindow = (await runDetections(windowed, library)).findings.map(brief).sort();
      expect(inWindow).toEqual(rolling);
      await all.conn.run('CREATE SCHEMA athena_db');
      for (const t of ['access_log', 'cloudtrail', 's3_requests']) await all.conn.run(`CREATE VIEW athena_db.${t} AS SELECT * FROM main.${t}`);
      const sql = await athenaStatements(library, { database: 'athena_db', ...WINDOW });
      const cov = await athenaCoverageStatements(library, { database: 'athena_db', ...WINDOW });
      const viaAthena: string[] = [];
      const coverage: string[] = [];
      for (const d of library) {
        const text = sql.get(d.id) as string;
        expect(text).toContain(`s3_requests_history AS (SELECT * FROM "athena_db"."s3_requests" WHERE event_time < TIMESTAMP '2025-03-10 00:00:00.000' AND "date" <= '2025-03-10' AND "date" >= '2025-02-07')`);
        viaAthena.push(...toFindings(d, rowsOf(await all.conn.runAndReadAll(duckdbTypes(text)))).map(brief));
        coverage.push(...toCoverage(d, rowsOf(await all.conn.runAndReadAll(duckdbTypes(cov.detections.get(d.id) as string)))).map((c) => `${c.detection_id} ${c.scope} ${c.records}`));
      }
      expect(viaAthena.sort()).toEqual(inWindow);
      expect(coverage.length).toBe(enough ? 0 : 3);
    } finally {
      all.close();
      windowed.close();
    }
  });
});

describe('the history relation', () => {
  it('is empty without --since, and holds what came before it with one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 's3sift-baseline-'));
    try {
      const data = await datasetFor(records('2025-02-01T08:00:00Z'), dir);
      for (const [window, before, inside] of [[{}, 0, 43], [WINDOW, 37, 4], [{ since: WINDOW.since }, 37, 6]] as const) {
        const ds = await openDataset(data, window);
        try {
          const n = (await ds.conn.runAndReadAll('SELECT (SELECT count(*) FROM s3_requests_history), (SELECT count(*) FROM s3_requests)')).getRows()[0];
          expect([window, Number(n?.[0]), Number(n?.[1])]).toEqual([window, before, inside]);
        } finally {
          ds.close();
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('renders for Athena as nothing without --since, pruned to the look-back with one', () => {
    const d = library[0] as Detection;
    expect(historyQuery(d.sql, { database: 'db' }, { lookback_days: 30 })).toBe('s3_requests_history AS (SELECT * FROM s3_requests WHERE false)');
    expect(historyQuery(d.sql, { database: 'db', since: WINDOW.since }, { lookback_days: 7 })).toBe(
      `s3_requests_history AS (SELECT * FROM "db"."s3_requests" WHERE event_time < TIMESTAMP '2025-03-10 00:00:00.000' AND "date" <= '2025-03-10' AND "date" >= '2025-03-02')`,
    );
    expect(historyQuery('SELECT 1 FROM s3_requests', { database: 'db', since: WINDOW.since }, {})).toBeUndefined();
  });
});

describe('an assumed role', () => {
  it('is judged as its role: a new session reading a new bucket from a new network, 3 GB, fires all three, the session in details', async () => {
    const dir = mkdtempSync(join(tmpdir(), 's3sift-baseline-'));
    const role = 'arn:aws:sts::111122223333:assumed-role/app';
    const session = 'botocore-session-1741650000';
    const issuer = { type: 'Role', principalId: 'AROAAPP', arn: 'arn:aws:iam::111122223333:role/app', accountId: '111122223333', userName: 'app' };
    try {
      const data = await datasetFor(
        {
          name: 'role',
          expect: 0,
          records: [
            { base: 'access-log', repeat: 38, every: 86400, set: { bucket: 'data', requester: `${role}/i-0aaa`, remote_ip: '203.0.113.10', time: '2025-02-01T08:00:00Z' } },
            {
              base: 's3-data-event',
              repeat: 3,
              every: 60,
              set: {
                'requestParameters.bucketName': 'secrets',
                userIdentity: { type: 'AssumedRole', principalId: `AROAAPP:${session}`, arn: `${role}/${session}`, accountId: '111122223333', accessKeyId: 'ASIAAPP', sessionContext: { sessionIssuer: issuer } },
                sourceIPAddress: '185.220.101.5',
                'additionalEventData.bytesTransferredOut': 1000000000,
                eventTime: '2025-03-11T02:00:00Z',
              },
            },
          ],
        } as unknown as DetectionTest,
        dir,
      );
      const ds = await openDataset(data);
      try {
        const r = await runDetections(ds, library);
        expect(r.findings.map((f) => [f.detection_id, f.principal, f.details.session, f.bucket, f.source_ip]).sort()).toEqual(
          IDS.map((id) => [id, role, session, 'secrets', '185.220.101.5']),
        );
        const volume = r.findings.find((f) => f.detection_id === 'read-volume-over-baseline');
        expect(volume?.details).toMatchObject({ bytes: 3000000000, median_bytes: 512, read_windows: 30, max_bytes: 512, max_multiple: 2 });
        // Not the session as a principal with too little history: only the data's own first day is not judged.
        expect(r.coverage.map((c) => c.scope)).toEqual(['(dataset)', '(dataset)']);
      } finally {
        ds.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** new-network-for-principal over `records`, judging from 2025-03-12 on: its findings, and its coverage as [scope, reason, records]. */
async function newNetworkFrom(records: unknown[]): Promise<{ findings: Finding[]; coverage: Array<[string, string, number | undefined]> }> {
  const dir = mkdtempSync(join(tmpdir(), 's3sift-baseline-'));
  try {
    const data = await datasetFor({ name: 'new network', expect: 0, records } as unknown as DetectionTest, dir);
    const ds = await openDataset(data, { since: new Date('2025-03-12T00:00:00Z') });
    try {
      const r = await runDetections(ds, selectDetections(library, ['new-network-for-principal']));
      return { findings: r.findings, coverage: r.coverage.map((c) => [c.scope, c.reason, c.records]) };
    } finally {
      ds.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('a roaming principal', () => {
  it('has its new networks listed as not checked, not found', async () => {
    const lambda = 'arn:aws:sts::111122223333:assumed-role/thumbnailer/thumbnailer-fn';
    const r = await newNetworkFrom([
      { base: 'access-log', repeat: 40, every: 86400, set: { requester: lambda, remote_ip: '198.18.{n}.20', time: '2025-02-01T08:00:00Z' } },
      { base: 'access-log', set: { requester: lambda, remote_ip: '192.0.2.20', time: '2025-03-12T09:00:00Z' } },
    ]);
    expect(r.findings).toEqual([]);
    expect(r.coverage).toEqual([
      [
        'arn:aws:sts::111122223333:assumed-role/thumbnailer',
        'first requests of this principal from a network until 2025-03-12 are not judged: it roams, with requests from 30 networks in the 30 days before them (at least 10: cloud addresses such as Lambda, autoscaled instances or CI runners): a new network is no news for it',
        2, // its day-40 network and 192.0.2.20
      ],
    ]);
  });
});

describe('a request from something that is not an address', () => {
  it('is listed as not checked (no network to judge), not dropped; an AWS service name is no network and not listed', async () => {
    const r = await newNetworkFrom([
      { base: 's3-data-event', repeat: 40, every: 86400, set: { eventTime: '2025-02-01T08:00:00Z' } },
      { base: 's3-data-event', set: { sourceIPAddress: '64:ff9b::198.51.100.7', eventTime: '2025-03-12T09:00:00Z' } },
      { base: 's3-data-event', set: { sourceIPAddress: 'proxy.example.com', eventTime: '2025-03-12T10:00:00Z' } },
      { base: 's3-data-event', set: { sourceIPAddress: 'athena.amazonaws.com', eventTime: '2025-03-12T11:00:00Z' } },
    ]);
    expect(r.findings).toEqual([]);
    expect(r.coverage).toEqual([
      [
        'arn:aws:iam::111122223333:user/alice',
        'requests of this principal until 2025-03-12 from source addresses that are not IPv4 or IPv6 addresses are not judged: they name no network',
        2,
      ],
    ]);
  });
});
