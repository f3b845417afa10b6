/**
 * A generated dataset for the detection and server benchmarks: DuckDB writes
 * seeded events straight into the dataset layout (60% access log, 40%
 * CloudTrail, 7 days), with the patterns detections look for mixed in at
 * realistic rates. Seconds to make, where an ingest would take minutes.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { sqlIdentifier, sqlString } from '../common/sql.js';
import { ACCESS_LOG, CLOUDTRAIL, type TableSpec } from '../ingest/schema.js';
import { ensureManifest } from '../ingest/dataset.js';

/** Generator expressions by column (`i` is the row number); unnamed columns are NULL. */
const ACCESS_EXPR: Record<string, string> = {
  bucket_owner: "'79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be'",
  bucket: "['prod-data', 'prod-backups', 'web-assets', 'finance-reports', 'ml-datasets'][1 + i % 5]",
  event_time: "TIMESTAMP '2025-03-10' + to_milliseconds(CAST(i * 7 * 86400000 // $n AS BIGINT))",
  remote_ip: "'203.0.113.' || (i * 7919 % 250)",
  requester: "CASE WHEN i % 9973 = 0 THEN NULL WHEN i % 100003 = 0 THEN 'arn:aws:iam::111122223333:root' WHEN i % 5003 = 0 THEN 'arn:aws:iam::444455556666:user/partner' ELSE 'arn:aws:iam::111122223333:user/u' || (i % 40) END",
  request_id: "upper(to_hex(hash(i)))",
  operation: "CASE WHEN i % 100 = 7 THEN 'REST.DELETE.OBJECT' WHEN i % 1000 = 8 THEN 'BATCH.DELETE.OBJECT' ELSE ['REST.GET.OBJECT', 'REST.GET.OBJECT', 'REST.GET.OBJECT', 'REST.PUT.OBJECT', 'REST.HEAD.OBJECT', 'REST.GET.BUCKET'][1 + i % 6] END",
  key: "'data/part-' || (i % 100000) || '.parquet'",
  request_uri: "CASE WHEN i % 21001 = 0 THEN 'GET /prod-data/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=604800&X-Amz-Signature=' || (i % 50) || ' HTTP/1.1' ELSE 'GET /prod-data/data/part-' || (i % 100000) || '.parquet HTTP/1.1' END",
  http_status: "CASE WHEN i % 37 = 0 THEN 403 ELSE 200 END",
  error_code: "CASE WHEN i % 37 = 0 THEN 'AccessDenied' END",
  bytes_sent: "(i * 104729) % 5000000",
  object_size: "(i * 104729) % 5000000",
  total_time_ms: "i % 300",
  turnaround_time_ms: "i % 30",
  user_agent: "'aws-sdk-java/1.12.470 Linux/5.10 OpenJDK_64-Bit_Server_VM/25.372-b07 java/1.8.0_372'",
  version_id: "CASE WHEN i % 20011 = 5 THEN 'v' || i END",
  host_id: "'hostid' || (i % 1000) || '='",
  signature_version: "CASE WHEN i % 9973 = 0 THEN NULL WHEN i % 50021 = 0 THEN 'SigV2' ELSE 'SigV4' END",
  cipher_suite: "CASE WHEN i % 70001 = 0 THEN NULL ELSE 'ECDHE-RSA-AES128-GCM-SHA256' END",
  auth_type: "CASE WHEN i % 9973 = 0 THEN NULL WHEN i % 21001 = 0 THEN 'QueryString' ELSE 'AuthHeader' END",
  host_header: "'prod-data.s3.us-east-1.amazonaws.com'",
  tls_version: "CASE WHEN i % 70001 = 0 THEN NULL WHEN i % 30011 = 0 THEN 'TLSv1.1' ELSE 'TLSv1.2' END",
  acl_required: 'false',
  extra_fields: '[]::VARCHAR[]',
  http_method: "'GET'",
  presigned_expires_s: 'CASE WHEN i % 21001 = 0 THEN 604800 END',
  field_count: '26',
  source_file: "'generated/access-' || (i // 1000000) || '.log'",
  source_line: 'i % 1000000 + 1',
};

