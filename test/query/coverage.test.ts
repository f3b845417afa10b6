/**
 * Coverage: what each detection could not judge, and why (issue 14: "0
 * findings" must never hide "not checked"). Small datasets go through the
 * real ingest; the library's coverage SQL runs over them on DuckDB, and on
 * Athena's path (rendered as the runner sends it, answered with DuckDB's
 * rows by the fake), which must agree.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AthenaClient } from '@aws-sdk/client-athena';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { athenaCoverageStatements, runDetectionsOnAthena } from '../../query/athena/run.js';
import { ingest } from '../../ingest/ingest.js';
import { COVERAGE_RELATIONS, sharedCoverageRelations, withCoverageRelations } from '../../query/coverage-relations.js';
import { openDataset } from '../../query/dataset.js';
import { posture } from '../../query/posture.js';
import { compareCoverage, paramsFor, runCoverage, runDetections, selectDetections, type DetectResult } from '../../query/detect.js';
import { loadDetections, validateDetection, type Detection } from '../../query/detection.js';
import { nativeFunctionIn } from '../../query/dialect.js';
import type { CoverageGap } from '../../query/finding.js';
import { coverageNotice, formatFindings } from '../../query/format.js';
import { DetectionError } from '../../common/errors.js';
import { duckdbAnswers, startFakeAthena } from '../helpers/fake-athena.js';
import { emptyDataset, tempDir } from '../helpers/dataset.js';

const library = await loadDetections();
const OWNER = '79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be';

/** An access-log line of `fields` fields (26: a current one, with TLS; 22: before S3 logged the TLS version). */
function accessLine(o: { owner?: string; bucket?: string; op?: string; key?: string; requester?: string; id: string; fields?: number; version?: string; query?: string; sig?: string; auth?: string }): string {
  const bucket = o.bucket ?? 'prod-data';
  const key = o.key ?? 'reports/q1.csv';
  const all = [
    o.owner ?? OWNER, bucket, '[10/Mar/2025:08:00:01 +0000]', '203.0.113.9', o.requester ?? 'arn:aws:iam::111122223333:user/alice', o.id, o.op ?? 'REST.GET.OBJECT', key,
    `"GET /${bucket}/${key}${o.query ?? ''} HTTP/1.1"`, '200', '-', '512', '512', '10', '5', '"-"', '"aws-cli/2.13.0"', o.version ?? '-', 'hostid=', o.sig ?? 'SigV4',
    'TLS_AES_128_GCM_SHA256', o.auth ?? 'AuthHeader', `${bucket}.s3.us-east-1.amazonaws.com`, 'TLSv1.3', '-', '-',
  ];
  return all.slice(0, o.fields ?? 26).join(' ');
}

/** A CloudTrail S3 record: a data event on an object, or a management event on a bucket. */
function ctRecord(o: { bucket: string; name: string; id: string; key?: string; management?: boolean }): Record<string, unknown> {
  const management = o.management ?? o.key === undefined;
  return {
    eventVersion: '1.09', eventTime: '2025-03-10T08:00:01Z', eventSource: 's3.amazonaws.com', eventName: o.name, awsRegion: 'us-east-1', sourceIPAddress: '203.0.113.9',
    userAgent: '[aws-cli/2.13.0]', userIdentity: { type: 'IAMUser', principalId: 'AIDAALICE', arn: 'arn:aws:iam::111122223333:user/alice', accountId: '111122223333', userName: 'alice' },
    requestParameters: { bucketName: o.bucket, ...(o.key ? { key: o.key } : {}) }, responseElements: null, requestID: o.id, eventID: `e-${o.id}`, readOnly: !/Put|Delete/.test(o.name),
    eventType: 'AwsApiCall', managementEvent: management, eventCategory: management ? 'Management' : 'Data', recipientAccountId: '111122223333',
    tlsDetails: { tlsVersion: 'TLSv1.2', cipherSuite: 'ECDHE-RSA-AES128-GCM-SHA256', clientProvidedHostHeader: 's3.us-east-1.amazonaws.com' },
  };
}

let tmp: { dir: string; cleanup: () => void };
beforeAll(() => {
  tmp = tempDir();
});
afterAll(() => tmp.cleanup());

/** Ingest the lines and records into a fresh dataset; every one must be ingested. */
async function dataset(name: string, access: string[], cloudtrail: Array<Record<string, unknown>>): Promise<string> {
  const inputs: string[] = [];
  if (access.length) {
    inputs.push(join(tmp.dir, `${name}.log`));
    writeFileSync(inputs[inputs.length - 1] as string, access.join('\n') + '\n');
  }
  if (cloudtrail.length) {
    inputs.push(join(tmp.dir, `${name}.ndjson`));
    writeFileSync(inputs[inputs.length - 1] as string, cloudtrail.map((r) => JSON.stringify(r)).join('\n') + '\n');
  }
  const data = join(tmp.dir, name);
  const s = await ingest(inputs, { data, format: 'auto', force: false, strict: false });
  expect(s.rejected).toBe(0);
  return data;
}

async function detect(data: string, detections: readonly Detection[] = library, window: { since?: Date; until?: Date } = {}): Promise<DetectResult> {
  const ds = await openDataset(data, window);
  try {
    return await runDetections(ds, detections);
  } finally {
    ds.close();
  }
}

