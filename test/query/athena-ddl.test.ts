import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { DatasetError } from '../../common/errors.js';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAccessLogLine, type AccessLogRecord } from '../../ingest/access-log/parse.js';
import { Reject } from '../../ingest/reject.js';
import { ACCESS_LOG, CLOUDTRAIL } from '../../ingest/schema.js';
import { ACCESS_LOG_REGEX, athenaDdl, datasetDays, datasetTableDdl, hiveString, rawAccessLogDdl, rawCloudTrailDdl } from '../../query/athena/ddl.js';
import { generateAccessLogLines } from '../../scripts/gen-access-logs.js';
import { CONFORMANCE, tempDir } from '../helpers/dataset.js';
import { hiveLiterals, hiveUnescape } from '../helpers/hive.js';

describe('Athena DDL', () => {
  it('declares the Parquet tables from the schema, with date partition projection', () => {
    const ddl = datasetTableDdl(ACCESS_LOG, 's3sift', 's3://my-data/s3sift');
    expect(ddl).toMatch(/^CREATE EXTERNAL TABLE IF NOT EXISTS `s3sift`\.`access_log` \(/);
    for (const c of ACCESS_LOG.columns) expect(ddl).toContain(`\`${c.name}\``);
    expect(ddl).toContain('`event_time` timestamp');
    expect(ddl).toContain('`extra_fields` array<string>');
    expect(ddl).toContain("LOCATION 's3://my-data/s3sift/access_log/'");
    expect(ddl).toContain("'projection.date.format' = 'yyyy-MM-dd'");
    expect(ddl).toContain("'projection.date.range' = '2006-03-14,NOW'"); // no earlier day can have an S3 log
    expect(datasetTableDdl(ACCESS_LOG, 's3sift', 's3://my-data/s3sift', '2025-03-10')).toContain("'projection.date.range' = '2025-03-10,NOW'");
    expect(() => datasetTableDdl(ACCESS_LOG, 's3sift', 's3://my-data/s3sift', '2025-02-30')).toThrow(/not a day/);
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
    // A first day the user gives also moves that of tables made earlier; a guessed one never does.
    expect(athenaDdl({ database: 'sec', location: 's3://data-bucket/p', firstDay: '2024-01-01', resetRange: true }).map((s) => s.split('\n')[0])).toEqual([
      'CREATE DATABASE IF NOT EXISTS `sec`;',
      'CREATE EXTERNAL TABLE IF NOT EXISTS `sec`.`access_log` (',
      "ALTER TABLE `sec`.`access_log` SET TBLPROPERTIES ('projection.date.range' = '2024-01-01,NOW');",
      'CREATE EXTERNAL TABLE IF NOT EXISTS `sec`.`cloudtrail` (',
      "ALTER TABLE `sec`.`cloudtrail` SET TBLPROPERTIES ('projection.date.range' = '2024-01-01,NOW');",
      'CREATE OR REPLACE VIEW "sec"."s3_requests" AS',
    ]);
    const ct = all[5] as string;
    expect(ct).toContain("'storage.location.template' = 's3://trail-bucket/AWSLogs/o-abc123/${account}/CloudTrail/${region}/${date}/'");
    expect(ct).toContain("'projection.region.values' = 'us-east-1,eu-west-1'");
    expect(() => athenaDdl({ database: 'x', location: '/local/path' })).toThrow(/not an s3:\/\/ location/);
    expect(rawCloudTrailDdl('d', 's3://logs-bucket/', { accounts: ['1'], regions: ['us-east-1'] })).toContain("LOCATION 's3://logs-bucket/AWSLogs/'");
  });

  it("declares CloudTrail's current record shape (AWS's published table)", () => {
    const ct = rawCloudTrailDdl('d', 's3://logs-bucket/', { accounts: ['111122223333'], regions: ['us-east-1'] });
    expect(ct).toContain('onbehalfof:struct<userid:string, identitystorearn:string>');
    expect(ct).toContain('webidfederationdata:struct<federatedprovider:string, attributes:map<string,string>>');
    for (const c of ['vpcendpointaccountid string', 'eventcategory string', 'addendum struct<', 'sessioncredentialfromconsole string', 'edgedevicedetails string', 'tlsdetails struct<tlsversion:string']) expect(ct).toContain(c);
  });

  it('the view reads its tables by their full names, so it works from any current database', () => {
    const view = athenaDdl({ database: 'sec', location: 's3://data-bucket/p' }).find((s) => s.startsWith('CREATE OR REPLACE VIEW')) as string;
    expect(view).toContain('FROM "sec"."access_log" a');
    expect(view).toContain('FROM "sec"."cloudtrail" c');
    expect(view).not.toMatch(/FROM (access_log|cloudtrail)\b/);
  });

  it('writes every string literal so that Hive reads back exactly the text meant', () => {
    const texts = ["plain", "it's", 'back\\slash', '\\[x\\]', '\\u0041 and \\017 and \\n', "quote \\' mix", '%_\\%\\_', 'tab\there'];
    for (const t of texts) expect([t, hiveUnescape(hiveString(t))]).toEqual([t, t]);
    // Every literal of the whole DDL parses back to itself written again.
    const ddl = athenaDdl({ database: 'sec', location: 's3://data-bucket/p', rawAccessLogs: 's3://logs-bucket/a/', rawCloudTrail: 's3://trail-bucket', cloudTrail: { accounts: ['111122223333'], regions: ['us-east-1'] } }).join('\n');
    const literals = hiveLiterals(ddl);
    expect(literals.length).toBeGreaterThan(100);
    for (const l of literals) expect(hiveString(hiveUnescape(l))).toBe(l);
  });
});

describe('datasetDays', () => {
  it("finds a local dataset's first day, and the tables with records that have no event time", async () => {
    const tmp = tempDir();
    try {
      for (const d of ['access_log/date=2025-03-11', 'access_log/date=2025-03-09', 'cloudtrail/date=2025-03-10', 'cloudtrail/date=__HIVE_DEFAULT_PARTITION__']) mkdirSync(join(tmp.dir, d), { recursive: true });
      expect(await datasetDays(tmp.dir)).toEqual({ first: '2025-03-09', undated: ['cloudtrail'] });
      expect(await datasetDays(join(tmp.dir, 'nothing-here'))).toEqual({ undated: [] });
    } finally {
      tmp.cleanup();
    }
  });

  it('refuses a table folder it cannot read (its days might be the earliest: the projection would start after them, and Athena never read them)', async () => {
    const tmp = tempDir();
    try {
      mkdirSync(join(tmp.dir, 'access_log/date=2025-03-09'), { recursive: true });
      writeFileSync(join(tmp.dir, 'cloudtrail'), 'not a folder');
      await expect(datasetDays(tmp.dir)).rejects.toThrow(DatasetError);
      await expect(datasetDays(tmp.dir)).rejects.toThrow(`${join(tmp.dir, 'cloudtrail')}: cannot read (ENOTDIR`);
    } finally {
      tmp.cleanup();
    }
  });
});

describe('the raw access-log pattern (RegexSerDe)', () => {
  // The pattern as the table holds it: the DDL's literal after Hive's unescaping. RegexSerDe matches
  // the whole line (Matcher.matches), hence ^...$.
  const ddl = rawAccessLogDdl('d', 's3://logs-bucket/');
  const stored = hiveUnescape(/'input\.regex' = ('(?:[^'\\]|\\[\s\S])*')/.exec(ddl)?.[1] as string);
  const re = new RegExp(`^(?:${stored})$`);

  it('is stored as written: one group per column', () => {
    expect(stored).toBe(ACCESS_LOG_REGEX);
    const columns = (ddl.match(/^ {2}`[a-z_]+` string/gm) ?? []).length;
    expect(new RegExp(`${stored}|`).exec('')?.length).toBe(columns + 1);
    // What the table held before: the unescaped literal lost its backslashes, \[(.*?)\] became a character class.
    const naive = hiveUnescape(`'${ACCESS_LOG_REGEX.replaceAll("'", "\\'")}'`);
    expect(new RegExp(`${naive}|`).exec('')?.length).toBeLessThan(columns + 1);
  });

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
