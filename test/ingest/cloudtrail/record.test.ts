import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCloudTrailRecord, recordsOf, Skip, type CloudTrailRow } from '../../../ingest/cloudtrail/record.js';
import { Reject } from '../../../ingest/reject.js';
import { CLOUDTRAIL } from '../../../ingest/schema.js';
import { CONFORMANCE } from '../../helpers/dataset.js';

const json = (path: string): unknown => JSON.parse(readFileSync(new URL(path, CONFORMANCE), 'utf8'));

/** A minimal S3 data event; `over` replaces or adds top-level fields. */
function s3(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    eventVersion: '1.09',
    userIdentity: { type: 'IAMUser', principalId: 'AIDAEXAMPLE', arn: 'arn:aws:iam::111122223333:user/alice', accountId: '111122223333', accessKeyId: 'AKIAEXAMPLE', userName: 'alice' },
    eventTime: '2025-03-10T08:00:01Z',
    eventSource: 's3.amazonaws.com',
    eventName: 'GetObject',
    awsRegion: 'us-east-1',
    sourceIPAddress: '203.0.113.9',
    userAgent: '[aws-cli/2.13.0]',
    requestParameters: { bucketName: 'prod-data', Host: 'prod-data.s3.us-east-1.amazonaws.com', key: 'reports/q1.csv' },
    responseElements: null,
    additionalEventData: { SignatureVersion: 'SigV4', CipherSuite: 'TLS_AES_128_GCM_SHA256', bytesTransferredIn: 0, AuthenticationMethod: 'AuthHeader', 'x-amz-id-2': 'HOSTID', bytesTransferredOut: 512.0 },
    requestID: 'REQ1',
    eventID: 'e1',
    readOnly: true,
    resources: [{ type: 'AWS::S3::Object', ARN: 'arn:aws:s3:::prod-data/reports/q1.csv' }, { accountId: '111122223333', type: 'AWS::S3::Bucket', ARN: 'arn:aws:s3:::prod-data' }],
    eventType: 'AwsApiCall',
    managementEvent: false,
    recipientAccountId: '111122223333',
    eventCategory: 'Data',
    tlsDetails: { tlsVersion: 'TLSv1.3', cipherSuite: 'TLS_AES_128_GCM_SHA256', clientProvidedHostHeader: 'prod-data.s3.us-east-1.amazonaws.com' },
    ...over,
  };
}

function row(rec: unknown): CloudTrailRow {
  const r = parseCloudTrailRecord(rec);
  if (r instanceof Reject || r instanceof Skip) throw new Error(r.reason);
  return r;
}

