/**
 * The one declaration of the dataset's tables. DuckDB DDL, the Parquet
 * columns written by ingest, the column tables of docs/dataset.md (and later the Athena
 * DDL and the `s3_requests` view) are all derived from it.
 */
import { sqlIdentifier } from '../common/sql.js';

/** Column types, named as DuckDB names them. */
export type SqlType = 'VARCHAR' | 'INTEGER' | 'BIGINT' | 'BOOLEAN' | 'TIMESTAMP' | 'VARCHAR[]' | 'JSON';

export interface ColumnSpec {
  readonly name: string;
  readonly type: SqlType;
  readonly doc: string;
}

export interface TableSpec {
  readonly name: string;
  readonly doc: string;
  readonly columns: readonly ColumnSpec[];
}

const col = (name: string, type: SqlType, doc: string): ColumnSpec => ({ name, type, doc });

/**
 * `access_log`: one row per S3 server access log record.
 * Field meanings: https://docs.aws.amazon.com/AmazonS3/latest/userguide/LogFormat.html
 */
export const ACCESS_LOG: TableSpec = {
  name: 'access_log',
  doc: 'One row per S3 server access log record: the 27 documented fields in log order, then derived columns.',
  columns: [
    col('bucket_owner', 'VARCHAR', 'Canonical user ID of the source bucket owner.'),
    col('bucket', 'VARCHAR', 'Bucket the request was processed against.'),
    col('event_time', 'TIMESTAMP', 'Time the request was received, in UTC (the log may carry another offset).'),
    col('remote_ip', 'VARCHAR', 'Apparent client address (IPv4 or IPv6); NULL for lifecycle and other internal records.'),
    col('requester', 'VARCHAR', 'Canonical user ID or IAM ARN of the requester, `AmazonS3` or `svc:...` for AWS services; NULL for unauthenticated requests.'),
    col('request_id', 'VARCHAR', 'S3 request ID.'),
    col('operation', 'VARCHAR', 'Operation, e.g. `REST.GET.OBJECT`, `S3.EXPIRE.OBJECT`, `BATCH.DELETE.OBJECT`.'),
    col('key', 'VARCHAR', 'Object key exactly as logged (URL-encoded); NULL when the operation has none.'),
    col('request_uri', 'VARCHAR', 'Request-URI of the HTTP request line, without the quotes.'),
    col('http_status', 'INTEGER', 'HTTP status of the response; NULL when not applicable (lifecycle).'),
    col('error_code', 'VARCHAR', 'S3 error code, e.g. `AccessDenied`; NULL on success.'),
    col('bytes_sent', 'BIGINT', 'Response bytes sent, excluding HTTP protocol overhead.'),
    col('object_size', 'BIGINT', 'Total size of the object.'),
    col('total_time_ms', 'INTEGER', 'Milliseconds the request was in flight, from the server\'s perspective.'),
    col('turnaround_time_ms', 'INTEGER', 'Milliseconds S3 spent processing the request.'),
    col('referrer', 'VARCHAR', 'HTTP Referer header.'),
    col('user_agent', 'VARCHAR', 'HTTP User-Agent header.'),
    col('version_id', 'VARCHAR', 'Version ID in the request; NULL when the request named no version.'),
    col('host_id', 'VARCHAR', 'x-amz-id-2 request ID.'),
    col('signature_version', 'VARCHAR', '`SigV2` or `SigV4`; NULL for unauthenticated requests.'),
    col('cipher_suite', 'VARCHAR', 'TLS cipher negotiated; NULL for plain HTTP.'),
    col('auth_type', 'VARCHAR', '`AuthHeader`, `QueryString` (pre-signed URL) or NULL (unauthenticated).'),
    col('host_header', 'VARCHAR', 'Endpoint used to connect (Host header).'),
    col('tls_version', 'VARCHAR', 'TLS version as logged (`TLSv1.2`, `TLSV1.2`, ...); NULL for plain HTTP.'),
    col('access_point_arn', 'VARCHAR', 'ARN of the access point the request went through.'),
    col('acl_required', 'BOOLEAN', 'True when an ACL was required to authorize the request (`Yes`), false for `-`, NULL when the record predates the field.'),
    col('source_region', 'VARCHAR', 'AWS Region the request came from, when known.'),
    col('extra_fields', 'VARCHAR[]', 'Trailing fields after the 27th that this version does not know (AWS appends new fields).'),
    col('http_method', 'VARCHAR', 'Derived: HTTP method from the request-URI.'),
    col('presigned_expires_s', 'INTEGER', 'Derived: `X-Amz-Expires` of a SigV4 pre-signed request, in seconds; else NULL.'),
    col('field_count', 'INTEGER', 'Derived: how many fields the record has (18 to 27, more once AWS appends new ones), so a field the record predates (NULL) is told from one logged as `-` (also NULL).'),
    col('source_file', 'VARCHAR', 'File (or `-` for stdin) the record was read from.'),
    col('source_line', 'BIGINT', '1-based line number of the record in its file.'),
  ],
};

