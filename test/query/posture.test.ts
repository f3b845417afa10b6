import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../../ingest/ingest.js';
import { openDataset } from '../../query/dataset.js';
import { posture, type BucketPosture } from '../../query/posture.js';
import { CONFORMANCE, tempDir } from '../helpers/dataset.js';
import { captureIo } from '../helpers/io.js';
import { main } from '../../cli/main.js';
import { createApp } from '../../server/app.js';
import { loadDetections } from '../../query/detection.js';
import { runDetections, selectDetections } from '../../query/detect.js';

const OWNER = '111122223333';
let seq = 0;
/** A successful S3 call by alice on prod-data, as CloudTrail records it. */
function call(time: string, eventName: string, params: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const data = eventName === 'GetObject';
  return {
    eventVersion: '1.09', userIdentity: { type: 'IAMUser', principalId: 'AIDAALICE', arn: `arn:aws:iam::${OWNER}:user/alice`, accountId: OWNER, userName: 'alice' },
    eventTime: time, eventSource: 's3.amazonaws.com', eventName, awsRegion: 'us-east-1', sourceIPAddress: '203.0.113.9', userAgent: 'aws-cli/2',
    requestParameters: { bucketName: 'prod-data', Host: 'prod-data.s3.us-east-1.amazonaws.com', ...params }, responseElements: null,
    requestID: `R${++seq}`, eventID: `e-${seq}`, readOnly: data, eventType: 'AwsApiCall', managementEvent: !data, recipientAccountId: OWNER,
    eventCategory: data ? 'Data' : 'Management', ...extra,
  };
}

