import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAccessLogLine, type AccessLogRecord } from '../../ingest/access-log/parse.js';
import { Reject } from '../../ingest/reject.js';
import { ACCESS_LOG, CLOUDTRAIL } from '../../ingest/schema.js';
import { ACCESS_LOG_REGEX, athenaDdl, datasetTableDdl, rawCloudTrailDdl } from '../../query/athena/ddl.js';
import { generateAccessLogLines } from '../../scripts/gen-access-logs.js';
import { CONFORMANCE } from '../helpers/dataset.js';

describe('Athena DDL', () => {
  it('declares the Parquet tables from the schema, with date partition projection', () => {
    const ddl = datasetTableDdl(ACCESS_LOG, 's3sift', 's3://my-data/s3sift');
    expect(ddl).toMatch(/^CREATE EXTERNAL TABLE IF NOT EXISTS `s3sift`\.`access_log` \(/);
    for (const c of ACCESS_LOG.columns) expect(ddl).toContain(`\`${c.name}\``);
    expect(ddl).toContain('`event_time` timestamp');
    expect(ddl).toContain('`extra_fields` array<string>');
    expect(ddl).toContain("LOCATION 's3://my-data/s3sift/access_log/'");
    expect(ddl).toContain("'projection.date.format' = 'yyyy-MM-dd'");
    expect(ddl).toContain("'storage.location.template' = 's3://my-data/s3sift/access_log/date=${date}/'");
    expect(datasetTableDdl(CLOUDTRAIL, 's3sift', 's3://my-data/s3sift/')).toContain('`request_parameters` string');
  });

  it('prints the database, both tables, the view, and the raw tables asked for', () => {
    const all = athenaDdl({ database: 'sec', location: 's3://data-bucket/p', rawAccessLogs: 's3://logs-bucket/access/', rawCloudTrail: 's3://trail-bucket', cloudTrail: { accounts: ['111122223333'], regions: ['us-east-1', 'eu-west-1'], orgId: 'o-abc123' } });
    expect(all.map((s) => s.split('\n')[0])).toEqual([
      'CREATE DATABASE IF NOT EXISTS `sec`;',
      'CREATE EXTERNAL TABLE IF NOT EXISTS `sec`.`access_log` (',
      'CREATE EXTERNAL TABLE IF NOT EXISTS `sec`.`cloudtrail` (',
      'CREATE OR REPLACE VIEW "sec"."s3_requests" AS',
      'CREATE EXTERNAL TABLE IF NOT EXISTS `sec`.`raw_access_log` (',
      'CREATE EXTERNAL TABLE IF NOT EXISTS `sec`.`raw_cloudtrail` (',
    ]);
    const ct = all[5] as string;
    expect(ct).toContain("'storage.location.template' = 's3://trail-bucket/AWSLogs/o-abc123/${account}/CloudTrail/${region}/${date}'");
    expect(ct).toContain("'projection.region.values' = 'us-east-1,eu-west-1'");
    expect(() => athenaDdl({ database: 'x', location: '/local/path' })).toThrow(/not an s3:\/\/ location/);
    expect(rawCloudTrailDdl('d', 's3://logs-bucket/', { accounts: ['1'], regions: ['us-east-1'] })).toContain("LOCATION 's3://logs-bucket/AWSLogs/'");
  });
});

describe('the raw access-log pattern (RegexSerDe)', () => {
  const re = new RegExp(`^${ACCESS_LOG_REGEX}$`);
  const lines = [
    ...readFileSync(new URL('aws-docs/access-log-example.log', CONFORMANCE), 'utf8').split('\n').filter((l) => l.trim()),
    ...(JSON.parse(readFileSync(new URL('logstash/access-log-cases.json', CONFORMANCE), 'utf8')) as { cases: { line: string }[] }).cases.map((c) => c.line),
    ...generateAccessLogLines({ lines: 300, seed: 3, quirks: 0.5 }),
  ].map((l) => l.replace(/\r$/, ''));
  const dash = (v: string | undefined): string | null => (v === undefined || v === '' || v === '-' ? null : v);

  it('matches every line the parser reads, field for field: short records keep host_id, quotes are dropped, spaces in referrers stay put', () => {
    let compared = 0;
    for (const line of lines) {
      const r = parseAccessLogLine(line);
      if (r instanceof Reject) continue;
      const rec = r as AccessLogRecord;
      const m = re.exec(line);
      expect(m, line).not.toBeNull();
      const g = (m as RegExpExecArray).slice(1);
      const got = {
        bucket: dash(g[1]), requester: dash(g[4]), operation: dash(g[6]), key: dash(g[7]), request_uri: dash(g[8]), http_status: dash(g[9]),
        referrer: dash(g[15]), user_agent: dash(g[16]), version_id: dash(g[17]), host_id: dash(g[18]), signature_version: dash(g[19]),
        tls_version: dash(g[23]),
      };
      expect([line, got]).toEqual([line, {
        bucket: rec.bucket, requester: rec.requester, operation: rec.operation, key: rec.key, request_uri: rec.request_uri,
        http_status: rec.http_status === null ? null : String(rec.http_status), referrer: rec.referrer, user_agent: rec.user_agent,
        version_id: rec.version_id, host_id: rec.host_id, signature_version: rec.signature_version, tls_version: rec.tls_version,
      }]);
      compared++;
    }
    expect(compared).toBeGreaterThan(250);
  });
});