const CLOUDTRAIL_EXPR: Record<string, string> = {
  event_time: "TIMESTAMP '2025-03-10' + to_milliseconds(CAST(i * 7 * 86400000 // $n AS BIGINT))",
  event_id: "md5(i::VARCHAR)",
  event_name: "CASE WHEN i % 10007 = 0 THEN ['PutBucketPolicy', 'PutBucketVersioning', 'DeleteBucketEncryption', 'PutBucketLogging', 'PutBucketAcl', 'StopLogging'][1 + (i // 10007) % 6] WHEN i % 100 = 4 THEN 'DeleteObject' ELSE ['GetObject', 'GetObject', 'PutObject', 'HeadObject', 'GetObject', 'DescribeInstances', 'Decrypt', 'AssumeRole'][1 + i % 8] END",
  event_source: "CASE WHEN i % 10007 = 0 THEN 's3.amazonaws.com' WHEN i % 8 >= 5 THEN ['ec2.amazonaws.com', 'kms.amazonaws.com', 'sts.amazonaws.com'][i % 8 - 4] ELSE 's3.amazonaws.com' END",
  event_type: "'AwsApiCall'",
  event_category: "CASE WHEN i % 10007 <> 0 AND i % 8 < 5 THEN 'Data' ELSE 'Management' END",
  event_version: "'1.09'",
  aws_region: "'us-east-1'",
  source_ip: "CASE WHEN i % 13 = 0 THEN 'AWS Internal' ELSE '10.0.0.' || (i % 250) END",
  user_agent: "'[aws-cli/2.13.0]'",
  request_id: "upper(to_hex(hash(i * 3 + 1)))",
  read_only: 'i % 8 IN (0, 1, 3, 5)',
  management_event: 'NOT (i % 10007 <> 0 AND i % 8 < 5)',
  error_code: "CASE WHEN i % 41 = 0 THEN 'AccessDenied' END",
  recipient_account_id: "'111122223333'",
  vpc_endpoint_id: "CASE WHEN i % 10007 <> 3 THEN 'vpce-1a2b3c4d' END",
  user_type: "CASE WHEN i % 100003 = 0 THEN 'Root' ELSE 'AssumedRole' END",
  principal_id: "'AROAEXAMPLE:s' || (i % 50)",
  user_arn: "CASE WHEN i % 100003 = 0 THEN 'arn:aws:iam::111122223333:root' ELSE 'arn:aws:sts::111122223333:assumed-role/etl/s' || (i % 50) END",
  user_account_id: "'111122223333'",
  access_key_id: "'ASIAEXAMPLE' || (i % 50)",
  session_issuer_arn: "'arn:aws:iam::111122223333:role/etl'",
  mfa_authenticated: 'false',
  bucket: "CASE WHEN i % 8 < 5 OR i % 10007 = 0 THEN ['prod-data', 'prod-backups', 'web-assets', 'finance-reports', 'ml-datasets'][1 + i % 5] END",
  key: "CASE WHEN i % 8 < 5 AND i % 10007 <> 0 THEN 'data/part-' || (i % 100000) || '.parquet' END",
  version_id: "CASE WHEN i % 20011 = 4 THEN 'v' || i END",
  sse_requested: "CASE WHEN i % 8 = 2 AND i % 10007 <> 2 THEN 'aws:kms' END",
  sse_kms_key_id: "CASE WHEN i % 8 = 2 AND i % 10007 <> 2 THEN 'arn:aws:kms:us-east-1:' || CASE WHEN i % 99991 = 2 THEN '999988887777' ELSE '111122223333' END || ':key/k' END",
  sse_applied: "CASE WHEN i % 8 = 2 THEN 'SSE_KMS' END",
  auth_method: "CASE WHEN i % 8 < 5 THEN 'AuthHeader' END",
  signature_version: "CASE WHEN i % 8 < 5 THEN 'SigV4' END",
  cipher_suite: "'ECDHE-RSA-AES128-GCM-SHA256'",
  tls_version: "'TLSv1.2'",
  bytes_in: '0',
  bytes_out: "CASE WHEN i % 8 < 2 THEN (i * 7919) % 5000000 ELSE 0 END",
  request_parameters: "CASE WHEN i % 10007 = 0 THEN json_object('bucketName', 'prod-data', 'bucketPolicy', json_object('Statement', [json_object('Effect', 'Allow', 'Principal', '*', 'Action', 's3:GetObject')]), 'VersioningConfiguration', json_object('Status', 'Suspended'), 'BucketLoggingStatus', json_object('xmlns', 'x')) ELSE json_object('bucketName', 'prod-data', 'key', 'data/part-' || (i % 100000) || '.parquet', 'Host', 'prod-data.s3.us-east-1.amazonaws.com') END",
  additional_event_data: "json_object('SignatureVersion', 'SigV4', 'bytesTransferredOut', (i * 7919) % 5000000)",
  resources: "json_array(json_object('type', 'AWS::S3::Bucket', 'ARN', 'arn:aws:s3:::prod-data'))",
  user_identity: "json_object('type', 'AssumedRole', 'arn', 'arn:aws:sts::111122223333:assumed-role/etl/s')",
  source_file: "'generated/cloudtrail-' || (i // 1000000) || '.json.gz'",
  source_line: 'i % 1000000 + 1',
};

