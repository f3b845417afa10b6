/**
 * Athena DDL, derived from the one schema declaration: the Parquet dataset
 * tables (partition projection on `date`: no MSCK REPAIR, ever), the
 * `s3_requests` view, and tables over raw logs in S3 (server access logs with
 * a corrected RegexSerDe pattern; CloudTrail with CloudTrailInputFormat and
 * projection on account, region and date).
 */
import { readdir } from 'node:fs/promises';
import { DatasetError, describe } from '../../common/errors.js';
import { join } from 'node:path';
import { TABLES, type ColumnSpec, type SqlType, type TableSpec } from '../../ingest/schema.js';
import { NULL_PARTITION } from '../../ingest/staging.js';
import { s3RequestsSql } from '../views.js';

const HIVE_TYPES: Record<SqlType, string> = {
  VARCHAR: 'string', INTEGER: 'int', BIGINT: 'bigint', BOOLEAN: 'boolean', TIMESTAMP: 'timestamp', 'VARCHAR[]': 'array<string>', JSON: 'string',
};

/** A Hive DDL identifier: backquoted. */
const hiveIdentifier = (s: string): string => '`' + s.replaceAll('`', '``') + '`';
/**
 * A Hive DDL string literal. Hive unescapes the text between the quotes
 * (`BaseSemanticAnalyzer.unescapeSQLString`): a backslash before a quote or
 * a backslash stands for that character, and before any other character it
 * is dropped, so `\[` in a regex must be written `\\[`. For DDL only;
 * queries take `sqlString`.
 */
