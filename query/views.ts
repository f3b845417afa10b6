/**
 * `s3_requests`: both sources in one shape (docs/contract.md), so a detection
 * can read either or both. Access-log operations are mapped to the
 * CloudTrail API names; CloudTrail contributes its S3 events only.
 */
import { sqlIdentifier, sqlString } from '../common/sql.js';

/**
 * The relation of `s3_requests` rows before the window's start (`since`),
 * empty without one: the history baseline detections compare the window
 * with (they bound it by their own `lookback_days`). dataset.ts makes it on
 * DuckDB; Athena gets it as a WITH query (athena/render.ts).
 */
export const HISTORY = 's3_requests_history';

/**
 * The account of an access-log requester (`principal_account`): the account
 * number of an IAM or STS ARN. `cross-account-access` works it out once per
 * requester with the same pattern (checked by its test).
 */
export const REQUESTER_ACCOUNT_PATTERN = '^arn:aws[a-z-]*:(?:iam|sts)::([0-9]{12}):';

/** Access-log operation -> CloudTrail event name (bucket-level and object-level forms). */
export const OPERATIONS: ReadonlyArray<[op: string, onBucket: string, onObject: string]> = [
  ['REST.GET.OBJECT', 'GetObject', 'GetObject'],
  ['REST.HEAD.OBJECT', 'HeadObject', 'HeadObject'],
  ['REST.PUT.OBJECT', 'PutObject', 'PutObject'],
  ['REST.POST.OBJECT', 'PutObject', 'PutObject'],
  ['REST.COPY.OBJECT', 'CopyObject', 'CopyObject'],
  ['REST.COPY.PART', 'UploadPartCopy', 'UploadPartCopy'],
  ['REST.DELETE.OBJECT', 'DeleteObject', 'DeleteObject'],
  ['REST.POST.MULTI_OBJECT_DELETE', 'DeleteObjects', 'DeleteObjects'],
  ['BATCH.DELETE.OBJECT', 'DeleteObjects', 'DeleteObjects'],
  ['REST.POST.UPLOADS', 'CreateMultipartUpload', 'CreateMultipartUpload'],
  ['REST.PUT.PART', 'UploadPart', 'UploadPart'],
  ['REST.POST.UPLOAD', 'CompleteMultipartUpload', 'CompleteMultipartUpload'],
  ['REST.DELETE.UPLOAD', 'AbortMultipartUpload', 'AbortMultipartUpload'],
  ['REST.GET.BUCKET', 'ListObjects', 'ListObjects'],
  ['REST.GET.BUCKETVERSIONS', 'ListObjectVersions', 'ListObjectVersions'],
  ['REST.HEAD.BUCKET', 'HeadBucket', 'HeadBucket'],
  ['REST.GET.ACL', 'GetBucketAcl', 'GetObjectAcl'],
  ['REST.PUT.ACL', 'PutBucketAcl', 'PutObjectAcl'],
  ['REST.GET.BUCKETPOLICY', 'GetBucketPolicy', 'GetBucketPolicy'],
  ['REST.PUT.BUCKETPOLICY', 'PutBucketPolicy', 'PutBucketPolicy'],
  ['REST.DELETE.BUCKETPOLICY', 'DeleteBucketPolicy', 'DeleteBucketPolicy'],
  ['REST.GET.VERSIONING', 'GetBucketVersioning', 'GetBucketVersioning'],
  ['REST.PUT.VERSIONING', 'PutBucketVersioning', 'PutBucketVersioning'],
  ['REST.GET.ENCRYPTION', 'GetBucketEncryption', 'GetBucketEncryption'],
  ['REST.PUT.ENCRYPTION', 'PutBucketEncryption', 'PutBucketEncryption'],
  ['REST.DELETE.ENCRYPTION', 'DeleteBucketEncryption', 'DeleteBucketEncryption'],
  ['REST.GET.LOGGING_STATUS', 'GetBucketLogging', 'GetBucketLogging'],
  ['REST.PUT.LOGGING_STATUS', 'PutBucketLogging', 'PutBucketLogging'],
  ['REST.GET.PUBLIC_ACCESS_BLOCK', 'GetBucketPublicAccessBlock', 'GetBucketPublicAccessBlock'],
  ['REST.PUT.PUBLIC_ACCESS_BLOCK', 'PutBucketPublicAccessBlock', 'PutBucketPublicAccessBlock'],
  ['REST.DELETE.PUBLIC_ACCESS_BLOCK', 'DeleteBucketPublicAccessBlock', 'DeleteBucketPublicAccessBlock'],
  ['REST.GET.LIFECYCLE', 'GetBucketLifecycle', 'GetBucketLifecycle'],
  ['REST.PUT.LIFECYCLE', 'PutBucketLifecycle', 'PutBucketLifecycle'],
  ['REST.GET.REPLICATION', 'GetBucketReplication', 'GetBucketReplication'],
  ['REST.PUT.REPLICATION', 'PutBucketReplication', 'PutBucketReplication'],
  ['REST.GET.LOCATION', 'GetBucketLocation', 'GetBucketLocation'],
  ['REST.GET.TAGGING', 'GetBucketTagging', 'GetObjectTagging'],
  ['REST.PUT.TAGGING', 'PutBucketTagging', 'PutObjectTagging'],
  ['REST.GET.OBJECT_TAGGING', 'GetObjectTagging', 'GetObjectTagging'],
  ['REST.PUT.OBJECT_TAGGING', 'PutObjectTagging', 'PutObjectTagging'],
  ['REST.GET.SERVICE', 'ListBuckets', 'ListBuckets'],
  ['REST.PUT.BUCKET', 'CreateBucket', 'CreateBucket'],
  ['REST.DELETE.BUCKET', 'DeleteBucket', 'DeleteBucket'],
  ['REST.POST.RESTORE', 'RestoreObject', 'RestoreObject'],
];

