/**
 * What the findings of the detections that judge a weakening say about it
 * (issue 14) and those of ransomware and destruction (issue 16): the
 * detections' own tests say which records fire; these check the evidence
 * those findings carry (details.log_bucket, details.denied, details.changes,
 * details.batch_calls, details.s3_evidence, details.external_accounts,
 * copy-out-then-delete's destinations), their
 * severity and coverage, over the same test records.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDataset } from '../../query/dataset.js';
import { runDetections, selectDetections, type DetectResult } from '../../query/detect.js';
import { datasetFor, runDetectionTest } from '../../query/detection-tests.js';
import { loadDetections, type Detection, type DetectionTest } from '../../query/detection.js';
import type { Finding } from '../../query/finding.js';

const library = await loadDetections();

/** The findings of the test of `id` whose name starts with `name`, its params replaced by `params` when given. */
async function findings(id: string, name: string, params?: DetectionTest['params']): Promise<Finding[]> {
  const d = library.find((x) => x.id === id) as Detection;
  const t = d.tests.find((x) => x.name.startsWith(name)) as DetectionTest;
  expect(t, `${id}: no test named ${name}`).toBeDefined();
  const outcome = await runDetectionTest(d, params ? { ...t, params, fires: undefined } : t);
  expect(outcome.error).toBeUndefined();
  return outcome.findings;
}