export const hiveString = (s: string): string => `'${s.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;

/** S3 opened for business: no access log is older, so no projection needs to start earlier. */
export const S3_FIRST_DAY = '2006-03-14';

/** `s3://bucket/prefix` with exactly one trailing slash. */
export function s3Folder(uri: string): string {
  if (!/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/.test(uri)) throw new Error(`not an s3:// location: ${uri}`);
  return uri.replace(/\/*$/, '/');
}

function columnDdl(c: ColumnSpec): string {
  return `  ${hiveIdentifier(c.name)} ${HIVE_TYPES[c.type]} COMMENT ${hiveString(c.doc.replaceAll('`', ''))}`;
}

/** `YYYY-MM-DD`, a real day. */
export function checkDay(day: string): string {
  if (!/^\d{4}-\d\d-\d\d$/.test(day) || new Date(`${day}T00:00:00Z`).toISOString().slice(0, 10) !== day) throw new Error(`not a day (YYYY-MM-DD): ${day}`);
  return day;
}

export interface DatasetDays {
  /** The earliest `date=` partition of either table, if any. */
  first?: string;
  /** Tables holding records with no event time (`date=__HIVE_DEFAULT_PARTITION__`), which a projected table never reads. */
  undated: string[];
}

/** The days a local dataset's Parquet files are partitioned by. */
export async function datasetDays(dir: string): Promise<DatasetDays> {
  const out: DatasetDays = { undated: [] };
  for (const t of TABLES) {
    let names: string[];
    try {
      names = await readdir(join(dir, t.name));
    } catch (err) {
      // No folder: nothing ingested into the table. Any other failure hides days that may be the first.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new DatasetError(`${join(dir, t.name)}: cannot read (${describe(err)}); the first day of its records is not known until it can be (the projection would start after them)`, { cause: err });
    }
    for (const n of names) {
      const day = n.startsWith('date=') ? n.slice(5) : undefined;
      if (day === NULL_PARTITION) out.undated.push(t.name);
      else if (day && /^\d{4}-\d\d-\d\d$/.test(day) && (!out.first || day < out.first)) out.first = day;
    }
  }
  return out;
}

/** The projected range of `date`: from the dataset's first day (a query without a date filter lists one prefix a day). */
const dateRange = (firstDay: string): string => `${checkDay(firstDay)},NOW`;

/**
 * CREATE EXTERNAL TABLE for one table of the Parquet dataset under
 * `location`, with `date` projected from `firstDay` (the dataset's first
 * day) to today.
 */
export function datasetTableDdl(t: TableSpec, database: string, location: string, firstDay = S3_FIRST_DAY): string {
  const root = `${s3Folder(location)}${t.name}/`;
  return `CREATE EXTERNAL TABLE IF NOT EXISTS ${hiveIdentifier(database)}.${hiveIdentifier(t.name)} (
${t.columns.map(columnDdl).join(',\n')}
)
COMMENT ${hiveString(t.doc)}
PARTITIONED BY (${hiveIdentifier('date')} string)
STORED AS PARQUET
LOCATION ${hiveString(root)}
TBLPROPERTIES (
  'parquet.compression' = 'ZSTD',
  'projection.enabled' = 'true',
  'projection.date.type' = 'date',
  'projection.date.format' = 'yyyy-MM-dd',
  'projection.date.range' = ${hiveString(dateRange(firstDay))},
  'projection.date.interval' = '1',
  'projection.date.interval.unit' = 'DAYS',
  'storage.location.template' = ${hiveString(`${root}date=\${date}/`)}
);`;
}

/**
 * The range of an existing table's projection, set again: `CREATE ... IF NOT
 * EXISTS` leaves a table as it is, so re-running the DDL after publishing
 * older logs moves the first day back.
 */
export function projectionRangeDdl(t: TableSpec, database: string, firstDay = S3_FIRST_DAY): string {
  return `ALTER TABLE ${hiveIdentifier(database)}.${hiveIdentifier(t.name)} SET TBLPROPERTIES ('projection.date.range' = ${hiveString(dateRange(firstDay))});`;
}

/** The `s3_requests` view, in the database, reading the database's tables by their full names. */
export function s3RequestsViewDdl(database: string): string {
  return s3RequestsSql(database) + ';';
}

/**
 * The server access log line, for RegexSerDe. AWS's published pattern makes
 * its optional tail all-or-nothing (a 24- or 25-field record loses host_id
 * onward), misaligns on a referrer with a space, and keeps the quotes; here
 * each trailing field is optional on its own, quoted fields are matched up to
 * the quote that the next field follows, and only their inside is captured.
 */
export const ACCESS_LOG_REGEX = [
  '([^ ]*) ([^ ]*) \\[(.*?)\\] ([^ ]*) ([^ ]*) ([^ ]*) ([^ ]*) ([^ ]*)',
  ' (?:-|"(.*?)") (-|[0-9]{3}) ([^ ]*) ([^ ]*) ([^ ]*) ([^ ]*) ([^ ]*)',
  ' (?:-|"(.*?)") (?:-|"(.*?)") ([^ ]*)',
  '(?: ([^ ]*))?(?: ([^ ]*))?(?: ([^ ]*))?(?: ([^ ]*))?(?: ([^ ]*))?(?: ([^ ]*))?(?: ([^ ]*))?(?: ([^ ]*))?(?: ([^ ]*))?',
  '(?: (.*?))? *',
].join('');

/** The raw-log columns, in field order: the 27 documented fields, then whatever follows. */
const RAW_ACCESS_COLUMNS = [
  'bucket_owner', 'bucket', 'request_time', 'remote_ip', 'requester', 'request_id', 'operation', 'key', 'request_uri', 'http_status',
  'error_code', 'bytes_sent', 'object_size', 'total_time_ms', 'turnaround_time_ms', 'referrer', 'user_agent', 'version_id', 'host_id',
  'signature_version', 'cipher_suite', 'auth_type', 'host_header', 'tls_version', 'access_point_arn', 'acl_required', 'source_region', 'extra_fields',
];

export function rawAccessLogDdl(database: string, location: string): string {
  return `CREATE EXTERNAL TABLE IF NOT EXISTS ${hiveIdentifier(database)}.${hiveIdentifier('raw_access_log')} (
${RAW_ACCESS_COLUMNS.map((c) => `  ${hiveIdentifier(c)} string`).join(',\n')}
)
COMMENT 'S3 server access logs as delivered (text): every field as logged, "-" kept; use the Parquet access_log for typed columns.'
ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.RegexSerDe'
WITH SERDEPROPERTIES ('input.regex' = ${hiveString(ACCESS_LOG_REGEX)})
LOCATION ${hiveString(s3Folder(location))};`;
}

export interface RawCloudTrailOptions {
  /** Account IDs whose logs are under the location (projection enum). */
  accounts: string[];
  regions: string[];
  /** Organization ID for organisation trails (`AWSLogs/o-.../account/...`). */
  orgId?: string;
}

/** CloudTrail as delivered, with CloudTrailInputFormat and projection on account, region and date. */
export function rawCloudTrailDdl(database: string, location: string, o: RawCloudTrailOptions): string {
  const root = s3Folder(location);
  const base = `${root}AWSLogs/${o.orgId ? `${o.orgId}/` : ''}`;
  return `CREATE EXTERNAL TABLE IF NOT EXISTS ${hiveIdentifier(database)}.${hiveIdentifier('raw_cloudtrail')} (
  eventversion string,
  useridentity struct<type:string, principalid:string, arn:string, accountid:string, invokedby:string, accesskeyid:string, username:string,
    onbehalfof:struct<userid:string, identitystorearn:string>,
    sessioncontext:struct<attributes:struct<mfaauthenticated:string, creationdate:string>,
      sessionissuer:struct<type:string, principalid:string, arn:string, accountid:string, username:string>,
      sourceidentity:string, ec2roledelivery:string,
      webidfederationdata:struct<federatedprovider:string, attributes:map<string,string>>>>,
  eventtime string, eventsource string, eventname string, awsregion string, sourceipaddress string, useragent string,
  errorcode string, errormessage string, requestparameters string, responseelements string, additionaleventdata string,
  requestid string, eventid string, readonly string, resources array<struct<arn:string, accountid:string, type:string>>, eventtype string,
  apiversion string, recipientaccountid string, serviceeventdetails string, sharedeventid string,
  vpcendpointid string, vpcendpointaccountid string, eventcategory string,
  addendum struct<reason:string, updatedfields:string, originalrequestid:string, originaleventid:string>,
  sessioncredentialfromconsole string, edgedevicedetails string,
  tlsdetails struct<tlsversion:string, ciphersuite:string, clientprovidedhostheader:string>
)
COMMENT 'CloudTrail log files as delivered to S3.'
PARTITIONED BY (account string, region string, ${hiveIdentifier('date')} string)
ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'
STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION ${hiveString(base)}
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.account.type' = 'enum',
  'projection.account.values' = ${hiveString(o.accounts.join(','))},
  'projection.region.type' = 'enum',
  'projection.region.values' = ${hiveString(o.regions.join(','))},
  'projection.date.type' = 'date',
  'projection.date.format' = 'yyyy/MM/dd',
  'projection.date.range' = '2013/11/01,NOW',
  'projection.date.interval' = '1',
  'projection.date.interval.unit' = 'DAYS',
  'storage.location.template' = ${hiveString(`${base}\${account}/CloudTrail/\${region}/\${date}/`)}
);`;
}

export interface DdlOptions {
  database: string;
  /** Where the Parquet dataset is (s3://bucket/prefix, holding access_log/ and cloudtrail/). */
  location: string;
  /** The dataset's first day (YYYY-MM-DD), where the `date` projection starts. */
  firstDay?: string;
  /**
   * Also set the projection's range of tables that exist (ALTER TABLE): only
   * for a first day the user gave, since one guessed from a local folder that
   * holds recent days only would hide the older ones from Athena.
   */
  resetRange?: boolean;
  rawAccessLogs?: string;
  rawCloudTrail?: string;
  cloudTrail?: RawCloudTrailOptions;
}

/** Every statement, in the order to run them. */
export function athenaDdl(o: DdlOptions): string[] {
  const out = [
    `CREATE DATABASE IF NOT EXISTS ${hiveIdentifier(o.database)};`,
    ...TABLES.flatMap((t) => [datasetTableDdl(t, o.database, o.location, o.firstDay), ...(o.resetRange ? [projectionRangeDdl(t, o.database, o.firstDay)] : [])]),
    s3RequestsViewDdl(o.database),
  ];
  if (o.rawAccessLogs) out.push(rawAccessLogDdl(o.database, o.rawAccessLogs));
  if (o.rawCloudTrail) out.push(rawCloudTrailDdl(o.database, o.rawCloudTrail, o.cloudTrail ?? { accounts: [], regions: [] }));
  return out;
}