/**
 * The `s3_requests` view over the `access_log` and `cloudtrail` tables
 * (portable SQL). Athena (Trino) stores a view with the session's current
 * schema, so there the tables are named with their `database`: the view
 * then reads the same tables whichever database a query runs from.
 * `prefix` (a plain word) goes before the view's name and the tables' (`_all_`:
 * the view over all the data, whatever the window; see dataset.ts).
 */
export function s3RequestsSql(database?: string, prefix = ''): string {
  const table = (name: string): string => (database ? `${sqlIdentifier(database)}.${sqlIdentifier(prefix + name)}` : prefix + name);
  const view = database ? `${sqlIdentifier(database)}.${sqlIdentifier(prefix + 's3_requests')}` : `${prefix}s3_requests`;
  const ops = OPERATIONS.map(([op, b, o]) => `(${sqlString(op)}, ${sqlString(b)}, ${sqlString(o)})`).join(',\n      ');
  return `CREATE OR REPLACE VIEW ${view} AS
WITH ops (op, on_bucket, on_object) AS (VALUES
      ${ops})
SELECT 'access_log' AS source, a.event_time, a.bucket, a."key",
       coalesce(CASE WHEN a."key" IS NULL THEN ops.on_bucket ELSE ops.on_object END, a.operation) AS operation,
       a.requester AS principal,
       regexp_extract(a.requester, ${sqlString(REQUESTER_ACCOUNT_PATTERN)}, 1) AS principal_account,
       a.remote_ip AS source_ip, a.user_agent, a.http_status, a.error_code, a.bytes_sent, a.version_id,
       a.signature_version, a.auth_type, a.tls_version, a.cipher_suite, a.request_id, a.host_id,
       CAST(NULL AS BOOLEAN) AS mfa_authenticated, CAST(NULL AS VARCHAR) AS vpc_endpoint_id,
       a.presigned_expires_s, CAST(NULL AS VARCHAR) AS event_id, a.operation AS raw_operation,
       a.field_count >= 24 AS tls_logged,
       a.source_file, a.source_line, a."date"
FROM ${table('access_log')} a LEFT JOIN ops ON ops.op = a.operation
UNION ALL
SELECT 'cloudtrail' AS source, c.event_time, c.bucket, c."key", c.event_name AS operation,
       CASE WHEN c.user_account_id = 'ANONYMOUS_PRINCIPAL' THEN NULL
            ELSE coalesce(c.user_arn, c.principal_id, c.invoked_by) END AS principal,
       CASE WHEN c.user_account_id = 'ANONYMOUS_PRINCIPAL' THEN NULL ELSE c.user_account_id END AS principal_account,
       c.source_ip, c.user_agent, CAST(NULL AS INTEGER) AS http_status, c.error_code, c.bytes_out AS bytes_sent, c.version_id,
       c.signature_version, c.auth_method AS auth_type, c.tls_version, c.cipher_suite, c.request_id, c.host_id,
       c.mfa_authenticated, c.vpc_endpoint_id, c.presigned_expires_s, c.event_id, c.event_name AS raw_operation,
       coalesce(TRY_CAST(split_part(c.event_version, '.', 1) AS INTEGER) > 1
        OR (TRY_CAST(split_part(c.event_version, '.', 1) AS INTEGER) = 1 AND TRY_CAST(split_part(c.event_version, '.', 2) AS INTEGER) >= 8), false) AS tls_logged,
       c.source_file, c.source_line, c."date"
FROM ${table('cloudtrail')} c
WHERE c.event_source = 's3.amazonaws.com'`;
}