const of = (coverage: readonly CoverageGap[], id: string): Array<Omit<CoverageGap, 'detection_id'>> =>
  coverage.filter((c) => c.detection_id === id).map(({ detection_id: _, ...rest }) => rest);

const client = (endpoint: string): AthenaClient =>
  new AthenaClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' }, maxAttempts: 2 });

/** The library on Athena's path, the fake answering with DuckDB's rows: its coverage must be DuckDB's. */
async function sameOnAthena(data: string, local: DetectResult): Promise<void> {
  const lib = library.filter((d) => !nativeFunctionIn(d.sql));
  const ds = await openDataset(data);
  let answers;
  try {
    answers = await duckdbAnswers(ds.conn, lib);
  } finally {
    ds.close();
  }
  const fake = await startFakeAthena({ pollsBeforeDone: 0, pageSize: 100, answer: (sql) => answers.get(sql) ?? (() => { throw new Error(`unexpected query: ${sql.slice(0, 80)}`); })() });
  try {
    const remote = await runDetectionsOnAthena(client(fake.endpoint), lib, { database: 's3sift', workgroup: 'primary', pollMs: 1, maxPollMs: 5 });
    expect(remote.failures).toEqual([]);
    expect(remote.coverage).toEqual(local.coverage.filter((c) => lib.some((d) => d.id === c.detection_id)));
  } finally {
    await fake.close();
  }
}

/** Each relation a DuckDB run computes once (sharedCoverageRelations) holds, over `data`, what its portable query gives. */
async function expectSharedAsPortable(data: string): Promise<void> {
  const ds = await openDataset(data);
  try {
    const names = Object.keys(COVERAGE_RELATIONS);
    const shared = sharedCoverageRelations(names);
    for (const sql of shared.create) await ds.conn.run(sql);
    try {
      for (const name of names) {
        const rows = async (sql: string): Promise<unknown[]> => (await ds.conn.runAndReadAll(`SELECT * FROM (${sql}) x ORDER BY ALL`)).getRows();
        expect(await rows(`SELECT * FROM ${name}`), name).toEqual(await rows(COVERAGE_RELATIONS[name] as string));
      }
    } finally {
      for (const sql of shared.drop) await ds.conn.run(sql);
    }
  } finally {
    ds.close();
  }
}

describe('the relations a DuckDB run computes once, over requests CloudTrail logged twice', () => {
  it('hold what the portable queries give: access-log records with a partner once, twice or none', async () => {
    const twice = ctRecord({ bucket: 'both', name: 'PutObject', id: 'D2', key: 'reports/q1.csv' });
    const data = await dataset('twice', [
      accessLine({ bucket: 'al-only', id: 'D1', op: 'REST.PUT.OBJECT' }),
      accessLine({ bucket: 'both', id: 'D2', op: 'REST.PUT.OBJECT' }),
      accessLine({ bucket: 'both', id: 'D3', op: 'REST.GET.OBJECT' }),
      accessLine({ bucket: 'both', id: 'D4', op: 'REST.PUT.ACL' }),
    ], [twice, { ...twice, eventID: 'e-D2-again', recipientAccountId: '222233334444' }, ctRecord({ bucket: 'both', name: 'GetObject', id: 'D3', key: 'reports/q1.csv' })]);
    await expectSharedAsPortable(data);
    const ds = await openDataset(data);
    try {
      const only = (await ds.conn.runAndReadAll(`SELECT request_id FROM (${COVERAGE_RELATIONS.access_log_only as string}) ORDER BY 1`)).getRows();
      expect(only).toEqual([['D1'], ['D4']]);
      // (CloudTrail has the request twice: the run's table of its IDs keeps both.)
      expect((await ds.conn.runAndReadAll("SELECT count(*) FROM cloudtrail WHERE request_id = 'D2'")).getRows()).toEqual([[2n]]);
    } finally {
      ds.close();
    }
  });
});