const PUBLIC_READ = { Version: '2012-10-17', Statement: [{ Sid: 'PublicRead', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::prod-data/*' }] };
const ENFORCING = {
  Version: '2012-10-17',
  Statement: [
    { Sid: 'DenyUnencrypted', Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: 'arn:aws:s3:::prod-data/*', Condition: { Null: { 's3:x-amz-server-side-encryption': 'true' } } },
    { Sid: 'DenyHttp', Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: ['arn:aws:s3:::prod-data', 'arn:aws:s3:::prod-data/*'], Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
  ],
};

const HISTORY = [
  call('2025-03-01T00:00:00Z', 'CreateBucket', { 'x-amz-acl': ['private'] }),
  call('2025-03-01T01:00:00Z', 'PutBucketVersioning', { VersioningConfiguration: { Status: 'Enabled', MfaDelete: 'Disabled' } }),
  call('2025-03-01T02:00:00Z', 'PutBucketLogging', { BucketLoggingStatus: { LoggingEnabled: { TargetBucket: 'log-bucket', TargetPrefix: 'prod-data/' } } }),
  call('2025-03-01T03:00:00Z', 'PutBucketEncryption', { ServerSideEncryptionConfiguration: { Rule: { ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: 'arn:aws:kms:us-east-1:111122223333:key/k1' } } } }),
  call('2025-03-02T00:00:00Z', 'PutBucketPolicy', { bucketPolicy: ENFORCING }),
  call('2025-03-03T00:00:00Z', 'PutBucketVersioning', { VersioningConfiguration: { Status: 'Suspended' } }),
  call('2025-03-03T12:00:00Z', 'GetObject', { key: 'a.csv' }),
  call('2025-03-04T00:00:00Z', 'PutBucketPolicy', { bucketPolicy: PUBLIC_READ }),
  // A call that failed changes nothing.
  call('2025-03-04T06:00:00Z', 'PutBucketAcl', { 'x-amz-acl': ['public-read-write'] }, { errorCode: 'AccessDenied', errorMessage: 'Access Denied' }),
  call('2025-03-04T12:00:00Z', 'GetObject', { key: 'b.csv' }),
  call('2025-03-05T00:00:00Z', 'PutBucketPublicAccessBlock', { PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true } }),
  call('2025-03-06T00:00:00Z', 'PutBucketVersioning', { VersioningConfiguration: { Status: 'Enabled', MfaDelete: 'Enabled' } }),
  call('2025-03-07T00:00:00Z', 'PutBucketLogging', { BucketLoggingStatus: {} }),
  call('2025-03-08T00:00:00Z', 'GetObject', { key: 'c.csv' }),
];

let tmp: { dir: string; cleanup: () => void };
let data: string;
beforeAll(async () => {
  tmp = tempDir();
  data = join(tmp.dir, 'data');
  const file = join(tmp.dir, 'history.ndjson');
  writeFileSync(file, HISTORY.map((r) => JSON.stringify(r)).join('\n') + '\n');
  await ingest([file], { data, format: 'auto', force: false, strict: false });
});
afterAll(() => tmp.cleanup());

async function at(t: string): Promise<BucketPosture> {
  const ds = await openDataset(data);
  try {
    const [p] = await posture(ds, { bucket: 'prod-data', at: new Date(t) });
    return p as BucketPosture;
  } finally {
    ds.close();
  }
}

describe('posture reconstructed from CloudTrail', () => {
  it('knows nothing before the first call: every setting unknown, no window', async () => {
    const p = await at('2025-02-28T00:00:00Z');
    expect(Object.values(p.settings).every((s) => s === null)).toBe(true);
    expect(p.windows).toEqual([]);
  });

  it('gives each setting its last value, when and by whom, and leaves unseen settings unknown', async () => {
    const p = await at('2025-03-04T06:00:00Z');
    const v = Object.fromEntries(Object.entries(p.settings).map(([k, s]) => [k, s && { value: s.value, since: s.since, by: s.by }]));
    const alice = `arn:aws:iam::${OWNER}:user/alice`;
    expect(v).toEqual({
      versioning: { value: 'Suspended', since: '2025-03-03T00:00:00.000Z', by: alice },
      mfa_delete: { value: 'Disabled', since: '2025-03-01T01:00:00.000Z', by: alice },
      default_encryption: { value: 'SSE-KMS (arn:aws:kms:us-east-1:111122223333:key/k1)', since: '2025-03-01T03:00:00.000Z', by: alice },
      bucket_policy: { value: 'public (s3:GetObject); does not enforce encryption; allows plain HTTP', since: '2025-03-04T00:00:00.000Z', by: alice },
      acl: { value: 'not public; canned private', since: '2025-03-01T00:00:00.000Z', by: alice },
      block_public_access: null,
      logging: { value: 'to log-bucket/prod-data/', since: '2025-03-01T02:00:00.000Z', by: alice },
      lifecycle_expiration: null,
      replication: null,
      object_ownership: null,
    });
  });

  it('reads the enforcing policy for what it denies', async () => {
    const p = await at('2025-03-02T12:00:00Z');
    expect(p.settings.bucket_policy?.value).toBe('not public; uploads must use AES256 or aws:kms or aws:kms:dsse; denies plain HTTP');
    expect(p.windows.map((w) => w.exposure)).toEqual(['no_mfa_delete']);
  });

  it('gives the exact exposure windows, with the requests that fell in each', async () => {
    const p = await at('2025-03-09T00:00:00Z');
    expect(p.windows.map(({ exposure, from, until, requests }) => ({ exposure, from, until, requests }))).toEqual([
      { exposure: 'no_mfa_delete', from: '2025-03-01T01:00:00.000Z', until: '2025-03-06T00:00:00.000Z', requests: 2 },
      { exposure: 'unversioned', from: '2025-03-03T00:00:00.000Z', until: '2025-03-06T00:00:00.000Z', requests: 2 },
      { exposure: 'public', from: '2025-03-04T00:00:00.000Z', until: '2025-03-05T00:00:00.000Z', requests: 1 },
      { exposure: 'no_encryption_policy', from: '2025-03-04T00:00:00.000Z', until: null, requests: 2 },
      { exposure: 'no_logging', from: '2025-03-07T00:00:00.000Z', until: null, requests: 1 },
    ]);
    expect(p.windows[2]?.opened_by).toBe(`PutBucketPolicy by arn:aws:iam::${OWNER}:user/alice`);
    // The failed PutBucketAcl is not in the timeline.
    expect(p.timeline.map((c) => c.event_name)).not.toContain('PutBucketAcl');
    expect(p.timeline).toHaveLength(12);
  });
});

describe('the backdoored bucket policy of the real attack run (invictus-ir)', () => {
  it('fires bucket-policy-external-account once, and posture shows the grant and its removal', async () => {
    const d = join(tmp.dir, 'invictus');
    await ingest([new URL('invictus-ir/', CONFORMANCE).pathname], { data: d, format: 'cloudtrail', force: false, strict: false });
    const ds = await openDataset(d);
    try {
      const lib = selectDetections(await loadDetections(), ['bucket-policy-external-account']);
      const { findings } = await runDetections(ds, lib);
      expect(findings.map((f) => [f.bucket, f.principal, f.details.external_accounts])).toEqual([
        ['stratus-red-team-bdbp-lhfzvgcamn', expect.stringMatching(/^arn:aws:/), ['193672423079']],
      ]);
      const [p] = await posture(ds, { bucket: 'stratus-red-team-bdbp-lhfzvgcamn', at: new Date('2023-07-10T12:25:00Z') });
      expect(p?.settings.bucket_policy?.value).toBe('not public; does not enforce encryption; allows plain HTTP; grants accounts 193672423079');
      const [after] = await posture(ds, { bucket: 'stratus-red-team-bdbp-lhfzvgcamn', at: new Date('2023-07-11T00:00:00Z') });
      expect(after?.settings.bucket_policy).toMatchObject({ value: 'none', event_name: 'DeleteBucketPolicy' });
    } finally {
      ds.close();
    }
  });
});

/** The same calls on another bucket (`on`), by alice unless `extra` says otherwise. */
const on = (bucket: string, time: string, eventName: string, params: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  call(time, eventName, { bucketName: bucket, Host: `${bucket}.s3.us-east-1.amazonaws.com`, ...params }, extra);
const OTHER = '444455556666';
/** Mallory, in another account: who takes a deleted bucket's name. */
const MALLORY = {
  userIdentity: { type: 'IAMUser', principalId: 'AIDAMALLORY', arn: `arn:aws:iam::${OTHER}:user/mallory`, accountId: OTHER, userName: 'mallory' },
  recipientAccountId: OTHER, sourceIPAddress: '198.51.100.66',
};
const publicRead = (bucket: string): Record<string, unknown> => ({ ...PUBLIC_READ, Statement: [{ ...PUBLIC_READ.Statement[0], Resource: `arn:aws:s3:::${bucket}/*` }] });
const ALICE = `arn:aws:iam::${OWNER}:user/alice`;
const HOSTILE = `arn:aws:iam::${OWNER}:user/\u001b]0;pwned\u0007eve\u202e`;

/** Two lives of `gone-data`: public then deleted, a late call, then created again by another account. */
const LIVES = [
  on('gone-data', '2025-04-01T00:00:00Z', 'CreateBucket', { 'x-amz-acl': ['private'] }),
  on('gone-data', '2025-04-01T01:00:00Z', 'PutBucketVersioning', { VersioningConfiguration: { Status: 'Suspended' } }),
  on('gone-data', '2025-04-02T00:00:00Z', 'PutBucketPolicy', { bucketPolicy: publicRead('gone-data') }),
  on('gone-data', '2025-04-02T12:00:00Z', 'GetObject', { key: 'a.csv' }),
  // Failed deletes change nothing.
  on('gone-data', '2025-04-03T00:00:00Z', 'DeleteBucket', {}, { errorCode: 'BucketNotEmpty', errorMessage: 'The bucket you tried to delete is not empty' }),
  on('gone-data', '2025-04-03T01:00:00Z', 'DeleteBucket', {}, { errorCode: 'AccessDenied', errorMessage: 'Access Denied' }),
  on('gone-data', '2025-04-03T12:00:00Z', 'GetObject', { key: 'b.csv' }),
  on('gone-data', '2025-04-04T00:00:00Z', 'DeleteBucket', {}),
  // After the delete: a request (not counted in any window) and a call that still succeeded (not applied).
  on('gone-data', '2025-04-04T06:00:00Z', 'GetObject', { key: 'c.csv' }),
  on('gone-data', '2025-04-04T12:00:00Z', 'PutBucketVersioning', { VersioningConfiguration: { Status: 'Enabled', MfaDelete: 'Enabled' } }),
  on('gone-data', '2025-04-05T00:00:00Z', 'CreateBucket', {}, MALLORY),
  on('gone-data', '2025-04-05T01:00:00Z', 'PutBucketVersioning', { VersioningConfiguration: { Status: 'Enabled' } }, MALLORY),
  // Deleted in the same second as its last change, the DeleteBucket's event ID sorting first: the change still comes first.
  on('tie-data', '2025-04-06T00:00:00Z', 'PutBucketPolicy', { bucketPolicy: publicRead('tie-data') }, { eventID: 'z-policy' }),
  on('tie-data', '2025-04-06T00:00:00Z', 'DeleteBucket', {}, { eventID: 'a-delete' }),
  // Deleted by a principal whose name carries terminal escapes.
  on('hostile-data', '2025-04-07T00:00:00Z', 'PutBucketAcl', { 'x-amz-acl': ['public-read'] }),
  on('hostile-data', '2025-04-07T01:00:00Z', 'DeleteBucket', {}, { userIdentity: { type: 'IAMUser', principalId: 'AIDAEVE', arn: HOSTILE, accountId: OWNER } }),
];

describe('deleted buckets and their lives', () => {
  let lives: string;
  beforeAll(async () => {
    lives = join(tmp.dir, 'lives');
    const file = join(tmp.dir, 'lives.ndjson');
    writeFileSync(file, LIVES.map((r) => JSON.stringify(r)).join('\n') + '\n');
    await ingest([file], { data: lives, format: 'auto', force: false, strict: false });
  });

  async function bucketAt(bucket: string, t: string): Promise<BucketPosture> {
    const ds = await openDataset(lives);
    try {
      const [p] = await posture(ds, { bucket, at: new Date(t) });
      return p as BucketPosture;
    } finally {
      ds.close();
    }
  }
  const spans = (p: BucketPosture): unknown[] => p.windows.map(({ exposure, from, until, closed_by, life, requests }) => ({ exposure, from, until, closed_by, life, requests }));

  it('a failed DeleteBucket (BucketNotEmpty, AccessDenied) changes nothing', async () => {
    const p = await bucketAt('gone-data', '2025-04-03T18:00:00Z');
    expect(p.deleted).toBeNull();
    expect(p.lives).toEqual([expect.objectContaining({ life: 1, from: '2025-04-01T00:00:00.000Z', until: null, deleted: null, account: OWNER })]);
    expect(p.lives[0]?.created).toMatchObject({ time: '2025-04-01T00:00:00.000Z', principal: ALICE, source_ip: '203.0.113.9', account: OWNER });
    expect(p.windows.every((w) => w.until === null)).toBe(true);
    expect(p.settings.bucket_policy?.detail.public).toBe(true);
  });

  it('a successful DeleteBucket closes every open window then, and says when, by whom and from where', async () => {
    const p = await bucketAt('gone-data', '2025-04-04T03:00:00Z');
    const deletion = { time: '2025-04-04T00:00:00.000Z', event_name: 'DeleteBucket', principal: ALICE, source_ip: '203.0.113.9', account: OWNER, event_id: expect.any(String) };
    expect(p.deleted).toEqual(deletion);
    expect(p.lives).toEqual([{ life: 1, from: '2025-04-01T00:00:00.000Z', until: '2025-04-04T00:00:00.000Z', created: expect.objectContaining({ event_name: 'CreateBucket' }), deleted: deletion, account: OWNER, previous_account: null, after_deletion: [] }]);
    const closed = `DeleteBucket by ${ALICE}`;
    // Requests: the two GetObjects and the two failed DeleteBuckets; not the GetObject after the delete.
    expect(spans(p)).toEqual([
      { exposure: 'unversioned', from: '2025-04-01T01:00:00.000Z', until: '2025-04-04T00:00:00.000Z', closed_by: closed, life: 1, requests: 4 },
      { exposure: 'public', from: '2025-04-02T00:00:00.000Z', until: '2025-04-04T00:00:00.000Z', closed_by: closed, life: 1, requests: 4 },
      { exposure: 'no_encryption_policy', from: '2025-04-02T00:00:00.000Z', until: '2025-04-04T00:00:00.000Z', closed_by: closed, life: 1, requests: 4 },
    ]);
    // The settings are kept as they were when it was deleted; the delete itself sets none.
    expect(p.settings.bucket_policy?.since).toBe('2025-04-02T00:00:00.000Z');
    expect(p.timeline.map((c) => c.event_name)).toEqual(['CreateBucket', 'PutBucketVersioning', 'PutBucketPolicy']);
  });

  it('a call that succeeds between the delete and a CreateBucket is kept aside: the bucket stays deleted, no window opens', async () => {
    const p = await bucketAt('gone-data', '2025-04-04T18:00:00Z');
    expect(p.deleted?.time).toBe('2025-04-04T00:00:00.000Z');
    expect(p.lives).toHaveLength(1);
    expect(p.lives[0]?.after_deletion).toEqual([{ time: '2025-04-04T12:00:00.000Z', event_name: 'PutBucketVersioning', principal: ALICE, source_ip: '203.0.113.9', account: OWNER, event_id: expect.any(String) }]);
    expect(p.settings.versioning?.value).toBe('Suspended');
    expect(p.settings.mfa_delete).toBeNull();
    expect(p.windows.every((w) => w.until === '2025-04-04T00:00:00.000Z')).toBe(true);
    expect(p.timeline).toHaveLength(3);
  });

  it('a CreateBucket after the delete starts a new life with nothing inherited, and says the account changed', async () => {
    const p = await bucketAt('gone-data', '2025-04-06T00:00:00Z');
    expect(p.deleted).toBeNull();
    expect(p.lives.map(({ life, from, until, account, previous_account }) => ({ life, from, until, account, previous_account }))).toEqual([
      { life: 1, from: '2025-04-01T00:00:00.000Z', until: '2025-04-04T00:00:00.000Z', account: OWNER, previous_account: null },
      { life: 2, from: '2025-04-05T00:00:00.000Z', until: null, account: OTHER, previous_account: OWNER },
    ]);
    expect(p.lives[1]?.created).toMatchObject({ principal: `arn:aws:iam::${OTHER}:user/mallory`, source_ip: '198.51.100.66', account: OTHER });
    // The old public policy, ACL and suspended versioning are not the new bucket's.
    expect(Object.entries(p.settings).filter(([, s]) => s !== null).map(([n, s]) => [n, s?.value, s?.since])).toEqual([['versioning', 'Enabled', '2025-04-05T01:00:00.000Z']]);
    expect(p.windows.filter((w) => w.life === 2)).toEqual([]);
    expect(p.windows.filter((w) => w.until === null)).toEqual([]);
    expect(p.timeline.map((c) => [c.life, c.event_name])).toEqual([[1, 'CreateBucket'], [1, 'PutBucketVersioning'], [1, 'PutBucketPolicy'], [2, 'PutBucketVersioning']]);
    // The late call still sits between the two lives.
    expect(p.lives[0]?.after_deletion.map((c) => c.time)).toEqual(['2025-04-04T12:00:00.000Z']);
  });

  it('takes a change made in the same second as the DeleteBucket as before it', async () => {
    const p = await bucketAt('tie-data', '2025-04-07T00:00:00Z');
    expect(p.deleted?.time).toBe('2025-04-06T00:00:00.000Z');
    expect(p.lives[0]?.after_deletion).toEqual([]);
    expect(p.settings.bucket_policy?.detail.public).toBe(true);
    expect(p.windows.map((w) => [w.exposure, w.until, w.closed_by])).toEqual([
      ['public', '2025-04-06T00:00:00.000Z', `DeleteBucket by ${ALICE}`],
      ['no_encryption_policy', '2025-04-06T00:00:00.000Z', `DeleteBucket by ${ALICE}`],
    ]);
  });

  it('s3sift posture shows the deletion, the lives and the windows the delete closed (text and JSON)', async () => {
    const io = captureIo();
    expect(await main(['posture', '--data', lives, '--bucket', 'gone-data', '--at', '2025-04-06T00:00:00Z'], io)).toBe(0);
    const out = io.out();
    expect(out).toContain('lives (2):');
    expect(out).toMatch(/\n1 +2025-04-01T00:00:00\.000Z +2025-04-04T00:00:00\.000Z +arn:aws:iam::111122223333:user\/alice from 203\.0\.113\.9 +arn:aws:iam::111122223333:user\/alice from 203\.0\.113\.9 +111122223333\n/);
    expect(out).toMatch(/\n2 +2025-04-05T00:00:00\.000Z +exists +arn:aws:iam::444455556666:user\/mallory from 198\.51\.100\.66 +444455556666\n/);
    expect(out).toContain('life 2 is in another account than life 1: 444455556666 (life 1: 111122223333)');
    expect(out).toContain('life 1: 1 successful call on the name after its deletion and before any CreateBucket, not applied');
    expect(out).toContain('settings of life 2, since 2025-04-05T00:00:00.000Z (nothing carried over from an earlier life):');
    expect(out).toMatch(/\n1 +public +2025-04-02T00:00:00\.000Z +2025-04-04T00:00:00\.000Z +4 +PutBucketPolicy by \S+ +DeleteBucket by arn:aws:iam::111122223333:user\/alice\n/);
    expect(out).toContain('2025-04-04T00:00:00.000Z  (bucket deleted)     life 1 ends; its open exposure windows close  (DeleteBucket by arn:aws:iam::111122223333:user/alice from 203.0.113.9)');
    expect(out).toContain('2025-04-04T12:00:00.000Z  (after deletion)     not applied: the bucket was deleted  (PutBucketVersioning by arn:aws:iam::111122223333:user/alice from 203.0.113.9)');
    expect(out).not.toContain('DELETED');

    const gone = captureIo();
    expect(await main(['posture', '--data', lives, '--bucket', 'gone-data', '--at', '2025-04-04T18:00:00Z'], gone)).toBe(0);
    expect(gone.out()).toContain('DELETED at 2025-04-04T00:00:00.000Z by arn:aws:iam::111122223333:user/alice from 203.0.113.9: the bucket does not exist at 2025-04-04T18:00:00.000Z; no exposure window stays open');
    expect(gone.out()).toContain('settings when it was deleted:');
    expect(gone.out()).not.toContain('still open');

    const json = captureIo();
    expect(await main(['posture', '--data', lives, '--at', '2025-04-08T00:00:00Z', '--format', 'json'], json)).toBe(0);
    const j = JSON.parse(json.out()) as { buckets: BucketPosture[] };
    expect(j.buckets.map((b) => [b.bucket, b.deleted?.time ?? null, b.lives.length])).toEqual([
      ['gone-data', null, 2], ['hostile-data', '2025-04-07T01:00:00.000Z', 1], ['tie-data', '2025-04-06T00:00:00.000Z', 1],
    ]);
  });

  it('escapes a hostile principal in the report', async () => {
    const io = captureIo();
    expect(await main(['posture', '--data', lives, '--bucket', 'hostile-data', '--at', '2025-04-08T00:00:00Z'], io)).toBe(0);
    expect(io.out()).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
    expect(io.out()).toContain('DELETED at 2025-04-07T01:00:00.000Z by arn:aws:iam::111122223333:user/\\u001b]0;pwned\\u0007eve\\u202e from 203.0.113.9');
  });

  it('GET /api/posture shows the deletion in each row and the lives in the JSON', async () => {
    const app = await createApp({ data: lives });
    try {
      const j = (await (await app.app.request('/api/posture?at=2025-04-08T00:00:00Z')).json()) as {
        rows: Array<{ bucket: string; setting: string; value: string | null; life: number | null; deleted: string | null; deleted_by: string | null }>;
        windows: Array<{ bucket: string; exposure: string; until: string | null; closed_by: string | null; life: number }>;
        lives: Array<{ bucket: string; life: number; until: string | null; account: string | null; previous_account: string | null; after_deletion: unknown[] }>;
      };
      expect(j.rows.find((r) => r.bucket === 'tie-data' && r.setting === 'bucket_policy')).toMatchObject({ life: 1, deleted: '2025-04-06T00:00:00.000Z', deleted_by: ALICE });
      expect(j.rows.find((r) => r.bucket === 'gone-data' && r.setting === 'versioning')).toMatchObject({ value: 'Enabled', life: 2, deleted: null, deleted_by: null });
      expect(j.lives.filter((l) => l.bucket === 'gone-data').map((l) => [l.life, l.until, l.account, l.previous_account, l.after_deletion.length])).toEqual([
        [1, '2025-04-04T00:00:00.000Z', OWNER, null, 1],
        [2, null, OTHER, OWNER, 0],
      ]);
      expect(j.windows.filter((w) => w.bucket === 'gone-data').map((w) => [w.exposure, w.until, w.closed_by])).toEqual([
        ['unversioned', '2025-04-04T00:00:00.000Z', `DeleteBucket by ${ALICE}`],
        ['public', '2025-04-04T00:00:00.000Z', `DeleteBucket by ${ALICE}`],
        ['no_encryption_policy', '2025-04-04T00:00:00.000Z', `DeleteBucket by ${ALICE}`],
      ]);
      const csv = await (await app.app.request('/api/posture?bucket=tie-data&at=2025-04-08T00:00:00Z', { headers: { accept: 'text/csv' } })).text();
      expect(csv.split('\n')[0]).toBe('bucket,setting,value,known,since,by,event_name,detail,life,deleted,deleted_by');
      expect(csv).toContain(`,1,2025-04-06T00:00:00.000Z,${ALICE}`);
    } finally {
      app.close();
    }
  });
});