/** Run `detections` over the records of the test of `id` named `name`, as `detect` would (findings and coverage). */
async function detectOver(id: string, name: string, detections: readonly Detection[], params: Record<string, string> = {}): Promise<DetectResult> {
  const d = library.find((x) => x.id === id) as Detection;
  const t = d.tests.find((x) => x.name.startsWith(name)) as DetectionTest;
  const dir = await mkdtemp(join(tmpdir(), 's3sift-weaken-'));
  try {
    const ds = await openDataset(await datasetFor(t, dir));
    try {
      // One finding per record (ungrouped): each test record's severity is what is checked.
      return await runDetections(ds, detections, params, undefined, { ungrouped: true });
    } finally {
      ds.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const byBucket = (fs: Finding[]): Record<string, Record<string, unknown>> => Object.fromEntries(fs.map((f) => [String(f.bucket), f.details]));

describe('lifecycle-expiration-added', () => {
  it('marks a bucket that receives logs, with why, and an ordinary bucket as not one', async () => {
    const all = byBucket(await findings('lifecycle-expiration-added', 'with log_buckets_only, a trail', {}));
    expect(all['audit-logs']).toMatchObject({ log_bucket: true, log_evidence: ['CloudTrail trail org-trail'], expiration_days: 1 });
    expect(all['access-logs']).toMatchObject({ log_bucket: true, log_evidence: ['server access logs of prod-data'], prefixes: ['prod-data/'] });
    expect(all.scratch).toMatchObject({ log_bucket: false, rules: ['tmp'] });
    expect(all.scratch).not.toHaveProperty('log_evidence');
    expect(String(all['audit-logs']?.summary)).toMatch(/^on a bucket that receives logs: rule nuke expires objects after 1 day/);
  });

  it('is high on a log bucket when it keeps logs for less than min_log_retention_days or to a fixed Date, else the detection\'s', async () => {
    const fs = await findings('lifecycle-expiration-added', "on a log bucket, a year's retention");
    expect(fs.map((f) => [(f.details.rules as string[])[0], f.severity]).sort()).toEqual([['cutoff', 'high'], ['retention', 'medium'], ['versions', 'high']]);
    expect(fs.every((f) => !('severity' in f.details))).toBe(true);
    const raised = await findings('lifecycle-expiration-added', "on a log bucket, a year's retention", { log_buckets_only: true, min_log_retention_days: 400 });
    expect(raised.map((f) => f.severity)).toEqual(['high', 'high', 'high']);
    const ordinary = await findings('lifecycle-expiration-added', 'with log_buckets_only, a trail', {});
    expect(ordinary.map((f) => [f.bucket, f.severity]).sort()).toEqual([['access-logs', 'high'], ['audit-logs', 'high'], ['scratch', 'medium']]);
  });

  it('says which enabled rules expire what', async () => {
    const fs = await findings('lifecycle-expiration-added', 'an enabled Expiration rule');
    expect(fs.map((f) => f.details.rules).sort()).toEqual([['no-history'], ['purge'], ['wipe']]);
    expect(fs.find((f) => (f.details.rules as string[])[0] === 'no-history')?.details).toMatchObject({ noncurrent_days: 1, log_bucket: false });
  });
});

describe('cloudtrail-tampering', () => {
  it('marks denied attempts, and only those, as denied', async () => {
    const denied = await findings('cloudtrail-tampering', 'a denied StopLogging');
    expect(denied.map((f) => [f.details.operation, f.details.denied, f.details.changes]).sort()).toEqual([
      ['DeleteTrail', true, ['trail deleted']],
      ['StopLogging', true, ['logging stopped']],
    ]);
    expect(denied.map((f) => f.severity)).toEqual(['medium', 'medium']);
    const done = await findings('cloudtrail-tampering', 'StopLogging, DeleteTrail');
    expect(done.every((f) => f.details.denied === false && f.severity === 'critical')).toBe(true);
  });

  it('lists selectors it cannot judge alone (no S3 data events, or some buckets only, and no earlier selectors of the trail) as not checked, and only those', async () => {
    const r = await detectOver('cloudtrail-tampering', 'PutEventSelectors judged alone', selectDetections(library, ['cloudtrail-tampering']));
    expect(r.coverage).toEqual([
      // WriteOnly fires; that it logs one bucket only may also have narrowed it, which cannot be told.
      { detection_id: 'cloudtrail-tampering', scope: 'trail 111122223333/trail-c', reason: expect.stringMatching(/^PutEventSelectors that logs S3 data events of some buckets only, and no earlier selectors/), records: 1 },
      { detection_id: 'cloudtrail-tampering', scope: 'trail 111122223333/trail-d', reason: expect.stringMatching(/^PutEventSelectors without S3 data events, and no earlier selectors/), records: 1 },
    ]);
    // A trail is its account and name: another account's trail of the same name has no earlier state here.
    const other = await detectOver('cloudtrail-tampering', 'a trail of the same name in another account', selectDetections(library, ['cloudtrail-tampering']));
    expect(other.coverage.map((c) => c.scope)).toEqual(['trail 444455556666/org']);
    // Of a trail's calls compared one with the one before, only the first, scoped to one bucket, has nothing before it.
    const compared = await detectOver('cloudtrail-tampering', 'PutEventSelectors compared', selectDetections(library, ['cloudtrail-tampering']));
    expect(compared.coverage.map((c) => [c.scope, c.records])).toEqual([['trail 111122223333/org-trail', 1]]);
  });

  it('says what an UpdateTrail changed, from what the trail was before', async () => {
    const fs = await findings('cloudtrail-tampering', 'UpdateTrail moving');
    // Against settings the dataset shows: critical; against ones it does not (a tool re-sending them looks the same): medium.
    expect(fs.map((f) => [(f.details.changes as string[]).join('; ').includes('(earlier one not in the dataset)'), f.severity]).sort()).toEqual([
      [false, 'critical'], [false, 'critical'], [false, 'critical'], [true, 'medium'],
    ]);
    const changes = fs.map((f) => (f.details.changes as string[]).join('; ')).sort();
    expect(changes).toEqual([
      'KMS key "" -> "arn:aws:kms:us-east-1:999988887777:key/1234abcd-12ab-34cd-56ef-1234567890ab"',
      'log bucket (earlier one not in the dataset) -> somewhere-else',
      'log bucket audit-logs -> attacker-sink',
      'multi-region off: other regions no longer logged',
    ]);
  });

  it('says what new selectors lost, and against what they were compared', async () => {
    const fs = await findings('cloudtrail-tampering', 'PutEventSelectors compared');
    expect(fs.map((f) => f.details.compared_with)).toEqual(expect.arrayContaining([expect.stringMatching(/^the previous selectors \(PutEventSelectors T\d-1\)$/)]));
    const lost = fs.flatMap((f) => f.details.changes as string[]).sort();
    expect(lost).toEqual([
      'AWS::S3::Object data events (read) no longer logged (all resources)',
      'AWS::S3::Object data events (read) no longer logged for arn:aws:s3:::prod-data/',
      'AWS::S3::Object data events (write) no longer logged (all resources)',
      'AWS::S3::Object data events (write) no longer logged for arn:aws:s3:::prod-data/',
    ]);
    const advanced = await findings('cloudtrail-tampering', 'advanced selectors');
    expect(advanced.flatMap((f) => f.details.changes as string[])).toContain('new filter on AWS::S3::Object data events: resources.ARN notStartsWith arn:aws:s3:::prod-data/');
  });
});

describe('kms-key-disabled-or-deleted', () => {
  it('is high for a key S3 uses, saying how, and medium for another key', async () => {
    const fs = await findings('kms-key-disabled-or-deleted', 'a key S3 uses');
    expect(fs.map((f) => [f.details.operation, f.severity, f.details.used_by_s3, f.details.s3_evidence ?? null]).sort()).toEqual([
      ['DeleteImportedKeyMaterial', 'high', true, ['KMS calls by S3 for prod-data']],
      ['DisableKey', 'high', true, ['object writes to prod-data']],
      ['ScheduleKeyDeletion', 'high', true, ['default encryption of prod-data']],
      ['ScheduleKeyDeletion', 'medium', false, null],
    ]);
    expect(fs.find((f) => f.severity === 'medium')?.details.pending_window_days).toBe(30);
  });
});

describe('kms-key-policy-external', () => {
  it('names the accounts let in, "*" for everyone', async () => {
    const fs = await findings('kms-key-policy-external', 'another account by ARN');
    expect(fs.map((f) => f.details.external_accounts).sort()).toEqual([['*'], ['444455556666'], ['555566667777'], ['999988887777']]);
    expect(fs.find((f) => f.details.operation === 'CreateKey')?.details.kms_key).toBe('arn:aws:kms:us-east-1:111122223333:key/3c3c3c3c-0000-4000-8000-00000000000c');
  });

  it('lists an unreadable policy and a Principal "*" grant whose conditions name no account as not checked', async () => {
    const r = await detectOver('kms-key-policy-external', "the owner's own accounts", selectDetections(library, ['kms-key-policy-external']));
    expect(r.findings).toEqual([]);
    expect(r.coverage.map((c) => [c.scope, c.reason.split(' ')[0] + ' ' + c.reason.split(' ')[1], c.records])).toEqual([
      ['1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a10', 'key policies', 1],
      ['1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a10', 'key policy', 1],
    ]);
  });
});

describe('default-encryption-foreign-kms-key', () => {
  it("names the foreign keys and their accounts, and lists a bare key ID or alias as not checked", async () => {
    const fs = await findings('default-encryption-foreign-kms-key', "another account's key ARN");
    expect(fs.map((f) => [f.details.key_accounts, f.details.bucket_owner_account]).sort()).toEqual([[['999988887777'], '111122223333'], [['999988887777'], '111122223333']]);
    const r = await detectOver('default-encryption-foreign-kms-key', "the owner's own key ARN", selectDetections(library, ['default-encryption-foreign-kms-key']));
    expect(r.coverage).toEqual([{ detection_id: 'default-encryption-foreign-kms-key', scope: 'prod-data', reason: expect.stringMatching(/bare key ID or alias/), records: 1 }]);
  });
});

describe('mass-delete', () => {
  it('counts DeleteObjects calls only CloudTrail saw as batches of unknown size', async () => {
    const [f] = await findings('mass-delete', 'a burst of DeleteObjects');
    expect(f?.details).toMatchObject({ deleted: 4, batch_calls: 4, buckets: ['prod-data'] });
  });

  it('counts the keys the access log shows, and no batch of unknown size then', async () => {
    const [f] = await findings('mass-delete', 'where the access log covers');
    expect(f?.source).toBe('access_log');
    expect(f?.details).toMatchObject({ deleted: 30, batch_calls: 0 });
  });
});

describe('copy-out-then-delete', () => {
  it("is critical when the destination is another account's, with the keys, buckets and accounts to check", async () => {
    const [f] = await findings('copy-out-then-delete', 'twelve keys copied');
    expect(f?.severity).toBe('critical');
    expect(f?.details).toMatchObject({
      copied_keys: 12, deleted_keys: 12, permanent_deletes: 0, batch_deletes_without_keys: 0, destination_owner: 'another account',
      destination_buckets: ['attacker-drop'], destination_accounts: ['999988887777'],
      sample_keys: ['sales/part-000.csv', 'sales/part-001.csv', 'sales/part-002.csv', 'sales/part-003.csv', 'sales/part-004.csv'],
    });
    expect(f?.details.first_copy).toBeDefined();
    expect(f?.details.last_delete).toBeDefined();
  });

  it('is medium when the destination is not in the data, critical when its access log shows another bucket owner', async () => {
    const fs = byBucket(await findings('copy-out-then-delete', 'the access log alone'));
    expect(fs['prod-data']).toMatchObject({ destination_owner: 'unknown (destination unknown)', deleted_keys: 10, permanent_deletes: 10, destination_note: expect.stringMatching(/no destination in the data/) });
    expect(fs.finance).toMatchObject({ destination_owner: 'another account', deleted_keys: 10, destination_buckets: ['attacker-drop'] });
    const sev = (await findings('copy-out-then-delete', 'the access log alone')).map((f) => [f.bucket, f.severity]).sort();
    expect(sev).toEqual([['finance', 'critical'], ['prod-data', 'medium']]);
  });

  it('counts a DeleteObjects call whose keys no log lists, high, the deleted keys unknown', async () => {
    const [f] = await findings('copy-out-then-delete', 'copies out then a DeleteObjects');
    expect(f?.severity).toBe('high');
    expect(f?.details).toMatchObject({ copied_keys: 10, deleted_keys: 0, batch_deletes_without_keys: 1, destination_owner: 'unknown', destination_buckets: ['drop-zone-7'] });
  });

  it('fires critical on a copy into another account when owner_accounts does not name it', async () => {
    const fs = await findings('copy-out-then-delete', 'a copy into a bucket of one of owner_accounts', {});
    expect(fs.map((f) => [f.severity, f.details.destination_accounts])).toEqual([['critical', ['444455556666']]]);
  });

  it('lists copies whose source names no bucket as not checked', async () => {
    const r = await detectOver('copy-out-then-delete', 'copies from an access point', selectDetections(library, ['copy-out-then-delete']));
    expect(r.findings).toEqual([]);
    expect(r.coverage).toEqual([{ detection_id: 'copy-out-then-delete', scope: 'drop-zone-7', reason: expect.stringMatching(/names no bucket and key/), records: 10 }]);
  });
});

describe('offensive-tool-user-agent', () => {
  it('reports an auditing tool low, an attack tool at the detection\'s severity', async () => {
    const fs = await findings('offensive-tool-user-agent', "TruffleHog's GetCallerIdentity");
    const byAgent = (needle: string): string[] => fs.filter((f) => JSON.stringify(f.details).toLowerCase().includes(needle)).map((f) => f.severity);
    expect(byAgent('scout suite/')).toEqual(['low']);
    expect(byAgent('trufflehog')).toEqual(['medium']);
  });
});

describe("a finding's own severity (the SQL's severity column)", () => {
  it('must be one of the severities: anything else is the detection\'s error, named', async () => {
    const d = library.find((x) => x.id === 'cloudtrail-tampering') as Detection;
    const bad: Detection = { ...d, sql: d.sql.replace("CASE WHEN e.denied OR pc.against_unknown THEN 'medium' END AS severity", "CASE WHEN e.denied THEN 'severe' END AS severity") };
    expect(bad.sql).not.toBe(d.sql);
    await expect(detectOver('cloudtrail-tampering', 'a denied StopLogging', [bad])).rejects.toThrow(/cloudtrail-tampering .*its severity column gave "severe"; a finding's severity is one of info, low, medium, high, critical/);
  });

  it('is read whatever its case and spaces', async () => {
    const d = library.find((x) => x.id === 'cloudtrail-tampering') as Detection;
    const loud: Detection = { ...d, sql: d.sql.replace("CASE WHEN e.denied OR pc.against_unknown THEN 'medium' END AS severity", "CASE WHEN e.denied THEN ' High ' END AS severity") };
    expect(loud.sql).not.toBe(d.sql);
    const r = await detectOver('cloudtrail-tampering', 'a denied StopLogging', [loud]);
    expect(r.findings.map((f) => f.severity)).toEqual(['high', 'high']);
  });
});

describe('bucket-website-changed', () => {
  it('is medium for a redirect to another host, low for a site turned on, a delete, and the apex-to-www redirect', async () => {
    const fs = await findings('bucket-website-changed', 'a website turned on');
    expect(Object.fromEntries(fs.map((f) => [String(f.bucket), f.severity]))).toEqual({ 'prod-site': 'low', 'www-example': 'medium', 'example.com': 'low' });
    expect(fs).toHaveLength(4);
  });
});

describe('vpc-endpoint-access-denied', () => {
  it('lists as not checked an account whose S3 requests come through an endpoint and that has no network activity events, not one without endpoints', async () => {
    const d = library.filter((x) => x.id === 'vpc-endpoint-access-denied');
    const r = await detectOver('vpc-endpoint-access-denied', 'no network activity events', d);
    expect(r.findings).toEqual([]);
    expect(r.coverage.map((c) => c.scope)).toEqual(['CloudTrail of account 111122223333']);
    const withEvents = await detectOver('vpc-endpoint-access-denied', 'an allowed network activity event', d);
    expect(withEvents.coverage).toEqual([]);
  });
});