describe('a dataset with only CloudTrail, one bucket seen only in management events', () => {
  let data: string;
  let r: DetectResult;
  beforeAll(async () => {
    data = await dataset('ct-only', [], [
      ctRecord({ bucket: 'prod-data', name: 'GetObject', id: 'R1', key: 'a.csv' }),
      ctRecord({ bucket: 'prod-data', name: 'PutBucketPolicy', id: 'R2' }),
      ctRecord({ bucket: 'mgmt-only', name: 'PutBucketEncryption', id: 'R3' }),
      ctRecord({ bucket: 'mgmt-only', name: 'GetBucketAcl', id: 'R4' }),
      ctRecord({ bucket: 'purged', name: 'DeleteObjects', id: 'R5', management: false }),
      // Accounts whose trails log S3 data events ReadOnly (reads of any bucket, no writes) and WriteOnly.
      { ...ctRecord({ bucket: 'ro-bucket', name: 'GetObject', id: 'R6', key: 'a.csv' }), recipientAccountId: '222233334444' },
      { ...ctRecord({ bucket: 'wo-bucket', name: 'PutObject', id: 'R7', key: 'a.csv' }), recipientAccountId: '333344445555' },
    ]);
    r = await detect(data);
  });

  it('says the access-log-only detections did not check anything: no access logs', () => {
    for (const id of library.filter((d) => d.sources.join() === 'access_log').map((d) => d.id)) {
      expect(of(r.coverage, id), id).toEqual([{ scope: 'access_log', reason: 'no access logs in the dataset' }]);
    }
    // Detections that read both sources judged the CloudTrail there is; CloudTrail ones had it.
    expect(r.coverage.filter((c) => c.scope === 'access_log' || c.scope === 'cloudtrail').map((c) => c.detection_id).sort()).toEqual(['permanent-version-delete', 'presigned-url-shared']);
  });

  it('names the bucket with management events only, for the detections on object requests', () => {
    for (const [id, what] of [['anonymous-access', 'its requests, anonymous ones included,'], ['large-data-egress', 'its object reads'], ['mass-delete', 'its object deletes'], ['permanent-delete-without-mfa', 'its version deletes']]) {
      expect(of(r.coverage, id as string), id).toContainEqual({ scope: 'mgmt-only', reason: `only CloudTrail management events: no S3 data events and no access logs of this bucket, so ${what} are not in the data` });
      expect(of(r.coverage, id as string).map((c) => c.scope), id).not.toContain('prod-data');
    }
  });

  it('names the buckets whose account logs data events of reads only, for what writes, and of writes only, for what reads', () => {
    // prod-data had reads and no writes, but its account's trail logs writes (purged's DeleteObjects): none happened, nothing unseen.
    for (const id of ['mass-delete', 'unencrypted-object-write', 'permanent-delete-without-mfa']) {
      expect(of(r.coverage, id).filter((c) => c.scope.endsWith('o-bucket')), id).toEqual([{ scope: 'ro-bucket', reason: expect.stringMatching(/its account's CloudTrail logs reads but no writes of any bucket's objects \(a trail whose S3 data events are ReadOnly\)/) }]);
    }
    expect(of(r.coverage, 'large-data-egress').filter((c) => c.scope.endsWith('o-bucket'))).toEqual([{ scope: 'wo-bucket', reason: expect.stringMatching(/logs writes but no reads of any bucket's objects .*its object reads are not in the data$/) }]);
    expect(of(r.coverage, 'anonymous-access').filter((c) => c.scope.endsWith('o-bucket')).map((c) => [c.scope, c.reason.replace(/^.*so /, '')])).toEqual([
      ['ro-bucket', 'its anonymous writes are not in the data'], ['wo-bucket', 'its anonymous reads are not in the data'],
    ]);
  });

  it('the relations a DuckDB run computes once hold what the portable queries give', async () => {
    await expectSharedAsPortable(data);
  });

  it('counts the DeleteObjects calls whose objects only an access log would count', () => {
    expect(of(r.coverage, 'mass-delete')).toContainEqual({ scope: 'purged', reason: 'DeleteObjects calls only CloudTrail recorded: it does not say how many objects each deleted (the access log would), so each counts as one deletion toward min_deletes, and they count as calls toward min_batch_calls', records: 1 });
  });

  it('is the same on Athena', async () => {
    await sameOnAthena(data, r);
  }, 30_000);
});

describe('access-log records of 22 fields, and buckets only the access log sees', () => {
  let data: string;
  let r: DetectResult;
  beforeAll(async () => {
    data = await dataset('old-access-log', [
      // Before S3 logged the TLS version (22 fields): neither plain HTTP nor an old TLS can be told.
      accessLine({ bucket: 'old-logs', id: 'A1', fields: 22 }),
      accessLine({ bucket: 'old-logs', id: 'A2', fields: 22 }),
      accessLine({ bucket: 'old-logs', id: 'A3', fields: 22, requester: 'arn:aws:iam::444455556666:user/partner' }),
      accessLine({ bucket: 'prod-data', id: 'A4' }),
      // A version delete and a PutBucketVersioning that CloudTrail did not record.
      accessLine({ bucket: 'prod-data', id: 'A5', op: 'REST.DELETE.OBJECT', version: '3HL4kqtJvjVBH40Nrjfkd00' }),
      accessLine({ bucket: 'prod-data', id: 'A6', op: 'REST.PUT.VERSIONING', key: '-' }),
      // A SigV2 pre-signed URL: an expiry time, no validity to judge.
      accessLine({ bucket: 'prod-data', id: 'A7', query: '?AWSAccessKeyId=AKIAALICE&Expires=1741600000&Signature=abc', sig: 'SigV2', auth: 'QueryString' }),
    ], []);
    r = await detect(data);
  });

  it('weak-tls-request and plaintext-http-request say which records they could not judge, by bucket, with a count', () => {
    expect(of(r.coverage, 'weak-tls-request')).toEqual([{ scope: 'old-logs', reason: 'access-log records with under 24 fields (written before S3 logged the TLS version) do not say which TLS version the request used', records: 3 }]);
    expect(of(r.coverage, 'plaintext-http-request')).toEqual([{ scope: 'old-logs', reason: 'access-log records with under 24 fields (written before S3 logged the TLS version) do not say whether the request used TLS', records: 3 }]);
    expect(r.findings.filter((f) => f.detection_id === 'plaintext-http-request' || f.detection_id === 'weak-tls-request')).toEqual([]);
  });

  it('the CloudTrail detections did not check anything: no CloudTrail', () => {
    for (const d of library.filter((x) => x.sources.join() === 'cloudtrail')) expect(of(r.coverage, d.id), d.id).toContainEqual({ scope: 'cloudtrail', reason: 'no CloudTrail records in the dataset' });
  });

  it('MFA cannot be judged from the access log: the version delete and the versioning change are named', () => {
    expect(of(r.coverage, 'permanent-delete-without-mfa')).toContainEqual({ scope: 'prod-data', reason: 'version deletes only the access log recorded (no CloudTrail data event for them): the access log does not record MFA; permanent-version-delete lists them', records: 1 });
    expect(of(r.coverage, 'mfa-delete-disabled')).toContainEqual({ scope: 'prod-data', reason: 'PutBucketVersioning calls only the access log recorded (CloudTrail has no record of them): it does not say whether they disabled MFA Delete', records: 1 });
  });

  it('presigned-url-long-expiry cannot judge a SigV2 pre-signed URL', () => {
    expect(of(r.coverage, 'presigned-url-long-expiry')).toEqual([{ scope: 'prod-data', reason: expect.stringMatching(/^pre-signed requests whose X-Amz-Expires could not be read \(a SigV2 URL gives an expiry time/), records: 1 }]);
  });

  it('cross-account-access names the buckets it did not judge for want of owner evidence, with the requests it left', () => {
    // Access logs only, no owner_accounts: no evidence of any bucket's account, so no guess and no finding.
    const reason = 'no owner evidence: no CloudTrail record in the data names an account (only access logs), and owner_accounts is not set';
    expect(of(r.coverage, 'cross-account-access')).toEqual([{ scope: 'old-logs', reason, records: 3 }, { scope: 'prod-data', reason, records: 4 }]);
    expect(r.findings.filter((f) => f.detection_id === 'cross-account-access')).toEqual([]);
  });

  it('owner_accounts, when set, leaves cross-account-access no bucket unjudged', async () => {
    const ds = await openDataset(data);
    try {
      const set = await runDetections(ds, selectDetections(library, ['cross-account-access']), { owner_accounts: '111122223333' });
      expect(set.coverage).toEqual([]);
    } finally {
      ds.close();
    }
  });

  it('is the same on Athena', async () => {
    await sameOnAthena(data, r);
  }, 30_000);

  it('the report says "0 findings, but not checked", per detection, after the findings', () => {
    const weak = selectDetections(library, ['weak-tls-request', 'access-denied-burst']);
    const text = formatFindings(r.findings.filter((f) => weak.some((d) => d.id === f.detection_id)), 'table', {
      detections: weak, runs: r.runs.filter((x) => weak.some((d) => d.id === x.id)), coverage: r.coverage.filter((c) => weak.some((d) => d.id === c.detection_id)), version: 'test',
    });
    expect(text).toBe([
      '0 findings from 0 of 2 detections',
      '1 detection could not judge some of the data: see NOT CHECKED at the end',
      '',
      '== NOT CHECKED ==',
      '',
      'Data the detections could not judge, and why: no finding there does not mean nothing happened.',
      '',
      '[weak-tls-request] Request over TLS 1.0 or 1.1: 0 findings, but not checked:',
      '  - old-logs: access-log records with under 24 fields (written before S3 logged the TLS version) do not say which TLS version the request used (3 records)',
      '',
    ].join('\n'));
    // A detection without findings says what it could not check.
    const cross = selectDetections(library, ['cross-account-access']);
    const text2 = formatFindings(r.findings.filter((f) => f.detection_id === 'cross-account-access'), 'table', {
      detections: cross, runs: r.runs.filter((x) => x.id === 'cross-account-access'), coverage: r.coverage.filter((c) => c.detection_id === 'cross-account-access'), version: 'test',
    });
    expect(text2).toMatch(/^0 findings from 0 of 1 detections\n1 detection could not judge some of the data: see NOT CHECKED at the end\n\n== NOT CHECKED ==\n/);
    expect(text2).toMatch(/\n\[cross-account-access\] Request from another AWS account: 0 findings, but not checked:\n {2}- old-logs \(3 records\), prod-data \(4\): no owner evidence: no CloudTrail record .*\n$/);
  });

  it('JSON adds a top-level coverage array and keeps findings and summary as they were', () => {
    const json = JSON.parse(formatFindings(r.findings, 'json', { detections: library, runs: r.runs, coverage: r.coverage, version: 'test' })) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual(['findings', 'summary', 'coverage']);
    expect(json.coverage).toEqual(r.coverage);
    expect((json.coverage as CoverageGap[]).every((c) => Object.keys(c).every((k) => ['detection_id', 'scope', 'reason', 'records'].includes(k)))).toBe(true);
  });

  it('NDJSON, CSV and OCSF stay one finding per record; the CLI gets a one-line notice for stderr', () => {
    const ctx = { detections: library, runs: r.runs, coverage: r.coverage, version: 'test' };
    expect(formatFindings(r.findings, 'ndjson', ctx)).toBe(r.findings.map((f) => JSON.stringify(f) + '\n').join(''));
    expect(formatFindings(r.findings, 'csv', ctx).split('\n')).toHaveLength(r.findings.length + 2);
    const ids = [...new Set(r.coverage.map((c) => c.detection_id))];
    expect(coverageNotice(r.coverage)).toBe(`not checked: ${ids.length} detections could not judge some of the data (${ids.slice(0, 5).join(', ')} and ${ids.length - 5} more); --format json or table says what and why`);
    expect(coverageNotice([])).toBeNull();
  });
});

describe('coverage in a time window', () => {
  it('says the window when a table holds nothing in it; a detection on both sources needs one of them', async () => {
    const data = await dataset('window', [accessLine({ id: 'W1' })], []);
    const picked = selectDetections(library, ['permanent-version-delete', 'weak-tls-request']);
    expect((await detect(data, picked)).coverage).toEqual([]);
    const r = await detect(data, picked, { since: new Date('2025-03-11T00:00:00Z'), until: new Date('2025-03-12T00:00:00Z') });
    const when = 'in the dataset from 2025-03-11T00:00:00.000Z until 2025-03-12T00:00:00.000Z';
    expect(r.coverage).toEqual([
      { detection_id: 'permanent-version-delete', scope: 'access_log', reason: `no access logs ${when}` },
      { detection_id: 'weak-tls-request', scope: 'access_log', reason: `no access logs ${when}` },
      { detection_id: 'weak-tls-request', scope: 'cloudtrail', reason: `no CloudTrail records ${when}` },
    ]);
  });
});

describe("a bucket whose access-log owner is none of the CloudTrail delivery accounts", () => {
  let data: string;
  let r: DetectResult;
  beforeAll(async () => {
    const known = ctRecord({ bucket: 'prod-data', name: 'GetObject', id: 'C1', key: 'a.csv' });
    known.resources = [{ type: 'AWS::S3::Object', ARN: 'arn:aws:s3:::prod-data/a.csv' }, { type: 'AWS::S3::Bucket', ARN: 'arn:aws:s3:::prod-data', accountId: '111122223333' }];
    data = await dataset('foreign-owner', [
      // prod-data's log owner is placed in 111122223333 by CloudTrail; their-data's log owner is another canonical ID.
      accessLine({ bucket: 'prod-data', id: 'F1' }),
      accessLine({ bucket: 'their-data', id: 'F2', owner: 'b'.repeat(64) }),
      accessLine({ bucket: 'their-data', id: 'F3', owner: 'b'.repeat(64), requester: 'arn:aws:iam::444455556666:user/partner' }),
    ], [known]);
    r = await detect(data, selectDetections(library, ['cross-account-access']));
  });

  it('is not judged, and said so with the reason and the requests left', () => {
    expect(of(r.coverage, 'cross-account-access')).toEqual([{ scope: 'their-data', reason: expect.stringMatching(/^no owner evidence: CloudTrail names no account for this bucket, and its access-log bucket owner/), records: 2 }]);
    expect(r.findings).toEqual([]);
  });

  it('owner_accounts judges it', async () => {
    const ds = await openDataset(data);
    try {
      const set = await runDetections(ds, selectDetections(library, ['cross-account-access']), { owner_accounts: '111122223333' });
      expect(set.coverage).toEqual([]);
      expect(set.findings.map((f) => [f.bucket, f.principal])).toEqual([['their-data', 'arn:aws:iam::444455556666:user/partner']]);
    } finally {
      ds.close();
    }
  });
});

describe('writes and settings only the access log saw, and buckets with management events only', () => {
  let data: string;
  let r: DetectResult;
  beforeAll(async () => {
    data = await dataset('access-log-only', [
      accessLine({ bucket: 'al-only', id: 'W1', op: 'REST.PUT.OBJECT' }),
      accessLine({ bucket: 'al-only', id: 'W3', op: 'REST.PUT.VERSIONING', key: '-' }),
      accessLine({ bucket: 'both', id: 'W2', op: 'REST.PUT.OBJECT' }),
    ], [
      { ...ctRecord({ bucket: 'both', name: 'PutObject', id: 'W2', key: 'reports/q1.csv' }), additionalEventData: { 'x-amz-id-2': 'x', SSEApplied: 'SSE_S3' } },
      ctRecord({ bucket: 'mgmt-only', name: 'PutBucketEncryption', id: 'M1' }),
    ]);
    r = await detect(data);
  });

  it('the encryption detections name the writes only the access log recorded (it keeps no headers) and the buckets without object events', () => {
    for (const id of ['unencrypted-object-write', 'sse-c-object-write', 'foreign-kms-key-write']) {
      expect(of(r.coverage, id), id).toEqual([
        { scope: 'al-only', reason: expect.stringMatching(/^object writes only the access log recorded \(no CloudTrail data event for them\): it does not record /), records: 1 },
        { scope: 'mgmt-only', reason: 'only CloudTrail management events: no S3 data events and no access logs of this bucket, so its object writes are not in the data' },
      ]);
    }
  });

  it('versioning-suspended names the PutBucketVersioning only the access log recorded; vpc-endpoint-bypass the requests', () => {
    expect(of(r.coverage, 'versioning-suspended')).toEqual([{ scope: 'al-only', reason: expect.stringMatching(/^PutBucketVersioning calls only the access log recorded .*suspended versioning$/), records: 1 }]);
    expect(of(r.coverage, 'vpc-endpoint-bypass')).toEqual([{ scope: 'al-only', reason: expect.stringMatching(/does not record the VPC endpoint/), records: 2 }]);
  });

  it('is the same on Athena', async () => {
    await sameOnAthena(data, r);
  }, 30_000);

  it('a DuckDB run computes the shared relations once, answers as each query computing its own would, and drops them after', async () => {
    const ds = await openDataset(data);
    try {
      const each = [];
      for (const d of library.filter((x) => x.coverage !== undefined)) each.push(...(await runCoverage(ds.conn, d, paramsFor(d))));
      expect(each.length).toBeGreaterThan(5);
      expect(each.sort(compareCoverage)).toEqual(r.coverage.filter((c) => library.find((d) => d.id === c.detection_id)?.coverage !== undefined && !/^no (access logs|CloudTrail records) in the dataset/.test(c.reason)));
      const left = async (): Promise<unknown[]> => (await ds.conn.runAndReadAll("SELECT table_name FROM information_schema.tables WHERE table_name IN ('bucket_sources', 'access_log_only', 'access_log_only_counts', '_s3sift_s3_request_ids')")).getRows();
      const run = await runDetections(ds, library);
      expect(run.coverage).toEqual(r.coverage);
      expect(run.prepare_ms).toBeGreaterThan(0);
      expect(run.runs.every((x) => (x.coverage_ms ?? -1) >= 0)).toBe(true);
      expect(await left()).toEqual([]);
    } finally {
      ds.close();
    }
  }, 30_000);

  it('the report gives one line per reason, the scopes that share it first', () => {
    const gaps = [
      ...['b1', 'b2', 'b3'].map((scope, i) => ({ detection_id: 'unencrypted-object-write', scope, reason: 'same reason', records: i + 1 })),
      { detection_id: 'unencrypted-object-write', scope: 'b4', reason: 'another reason' },
      ...Array.from({ length: 10 }, (_, i) => ({ detection_id: 'unencrypted-object-write', scope: `m${i}`, reason: 'many' })),
    ];
    const d = selectDetections(library, ['unencrypted-object-write']);
    const text = formatFindings([], 'table', { detections: d, runs: [{ id: 'unencrypted-object-write', findings: 0, ms: 1 }], coverage: gaps, version: 'test' });
    expect(text.split('\n').filter((l) => l.startsWith('  ')).slice(-4)).toEqual([
      '  - b1 (1 record), b2 (2), b3 (3): same reason',
      '  - b4: another reason',
      '  - m0, m1, m2, m3, m4, m5, m6, m7, 2 more: many',
      '  (--format json lists every one)',
    ]);
  });
});

describe('bucket settings reads only the access log saw', () => {
  let data: string;
  let r: DetectResult;
  beforeAll(async () => {
    data = await dataset('settings-reads', [
      accessLine({ bucket: 'al-only', id: 'G1', op: 'REST.GET.ACL', key: '-' }),
      accessLine({ bucket: 'al-only', id: 'G2', op: 'REST.GET.BUCKETPOLICY', key: '-' }),
      accessLine({ bucket: 'al-only', id: 'G3', op: 'REST.GET.ACL' }), // an object's ACL: not a bucket setting
      accessLine({ bucket: 'al-only', id: 'G4', op: 'REST.GET.OBJECT' }),
      accessLine({ bucket: 'both', id: 'G5', op: 'REST.GET.ACL', key: '-' }),
    ], [ctRecord({ bucket: 'both', name: 'GetBucketAcl', id: 'G5' })]);
    r = await detect(data);
  });

  it('bucket-enumeration counts them by bucket (a with: query computed before its coverage SQL); one CloudTrail recorded too is judged there', () => {
    expect(of(r.coverage, 'bucket-enumeration')).toEqual([{ scope: 'al-only', reason: expect.stringMatching(/^bucket configuration reads only the access log recorded/), records: 2 }]);
  });

  it('is the same on Athena', async () => {
    await sameOnAthena(data, r);
  }, 30_000);
});

describe("the relations s3sift gives coverage SQL", () => {
  it('are put in front of the SQL that names them, joined to its own WITH list, once', () => {
    const plain = withCoverageRelations('SELECT bucket AS scope FROM bucket_sources');
    expect(plain).toMatch(/^WITH bucket_sources AS \(/);
    expect(plain).toMatch(/\nSELECT bucket AS scope FROM bucket_sources$/);
    const own = withCoverageRelations('WITH x AS (SELECT 1) SELECT * FROM x, access_log_only');
    expect(own).toMatch(/^WITH access_log_only AS \([^]*\), x AS \(SELECT 1\) SELECT \* FROM x, access_log_only$/);
    expect(withCoverageRelations(plain)).toBe(plain);
    expect(withCoverageRelations('SELECT 1 AS scope')).toBe('SELECT 1 AS scope');
    // access_log_only_counts is not access_log_only: each name is matched whole.
    const counts = withCoverageRelations('SELECT bucket AS scope FROM access_log_only_counts');
    expect(counts).toMatch(/^WITH access_log_only_counts AS \(/);
    expect(counts).not.toMatch(/\baccess_log_only AS \(/);
    // Comments before its WITH, and WITH RECURSIVE, stay valid SQL.
    expect(withCoverageRelations('-- why\nWITH x AS (SELECT 1) SELECT * FROM x, bucket_sources')).toMatch(/^-- why\nWITH bucket_sources AS \([^]*\), x AS \(SELECT 1\) SELECT/);
    expect(withCoverageRelations('WITH RECURSIVE x AS (SELECT 1) SELECT * FROM x, bucket_sources')).toMatch(/^WITH RECURSIVE bucket_sources AS \([^]*\), x AS/);
    // A query that defines a name itself keeps its own.
    const mine = 'WITH bucket_sources AS (SELECT 1 AS bucket) SELECT * FROM bucket_sources';
    expect(withCoverageRelations(mine)).toBe(mine);
  });
});

describe('ACL and Block Public Access changes the access log records without saying what they set', () => {
  const picked = selectDetections(library, ['bucket-acl-public', 'public-access-block-removed']);
  const presigned = '?x-amz-acl=public-read&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=900&X-Amz-Signature=c0ffee';
  const lines = [
    accessLine({ bucket: 'prod-data', id: 'P1', op: 'REST.PUT.ACL', key: '-', query: '?acl' }),
    accessLine({ bucket: 'prod-data', id: 'P2', op: 'REST.PUT.PUBLIC_ACCESS_BLOCK', key: '-', query: '?publicAccessBlock' }),
    // An ACL in a pre-signed URL's query string is judged: a finding, not a gap.
    accessLine({ bucket: 'web-assets', id: 'P3', op: 'REST.PUT.ACL', query: `?acl&${presigned.slice(1)}`, auth: 'QueryString' }),
  ];
  const aclGap = { scope: 'prod-data', reason: 'ACL changes only the access log recorded (CloudTrail has no record of them; an object ACL is a data event): it does not log the ACL they set', records: 1 };
  const blockGap = { scope: 'prod-data', reason: 'PutBucketPublicAccessBlock calls only the access log recorded (CloudTrail has no record of them): it does not say which settings they left off', records: 1 };

  it('access logs alone: each names the changes it could not read, and that it had no CloudTrail', async () => {
    const r = await detect(await dataset('acl-access-only', lines, []), picked);
    expect(of(r.coverage, 'bucket-acl-public')).toEqual([
      { scope: 'cloudtrail', reason: "no CloudTrail records in the data read: the access log does not log the ACL a request sets (only one in a pre-signed URL's query string)" },
      aclGap,
    ]);
    expect(of(r.coverage, 'public-access-block-removed')).toEqual([
      { scope: 'cloudtrail', reason: "no CloudTrail records in the data read: the access log never shows the account's Block Public Access, nor the settings a bucket's PUT set" },
      blockGap,
    ]);
    expect(r.findings.map((f) => [f.detection_id, f.bucket, f.source])).toEqual([['bucket-acl-public', 'web-assets', 'access_log']]);
  });

  it('a change CloudTrail recorded too is judged there: no gap', async () => {
    const data = await dataset('acl-both', lines, [ctRecord({ bucket: 'prod-data', name: 'PutBucketAcl', id: 'P1' })]);
    const r = await detect(data, picked);
    expect(of(r.coverage, 'bucket-acl-public')).toEqual([]);
    expect(of(r.coverage, 'public-access-block-removed')).toEqual([blockGap]);
    await sameOnAthena(data, await detect(data));
  }, 30_000);
});

describe('bucket policies the evaluator cannot read', () => {
  it('are listed as not checked by the policy detections, never judged private', async () => {
    const put = (bucket: string, id: string, policy: unknown): Record<string, unknown> => {
      const r = ctRecord({ bucket, name: 'PutBucketPolicy', id });
      return { ...r, requestParameters: { ...(r.requestParameters as object), ...(policy === undefined ? {} : { bucketPolicy: policy }) } };
    };
    const data = await dataset('odd-policies', [], [
      put('forged', 'Q1', { Statement: [{ Effect: 'Allow', Principal: '*', Action: [1], Resource: '*' }] }),
      put('forged', 'Q2', JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: '*', NotAction: [[]], Resource: '*' }] })),
      put('no-policy', 'Q3', undefined),
      put('fine', 'Q4', { Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 's3:GetObject', Resource: 'arn:aws:s3:::fine/*' }] }),
    ]);
    const r = await detect(data, selectDetections(library, ['bucket-policy-public', 'bucket-policy-external-account']));
    expect(r.findings).toEqual([]);
    for (const id of ['bucket-policy-public', 'bucket-policy-external-account']) {
      expect(of(r.coverage, id), id).toEqual([
        { scope: 'forged', reason: expect.stringMatching(/^PutBucketPolicy calls whose policy is not one S3 accepts/), records: 2 },
        { scope: 'no-policy', reason: 'PutBucketPolicy calls whose record holds no policy document: not judged', records: 1 },
      ]);
    }
    // Posture says so too, and carries on with the rest.
    const ds = await openDataset(data);
    try {
      const buckets = await posture(ds, { at: new Date('2025-03-11T00:00:00Z') });
      expect(buckets.map((b) => [b.bucket, b.settings.bucket_policy?.value])).toEqual([
        ['fine', expect.stringMatching(/^not public/)], ['forged', 'set (not readable in the log)'], ['no-policy', 'set (not readable in the log)'],
      ]);
    } finally {
      ds.close();
    }
  });
});

describe('the report escapes what it prints', () => {
  it('a hostile bucket name or reason cannot drive the terminal', () => {
    const d = library.find((x) => x.id === 'weak-tls-request') as Detection;
    const text = formatFindings([], 'table', {
      detections: [d], runs: [{ id: d.id, findings: 0, ms: 1 }], version: 'test',
      coverage: [{ detection_id: d.id, scope: 'evil\u001b[2J\nbucket', reason: 'why\u202e\u0007', records: 1 }],
    });
    expect(text).toContain('  - evil\\u001b[2J\\u000abucket: why\\u202e\\u0007 (1 record)');
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
  });
});

describe('the coverage key of a detection file', () => {
  const good = library.find((x) => x.id === 'weak-tls-request') as Detection;
  // The file as written (its tests unparsed), without its coverage key, then `over`.
  const raw = parseYaml(readFileSync(good.file, 'utf8')) as Record<string, unknown>;
  const doc = (over: Record<string, unknown>): Record<string, unknown> => {
    const { coverage: _, ...rest } = raw;
    return { ...rest, ...over };
  };
  const file = '/rules/weak-tls-request.yaml';

  it('is optional, and kept when given', () => {
    expect(validateDetection(doc({}), file).coverage).toBeUndefined();
    expect(validateDetection(doc({ coverage: good.coverage }), file).coverage).toBe(good.coverage);
  });

  it('refuses coverage that is not SQL text, or uses a parameter not declared', () => {
    expect(() => validateDetection(doc({ coverage: ['SELECT 1'] }), file)).toThrow(/weak-tls-request\.yaml: coverage must be SQL text/);
    expect(() => validateDetection(doc({ coverage: 'SELECT bucket AS scope, $why AS reason FROM access_log' }), file)).toThrow(/the coverage SQL uses \$why but params does not declare it/);
  });

  it('refuses, before reading data, coverage SQL that does not run or does not select scope and reason', async () => {
    const ds = await openDataset(await emptyDataset(join(tmp.dir, 'none')));
    try {
      const bad = (coverage: string): Detection => ({ ...good, coverage });
      await expect(runDetections(ds, [bad('SELECT nope AS scope, 1 AS reason FROM access_log')])).rejects.toThrow(/weak-tls-request\.yaml: the coverage SQL does not run on the dataset's tables: .*nope/);
      await expect(runDetections(ds, [bad('SELECT bucket, 1 AS reason FROM access_log')])).rejects.toThrow(DetectionError);
      await expect(runDetections(ds, [bad('SELECT bucket AS scope, 1 AS reason, 2 AS extra FROM access_log')])).rejects.toThrow(/must select scope and reason, and may select records \(it selects scope, reason, extra\)/);
    } finally {
      ds.close();
    }
  });
});

describe('coverage SQL rendered for Athena (checked as Trino in athena-render.test.ts)', () => {
  it('is rendered for every detection that has it, and says why when it cannot run there', async () => {
    const withCoverage = library.filter((d) => d.coverage !== undefined);
    expect(withCoverage.map((d) => d.id).sort()).toEqual([
      'anonymous-access', 'anonymous-or-denied-sweep', 'bucket-acl-public', 'bucket-enumeration', 'bucket-policy-external-account', 'bucket-policy-public', 'cloudtrail-tampering', 'copy-out-then-delete',
      'credentials-file-read', 'cross-account-access', 'default-encryption-foreign-kms-key', 'first-access-to-bucket', 'foreign-kms-key-write', 'kms-key-policy-external', 'large-data-egress', 'mass-delete',
      'mfa-delete-disabled', 'new-network-for-principal', 'permanent-delete-without-mfa', 'plaintext-http-request', 'presigned-url-long-expiry', 'public-access-block-removed', 'read-volume-over-baseline', 'sse-c-object-write',
      'threat-intel-address', 'unencrypted-object-write', 'versioning-suspended', 'vpc-endpoint-access-denied', 'vpc-endpoint-bypass', 'weak-tls-request',
    ]);
    const s = await athenaCoverageStatements(library, { database: 'sec_db' });
    // All but the DuckDB-only detections' (Athena skips those whole, and says so).
    expect(withCoverage.filter((d) => !nativeFunctionIn(d.sql) && typeof s.detections.get(d.id) !== 'string')).toEqual([]);
    const broken = { ...(withCoverage[0] as Detection), coverage: 'SELECT url_extract_host(bucket) AS scope, 1 AS reason FROM access_log' };
    expect(String((await athenaCoverageStatements([broken], { database: 'x' })).detections.get(broken.id))).toMatch(/the coverage SQL does not run on the dataset's tables: .*url_extract_host/);
    const wrong = { ...(withCoverage[0] as Detection), coverage: 'SELECT bucket FROM access_log' };
    expect(String((await athenaCoverageStatements([wrong], { database: 'x' })).detections.get(wrong.id))).toMatch(/must select scope and reason/);
  });
});