describe('parseCloudTrailRecord', () => {
  it('returns every declared column but source_file and source_line', () => {
    const names = CLOUDTRAIL.columns.map((c) => c.name).filter((n) => n !== 'source_file' && n !== 'source_line');
    expect(Object.keys(row(s3())).sort()).toEqual([...names].sort());
  });

  it('lifts an S3 data event into typed columns', () => {
    const r = row(s3());
    expect(r).toMatchObject({
      event_time: new Date('2025-03-10T08:00:01Z'), event_name: 'GetObject', event_source: 's3.amazonaws.com', event_category: 'Data',
      bucket: 'prod-data', key: 'reports/q1.csv', user_type: 'IAMUser', user_name: 'alice', user_account_id: '111122223333',
      read_only: true, management_event: false, mfa_authenticated: null, auth_method: 'AuthHeader', signature_version: 'SigV4',
      cipher_suite: 'TLS_AES_128_GCM_SHA256', tls_version: 'TLSv1.3', bytes_in: 0, bytes_out: 512, host_id: 'HOSTID',
      host_header: 'prod-data.s3.us-east-1.amazonaws.com', presigned_expires_s: null, response_elements: null, error_code: null,
    });
    expect(JSON.parse(r.request_parameters as string)).toEqual(s3().requestParameters);
    expect(JSON.parse(r.resources as string)).toEqual(s3().resources);
    expect(JSON.parse(r.other_fields as string)).toEqual({ tlsDetails: s3().tlsDetails });
  });

  it('keeps every field of the record somewhere: columns, the JSON columns or other_fields', () => {
    const rec = s3({ sharedEventID: 'shared-1', sessionCredentialFromConsole: 'true', someFutureField: { a: [1, 2] } });
    const r = row(rec);
    expect(r.shared_event_id).toBe('shared-1');
    expect(JSON.parse(r.other_fields as string)).toEqual({ tlsDetails: rec.tlsDetails, sessionCredentialFromConsole: 'true', someFutureField: { a: [1, 2] } });
    expect(JSON.parse(r.user_identity as string)).toEqual(rec.userIdentity);
  });

  it('reads the pre-signed expiry from X-Amz-Expires, whatever its case, and the MFA flag from its string', () => {
    const ev = json('aws-docs/eventbridge-s3-putobject.json') as { detail: unknown };
    const r = row(ev.detail);
    expect(r).toMatchObject({ event_name: 'PutObject', bucket: 'username-sfn-tutorial', key: 'test.png', presigned_expires_s: 300, mfa_authenticated: true, invoked_by: 'signin.amazonaws.com' });
    const lower = row(s3({ requestParameters: { bucketName: 'b', key: 'k', 'x-amz-expires': '604800' } }));
    expect(lower.presigned_expires_s).toBe(604800);
  });

  it('does not take a SigV2 Expires (an absolute time) for a pre-signed expiry', () => {
    expect(row(s3({ requestParameters: { bucketName: 'b', key: 'k', Expires: '1741593600' } })).presigned_expires_s).toBeNull();
  });

  it('reads Host as a string or as an array, and host or Host', () => {
    expect(row(s3({ tlsDetails: undefined, requestParameters: { bucketName: 'b', Host: ['b.s3.amazonaws.com'] } })).host_header).toBe('b.s3.amazonaws.com');
    expect(row(s3({ tlsDetails: undefined, requestParameters: { host: 's3.us-west-2.amazonaws.com' } })).host_header).toBe('s3.us-west-2.amazonaws.com');
  });

  it('reads key and Key, and falls back to the resources (ARN or arn) for bucket and key', () => {
    expect(row(s3({ requestParameters: { bucketName: 'b', Key: 'K1' } })).key).toBe('K1');
    const fromArn = row(s3({ requestParameters: {}, resources: [{ type: 'AWS::S3::Object', arn: 'arn:aws:s3:::logs-bucket/a/b c.txt' }] }));
    expect(fromArn).toMatchObject({ bucket: 'logs-bucket', key: 'a/b c.txt' });
    const bucketOnly = row(s3({ requestParameters: null, resources: [{ type: 'AWS::S3::Bucket', ARN: 'arn:aws-us-gov:s3:::gov-bucket' }] }));
    expect(bucketOnly).toMatchObject({ bucket: 'gov-bucket', key: null });
  });

  it('does not take a key from an object resource of another bucket', () => {
    const r = row(s3({ requestParameters: { bucketName: 'dest' }, resources: [{ type: 'AWS::S3::Object', ARN: 'arn:aws:s3:::src/k' }] }));
    expect(r).toMatchObject({ bucket: 'dest', key: null });
  });

  it('takes version_id from the request only, not from the version a write created', () => {
    expect(row(s3({ eventName: 'DeleteObject', requestParameters: { bucketName: 'b', key: 'k', versionId: 'v1' } })).version_id).toBe('v1');
    const put = row(s3({ eventName: 'PutObject', responseElements: { 'x-amz-version-id': 'new' } }));
    expect(put.version_id).toBeNull();
    expect(JSON.parse(put.response_elements as string)).toEqual({ 'x-amz-version-id': 'new' });
  });

  it('lifts the server-side encryption request headers and what S3 applied', () => {
    const r = row(s3({
      eventName: 'PutObject',
      requestParameters: { bucketName: 'b', key: 'k', 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-aws-kms-key-id': 'arn:aws:kms:us-east-1:999999999999:key/abc' },
      additionalEventData: { SSEApplied: 'SSE_KMS' },
    }));
    expect(r).toMatchObject({ sse_requested: 'aws:kms', sse_kms_key_id: 'arn:aws:kms:us-east-1:999999999999:key/abc', sse_applied: 'SSE_KMS', sse_customer_algorithm: null });
    const c = row(s3({ requestParameters: { bucketName: 'b', key: 'k', 'x-amz-server-side-encryption-customer-algorithm': 'AES256' } }));
    expect(c.sse_customer_algorithm).toBe('AES256');
  });

  it('takes the cipher suite from tlsDetails when additionalEventData has none', () => {
    expect(row(s3({ eventSource: 'kms.amazonaws.com', additionalEventData: undefined })).cipher_suite).toBe('TLS_AES_128_GCM_SHA256');
  });

  it('keeps records of every service, with bucket and key NULL where they do not apply', () => {
    const r = row(s3({ eventSource: 'config.amazonaws.com', eventName: 'PutDeliveryChannel', requestParameters: { bucketName: 'looks-like-s3', key: 'x' } }));
    expect(r).toMatchObject({ event_source: 'config.amazonaws.com', bucket: null, key: null });
    const glacier = row(s3({ eventSource: 'glacier.amazonaws.com', eventName: 'SetVaultAccessPolicy', requestParameters: { vaultName: 'v', accountId: '-' } }));
    expect(glacier).toMatchObject({ event_name: 'SetVaultAccessPolicy', bucket: null });
  });

  it('reads anonymous callers and service callers as logged', () => {
    const anon = row(s3({ userIdentity: { type: 'AWSAccount', principalId: '', accountId: 'ANONYMOUS_PRINCIPAL' } }));
    expect(anon).toMatchObject({ user_type: 'AWSAccount', principal_id: null, user_account_id: 'ANONYMOUS_PRINCIPAL', user_arn: null, mfa_authenticated: null });
    const svc = row(s3({ userIdentity: { type: 'AWSService', invokedBy: 'cloudtrail.amazonaws.com' }, sourceIPAddress: 'AWS Internal' }));
    expect(svc).toMatchObject({ user_type: 'AWSService', invoked_by: 'cloudtrail.amazonaws.com', source_ip: 'AWS Internal' });
  });

  it('names an assumed role by its session issuer, and reads mfaAuthenticated "false" as false', () => {
    const r = row(s3({
      userIdentity: {
        type: 'AssumedRole', principalId: 'AROA:s', arn: 'arn:aws:sts::111122223333:assumed-role/etl/s', accountId: '111122223333',
        sessionContext: { sessionIssuer: { type: 'Role', arn: 'arn:aws:iam::111122223333:role/etl', accountId: '111122223333', userName: 'etl' }, attributes: { mfaAuthenticated: 'false' } },
      },
    }));
    expect(r).toMatchObject({ user_name: 'etl', session_issuer_arn: 'arn:aws:iam::111122223333:role/etl', session_issuer_account_id: '111122223333', mfa_authenticated: false });
  });

  it('reads byte counts written as floats or strings as integers', () => {
    const r = row(s3({ additionalEventData: { bytesTransferredIn: '1024', bytesTransferredOut: 51.0 } }));
    expect(r).toMatchObject({ bytes_in: 1024, bytes_out: 51 });
  });

  it('reads a byte count or pre-signed expiry past its column (BIGINT, INTEGER) as NULL', () => {
    const r = row(s3({ additionalEventData: { bytesTransferredIn: 1e300, bytesTransferredOut: '99999999999999999999' }, requestParameters: { bucketName: 'b', key: 'k', 'X-Amz-Expires': '2147483648' } }));
    expect(r).toMatchObject({ bytes_in: null, bytes_out: null, presigned_expires_s: null });
    expect(row(s3({ requestParameters: { bucketName: 'b', key: 'k', 'X-Amz-Expires': '2147483647' } })).presigned_expires_s).toBe(2147483647);
  });

  it('stores times in UTC whatever offset or precision the record has', () => {
    expect(row(s3({ eventTime: '2025-03-10T10:00:01+02:00' })).event_time?.toISOString()).toBe('2025-03-10T08:00:01.000Z');
    expect(row(s3({ eventTime: '2025-03-10T08:00:01.250Z' })).event_time?.toISOString()).toBe('2025-03-10T08:00:01.250Z');
  });

  it('accepts event versions 1.0x to 1.11 by their major number, and ignores fields it does not know', () => {
    for (const v of ['1.0', '1.02', '1.05', '1.08', '1.09', '1.10', '1.11', '1.99']) expect(row(s3({ eventVersion: v })).event_version).toBe(v);
    expect(row(s3({ eventVersion: undefined })).event_version).toBeNull();
  });

  it('rejects a record of another major event version', () => {
    const r = parseCloudTrailRecord(s3({ eventVersion: '2.0' }));
    expect(r).toBeInstanceOf(Reject);
    expect((r as Reject).reason).toMatch(/eventVersion 2\.0/);
  });

  it('rejects a record without eventTime or eventName, naming the field', () => {
    expect((parseCloudTrailRecord(s3({ eventTime: undefined })) as Reject).reason).toBe('eventTime: missing');
    expect((parseCloudTrailRecord(s3({ eventName: '' })) as Reject).reason).toBe('eventName: missing');
  });

  it('keeps a record whose eventTime is there but not a time (redacted), timeless, with the text in other_fields', () => {
    const r = row(s3({ eventTime: 'redacted' }));
    expect(r.event_time).toBeNull();
    expect(JSON.parse(r.other_fields as string)).toMatchObject({ eventTime: 'redacted' });
  });

  it('keeps a record whose eventTime is a time outside the years 0001-9999 as timeless, with the text in other_fields', () => {
    // Date.parse reads them, but their day is no date partition a reader can cast ('date=+275760-09').
    for (const t of ['+275760-09-13T00:00:00.000Z', '+010000-01-01T00:00:00Z', '-000001-01-01T00:00:00Z', '1/1/10000']) {
      const r = row(s3({ eventTime: t }));
      expect(r.event_time).toBeNull();
      expect(JSON.parse(r.other_fields as string)).toMatchObject({ eventTime: t });
    }
    expect(row(s3({ eventTime: '9999-12-31T23:59:59.999Z' })).event_time?.toISOString()).toBe('9999-12-31T23:59:59.999Z');
    expect(row(s3({ eventTime: '0001-01-01T00:00:00Z' })).event_time?.toISOString()).toBe('0001-01-01T00:00:00.000Z');
  });

  it('rejects what is not an object', () => {
    for (const v of [null, 42, 'text', [1]]) expect(parseCloudTrailRecord(v)).toBeInstanceOf(Reject);
  });

  it('skips CloudTrail Insights records', () => {
    const r = parseCloudTrailRecord(s3({ eventType: 'AwsCloudTrailInsight', eventCategory: 'Insight' }));
    expect(r).toBeInstanceOf(Skip);
  });

  it('matches the AWS documentation example of S3 management events', () => {
    const recs = (json('aws-docs/cloudtrail-s3-example.json') as { Records: unknown[] }).Records.map(row);
    expect(recs.map((r) => [r.event_name, r.bucket, r.host_header, r.signature_version, r.auth_method])).toEqual([
      ['ListBuckets', null, 's3.us-west-2.amazonaws.com', 'SigV2', 'QueryString'],
      // The documented PutBucketAcl has "bucketName": "" (empty is NULL).
      ['PutBucketAcl', null, 's3.us-west-2.amazonaws.com', 'SigV4', 'AuthHeader'],
      ['GetBucketVersioning', 'DOC-EXAMPLE-BUCKET1', 's3.us-west-2.amazonaws.com', 'SigV4', 'AuthHeader'],
    ]);
  });
});

describe('recordsOf', () => {
  it('finds the records of a log file, an array, and EventBridge envelopes', () => {
    const a = s3();
    expect(recordsOf({ Records: [a, a] })).toEqual([a, a]);
    expect(recordsOf([a, a])).toEqual([a, a]);
    const env = { version: '0', 'detail-type': 'AWS API Call via CloudTrail', detail: a };
    expect(recordsOf(env)).toEqual([a]);
    expect(recordsOf([env, a])).toEqual([a, a]);
    expect(recordsOf({ ...env, 'detail-type': 'AWS Console Sign In via CloudTrail' })).toEqual([a]);
  });

  it('skips a digest file and rejects an EventBridge event that is not from CloudTrail', () => {
    const [digest] = recordsOf({ awsAccountId: '1', digestStartTime: 't', digestEndTime: 't', logFiles: [] });
    expect(digest).toBeInstanceOf(Skip);
    const [other] = recordsOf({ 'detail-type': 'Object Created', source: 'aws.s3', detail: { bucket: { name: 'b' } } });
    expect(other).toBeInstanceOf(Reject);
    expect((other as Reject).reason).toMatch(/"Object Created", not a CloudTrail record/);
  });
});