/**
 * `cloudtrail`: one row per CloudTrail record of any service, with the S3
 * fields lifted into columns and the nested parts kept whole as JSON.
 * Record contents: https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html
 * S3 specifics: https://docs.aws.amazon.com/AmazonS3/latest/userguide/cloudtrail-logging-understanding-s3-entries.html
 */
export const CLOUDTRAIL: TableSpec = {
  name: 'cloudtrail',
  doc: 'One row per CloudTrail record, any service; S3 fields lifted into columns, nested parts kept whole as JSON.',
  columns: [
    col('event_time', 'TIMESTAMP', '`eventTime`, in UTC.'),
    col('event_id', 'VARCHAR', '`eventID`, unique per record.'),
    col('event_name', 'VARCHAR', '`eventName`: the API called, e.g. `GetObject`, `PutBucketPolicy`.'),
    col('event_source', 'VARCHAR', '`eventSource`: the service, e.g. `s3.amazonaws.com`.'),
    col('event_type', 'VARCHAR', '`eventType`: `AwsApiCall`, `AwsServiceEvent`, `AwsConsoleSignIn`, ...'),
    col('event_category', 'VARCHAR', '`eventCategory`: `Management` or `Data` (NULL before event version 1.07).'),
    col('event_version', 'VARCHAR', '`eventVersion` as written (`1.05`, `1.11`, ...).'),
    col('aws_region', 'VARCHAR', '`awsRegion` the request was made to.'),
    col('source_ip', 'VARCHAR', '`sourceIPAddress`: an address, or a service name (`AWS Internal`, `s3.amazonaws.com`).'),
    col('user_agent', 'VARCHAR', '`userAgent`.'),
    col('request_id', 'VARCHAR', '`requestID` (for S3, the same request ID as the access log\'s).'),
    col('read_only', 'BOOLEAN', '`readOnly`.'),
    col('management_event', 'BOOLEAN', '`managementEvent` (NULL before event version 1.06).'),
    col('error_code', 'VARCHAR', '`errorCode`; NULL on success.'),
    col('error_message', 'VARCHAR', '`errorMessage`.'),
    col('recipient_account_id', 'VARCHAR', '`recipientAccountId`: the account that received the event.'),
    col('vpc_endpoint_id', 'VARCHAR', '`vpcEndpointId`: the VPC endpoint the request came through.'),
    col('user_type', 'VARCHAR', '`userIdentity.type`: `IAMUser`, `AssumedRole`, `Root`, `AWSAccount`, `AWSService`, ...'),
    col('principal_id', 'VARCHAR', '`userIdentity.principalId`.'),
    col('user_arn', 'VARCHAR', '`userIdentity.arn`.'),
    col('user_account_id', 'VARCHAR', '`userIdentity.accountId` (`ANONYMOUS_PRINCIPAL` for anonymous S3 requests).'),
    col('access_key_id', 'VARCHAR', '`userIdentity.accessKeyId`.'),
    col('user_name', 'VARCHAR', '`userIdentity.userName`, else the role name from `sessionContext.sessionIssuer.userName`.'),
    col('invoked_by', 'VARCHAR', '`userIdentity.invokedBy`: the AWS service that made the request for the caller.'),
    col('session_issuer_arn', 'VARCHAR', '`userIdentity.sessionContext.sessionIssuer.arn`: the role or user behind temporary credentials.'),
    col('mfa_authenticated', 'BOOLEAN', '`userIdentity.sessionContext.attributes.mfaAuthenticated`; NULL when the record has no session context.'),
    col('bucket', 'VARCHAR', 'S3 events: `requestParameters.bucketName`, else the bucket of an `AWS::S3::Bucket` or `AWS::S3::Object` resource; NULL for other services.'),
    col('key', 'VARCHAR', 'S3 events: `requestParameters.key` (or `Key`), else the key of an `AWS::S3::Object` resource.'),
    col('version_id', 'VARCHAR', 'S3 events: `requestParameters.versionId`, the version the request named (a version a write created is in `response_elements`).'),
    col('sse_requested', 'VARCHAR', '`requestParameters.x-amz-server-side-encryption`: `AES256`, `aws:kms`, `aws:kms:dsse` as requested.'),
    col('sse_kms_key_id', 'VARCHAR', '`requestParameters.x-amz-server-side-encryption-aws-kms-key-id`.'),
    col('sse_customer_algorithm', 'VARCHAR', '`requestParameters.x-amz-server-side-encryption-customer-algorithm` (SSE-C).'),
    col('sse_applied', 'VARCHAR', '`additionalEventData.SSEApplied`: `Default_SSE_S3`, `Default_SSE_KMS`, `SSE_S3`, `SSE_KMS`, `SSE_C`.'),
    col('auth_method', 'VARCHAR', '`additionalEventData.AuthenticationMethod`: `AuthHeader` or `QueryString` (pre-signed URL).'),
    col('signature_version', 'VARCHAR', '`additionalEventData.SignatureVersion`: `SigV2` or `SigV4`.'),
    col('cipher_suite', 'VARCHAR', '`additionalEventData.CipherSuite`, else `tlsDetails.cipherSuite`.'),
    col('tls_version', 'VARCHAR', '`tlsDetails.tlsVersion`.'),
    col('bytes_in', 'BIGINT', '`additionalEventData.bytesTransferredIn`.'),
    col('bytes_out', 'BIGINT', '`additionalEventData.bytesTransferredOut`.'),
    col('host_id', 'VARCHAR', '`additionalEventData.x-amz-id-2` (the access log\'s host ID).'),
    col('presigned_expires_s', 'INTEGER', '`requestParameters.X-Amz-Expires` of a pre-signed request, in seconds.'),
    col('request_parameters', 'JSON', '`requestParameters`, whole.'),
    col('response_elements', 'JSON', '`responseElements`, whole (NULL when the record has `null`).'),
    col('additional_event_data', 'JSON', '`additionalEventData`, whole.'),
    col('resources', 'JSON', '`resources`, whole.'),
    col('host_header', 'VARCHAR', '`tlsDetails.clientProvidedHostHeader`, else `requestParameters.Host` (a string or the first of an array).'),
    col('session_issuer_account_id', 'VARCHAR', '`userIdentity.sessionContext.sessionIssuer.accountId`.'),
    col('shared_event_id', 'VARCHAR', '`sharedEventID`: the same event as delivered to another account.'),
    col('user_identity', 'JSON', '`userIdentity`, whole.'),
    col('other_fields', 'JSON', 'Every other top-level field of the record (`tlsDetails`, `serviceEventDetails`, `sessionCredentialFromConsole`, fields added by later event versions), so nothing is lost.'),
    col('source_file', 'VARCHAR', 'File (or `-` for stdin) the record was read from.'),
    col('source_line', 'BIGINT', '1-based line of the record in an NDJSON or CSV file; its 1-based index in a `Records` file or JSON array (counted on through several documents in one file).'),
  ],
};

export const TABLES: readonly TableSpec[] = [ACCESS_LOG, CLOUDTRAIL];

/** `CREATE TABLE` for DuckDB. */
export function duckdbCreateTable(table: TableSpec, name = table.name): string {
  const cols = table.columns.map((c) => `  ${sqlIdentifier(c.name)} ${c.type}`).join(',\n');
  return `CREATE TABLE ${sqlIdentifier(name)} (\n${cols}\n)`;
}

/** A Markdown table of a table's columns, for docs/dataset.md. */
export function markdownColumns(table: TableSpec): string {
  const rows = table.columns.map((c) => `| \`${c.name}\` | ${c.type} | ${c.doc.replaceAll('|', '\\|')} |`);
  return ['| column | type | meaning |', '|---|---|---|', ...rows].join('\n');
}
