/**
 * The one declaration of the dataset's tables. DuckDB DDL, the Parquet
 * columns written by ingest, the README's column tables (and later the Athena
 * DDL and the `s3_requests` view) are all derived from it.
 */

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
    col('source_file', 'VARCHAR', 'File (or `-` for stdin) the record was read from.'),
    col('source_line', 'BIGINT', '1-based line number of the record in its file.'),
  ],
};

export const TABLES: readonly TableSpec[] = [ACCESS_LOG];

/** Quote an identifier for DuckDB and Trino (`key` is reserved in both). */
export function quoteIdent(name: string): string {
  return '"' + name.replaceAll('"', '""') + '"';
}

/** `CREATE TABLE` for DuckDB. */
export function duckdbCreateTable(table: TableSpec, name = table.name): string {
  const cols = table.columns.map((c) => `  ${quoteIdent(c.name)} ${c.type}`).join(',\n');
  return `CREATE TABLE ${quoteIdent(name)} (\n${cols}\n)`;
}

/** A Markdown table of a table's columns, for the README. */
export function markdownColumns(table: TableSpec): string {
  const rows = table.columns.map((c) => `| \`${c.name}\` | ${c.type} | ${c.doc.replaceAll('|', '\\|')} |`);
  return ['| column | type | meaning |', '|---|---|---|', ...rows].join('\n');
}