/** Write `rows` generated rows of `table` under `dir/<table>/date=.../`. */
async function generateTable(dir: string, table: TableSpec, exprs: Record<string, string>, rows: number): Promise<void> {
  const inst = await DuckDBInstance.create(':memory:', { threads: '2', preserve_insertion_order: 'false' });
  const c = await inst.connect();
  try {
    // Ingest writes CloudTrail management and data events to files of their own (Stage parts);
    // grouping them within each date gives the same row-group statistics.
    const order = table.name === 'cloudtrail' ? ' ORDER BY "date", management_event' : '';
    const cols = table.columns.map((col) => `CAST(${(exprs[col.name] ?? 'NULL').replaceAll('$n', String(rows))} AS ${col.type}) AS ${sqlIdentifier(col.name)}`);

    await c.run(`COPY (SELECT ${cols.join(', ')}, CAST(event_time AS DATE) AS "date" FROM (SELECT range AS i, TIMESTAMP '2025-03-10' + to_milliseconds(CAST(range * 7 * 86400000 // ${rows} AS BIGINT)) AS event_time FROM range(${rows}))${order})
      TO ${sqlString(join(dir, table.name))} (FORMAT parquet, COMPRESSION zstd, PARTITION_BY ("date"), ROW_GROUP_SIZE 100000)`);
  } finally {
    c.closeSync();
    inst.closeSync();
  }
}

/** Make `events` events under `data` unless it already holds them. */
export async function generateDataset(data: string, events: number): Promise<void> {
  if (existsSync(join(data, 'cloudtrail'))) {
    // Made before a manifest was what makes a folder a dataset: the files are the same.
    await ensureManifest(data);
    return;
  }
  rmSync(data, { recursive: true, force: true });
  mkdirSync(data, { recursive: true });
  process.stderr.write(`generating ${events.toLocaleString('en-US')} events...\n`);
  await generateTable(data, ACCESS_LOG, ACCESS_EXPR, Math.round(events * 0.6));
  await generateTable(data, CLOUDTRAIL, CLOUDTRAIL_EXPR, events - Math.round(events * 0.6));
  // A manifest makes the folder a dataset (query/dataset.ts refuses a folder without one).
  await ensureManifest(data);
}
