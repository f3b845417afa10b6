/**
 * Relations a detection's `coverage:` SQL may read besides the tables, so
 * that the common questions ("which buckets have only CloudTrail management
 * events?") are asked one way in the whole library. The loader puts the ones
 * a coverage query names in front of it as WITH queries, before either engine
 * sees it: DuckDB and Athena run the same text.
 */

/** CloudTrail's S3 events: bucket, the account that received them, management or data, read or write. */
const S3_EVENTS = `SELECT bucket, recipient_account_id AS account, coalesce(management_event, event_category = 'Management', "key" IS NULL) AS management,
             coalesce(read_only, regexp_like(event_name, '^(Get|Head|List|Select)')) AS reads
      FROM cloudtrail
      WHERE event_source = 's3.amazonaws.com' AND bucket IS NOT NULL AND coalesce(event_category, '') <> 'NetworkActivity'`;

/** Where CloudTrail's S3 events with a request ID are. */
const S3_REQUEST_ID_SOURCE = `FROM cloudtrail WHERE event_source = 's3.amazonaws.com' AND request_id IS NOT NULL`;
/** The request IDs of CloudTrail's S3 events. */
const S3_REQUEST_IDS = `SELECT DISTINCT request_id ${S3_REQUEST_ID_SOURCE}`;

/**
 * The access-log records of requests CloudTrail has no S3 event of (no
 * event with the same request ID): what only the access log saw, whose
 * request headers (encryption, MFA, a versioning status) it does not keep.
 * `ids`: the relation of S3_REQUEST_IDS (or of the same IDs each as often
 * as CloudTrail has it: a row with a partner is dropped however many it has).
 */
function accessLogOnly(ids: string): string {
  return `SELECT a.* FROM access_log a
    LEFT JOIN ${ids} c ON c.request_id = a.request_id
    WHERE c.request_id IS NULL`;
}

/**
 * `relation` (access_log_only's rows) counted by bucket, operation (as the
 * access log names it), whether it names no key (`on_bucket`) and whether it
 * succeeded (`succeeded`: no error code, and a status below 300, or none).
 */
function accessLogOnlyCounts(relation: string): string {
  return `SELECT bucket, operation, "key" IS NULL AS on_bucket, error_code IS NULL AND (http_status IS NULL OR http_status < 300) AS succeeded,
           count(*) AS records
    FROM ${relation} a
    GROUP BY bucket, operation, "key" IS NULL, error_code IS NULL AND (http_status IS NULL OR http_status < 300)`;
}

/**
 * `bucket_sources` (see COVERAGE_RELATIONS) from `events`, a relation of
 * S3_EVENTS' rows. It reads only which (bucket, account, management, reads)
 * there are, never how many: the distinct ones give the same answer.
 */
function bucketSources(events: string): string {
  return `SELECT s.bucket, max(s.in_access_log) = 1 AS has_access_log, max(s.data_read) = 1 AS has_data_reads, max(s.data_write) = 1 AS has_data_writes,
           max(s.data_read + s.data_write) > 0 AS has_data_events, max(s.management_event) = 1 AS has_management_events,
           max(coalesce(a.data_read, 0)) = 1 AS account_has_data_reads, max(coalesce(a.data_write, 0)) = 1 AS account_has_data_writes
    FROM (
      SELECT DISTINCT bucket, CAST(NULL AS VARCHAR) AS account, 1 AS in_access_log, 0 AS data_read, 0 AS data_write, 0 AS management_event
      FROM access_log WHERE bucket IS NOT NULL
      UNION ALL
      SELECT DISTINCT bucket, account, 0, CASE WHEN NOT management AND reads THEN 1 ELSE 0 END, CASE WHEN NOT management AND NOT reads THEN 1 ELSE 0 END,
             CASE WHEN management THEN 1 ELSE 0 END
      FROM ${events} c
    ) s
    LEFT JOIN (SELECT account, max(CASE WHEN reads THEN 1 ELSE 0 END) AS data_read, max(CASE WHEN reads THEN 0 ELSE 1 END) AS data_write
               FROM ${events} c WHERE NOT management GROUP BY account) a ON a.account = s.account
    GROUP BY s.bucket`;
}

/** Name to query. Plain SQL both engines read alike (checked by the Athena render tests). */
export const COVERAGE_RELATIONS: Readonly<Record<string, string>> = {
  /**
   * Per bucket, what the data holds of it: `has_access_log` (server
   * access-log records), `has_data_reads` and `has_data_writes` (CloudTrail
   * S3 data events that read, or write or delete, its objects),
   * `has_data_events` (either), `has_management_events` (CloudTrail S3
   * management events: bucket settings). A bucket with reads and no writes
   * may just have had none; `account_has_data_reads` and
   * `account_has_data_writes` say whether the account that received its
   * events has any of the kind, of any bucket: none of a kind at all is a
   * trail that logs only the other (ReadOnly or WriteOnly data events).
   * Network activity events go to the VPC endpoint's owner and are left out.
   */
  bucket_sources: bucketSources(`(${S3_EVENTS})`),
  /** See accessLogOnly. */
  access_log_only: accessLogOnly(`(${S3_REQUEST_IDS})`),
  /** See accessLogOnlyCounts: what most coverage queries ask of access_log_only, one row a kind, not one a request. */
  access_log_only_counts: accessLogOnlyCounts(`(${accessLogOnly(`(${S3_REQUEST_IDS})`)})`),
};

/** The names of the relations `sql` reads and does not define itself. */
export function coverageRelationsIn(sql: string): string[] {
  return Object.keys(COVERAGE_RELATIONS).filter((name) => new RegExp(`\\b${name}\\b`).test(sql) && !new RegExp(`\\b${name}\\s+AS\\s*\\(`, 'i').test(sql));
}

/**
 * `sql` with the relations it names and does not define itself as WITH
 * queries in front (joined to its own WITH list, if it has one).
 */
export function withCoverageRelations(sql: string): string {
  return withQueriesInFront(sql, coverageRelationsIn(sql).map((name) => [name, COVERAGE_RELATIONS[name] as string, "s3sift's, for coverage SQL"]));
}

/**
 * `sql` with `queries` (name, SQL, a note) in front as WITH queries, in
 * order, joined to its own WITH list, if it has one.
 */
export function withQueriesInFront(sql: string, queries: ReadonlyArray<readonly [name: string, sql: string, note: string]>): string {
  if (!queries.length) return sql;
  const defs = queries.map(([name, body, note]) => `${name} AS (  -- ${note}\n    ${body}\n  )`).join(', ');
  // Its own WITH list, after any leading comments; WITH RECURSIVE keeps its word first.
  const own = /^((?:\s|--[^\n]*\n)*)WITH(\s+RECURSIVE)?\s+/i.exec(sql);
  if (own) return `${own[1] ?? ''}WITH${own[2] ?? ''} ${defs}, ${sql.slice(own[0].length)}`;
  return `WITH ${defs}\n${sql.replace(/^\s+/, '')}`;
}

/** The temporary request-ID table behind a shared `access_log_only`. */
const SHARED_IDS = '_s3sift_s3_request_ids';
/** The temporary table of S3 event kinds behind a shared `bucket_sources`. */
const SHARED_EVENT_KINDS = '_s3sift_s3_event_kinds';

/**
 * DuckDB statements that make `names` temporary relations of the
 * connection, computed once for a whole run instead of once per coverage
 * query (`bucket_sources`, one row a bucket, from one read of CloudTrail,
 * and `access_log_only_counts`, one row a kind, as tables;
 * `access_log_only` as a view over a table of CloudTrail's request IDs, so
 * no copy of the access log is held), and the
 * statements that drop them again.
 */
export function sharedCoverageRelations(names: readonly string[]): { create: string[]; drop: string[] } {
  const create: string[] = [];
  const drop: string[] = [];
  const ids = names.some((n) => n === 'access_log_only' || n === 'access_log_only_counts');
  // Not DISTINCT: an anti-join's answer does not depend on how often an ID is there, and not hashing
  // every ID one more time to drop the few repeated ones cost 0.25-0.35 s of CPU at 10M events against 0.7 s.
  if (ids) create.push(`CREATE OR REPLACE TEMP TABLE ${SHARED_IDS} AS SELECT request_id ${S3_REQUEST_ID_SOURCE}`);
  for (const name of names) {
    if (name === 'access_log_only') {
      create.push(`CREATE OR REPLACE TEMP VIEW access_log_only AS ${accessLogOnly(SHARED_IDS)}`);
      drop.push('DROP VIEW IF EXISTS access_log_only');
    } else if (name === 'access_log_only_counts') {
      create.push(`CREATE OR REPLACE TEMP TABLE access_log_only_counts AS ${accessLogOnlyCounts(`(${accessLogOnly(SHARED_IDS)})`)}`);
      drop.push('DROP TABLE IF EXISTS access_log_only_counts');
    } else if (name === 'bucket_sources') {
      // CloudTrail read once, not twice (bucketSources reads its events twice), and each kind of event kept once.
      create.push(`CREATE OR REPLACE TEMP TABLE ${SHARED_EVENT_KINDS} AS SELECT DISTINCT bucket, account, management, reads FROM (${S3_EVENTS}) c`);
      create.push(`CREATE OR REPLACE TEMP TABLE bucket_sources AS ${bucketSources(SHARED_EVENT_KINDS)}`);
      drop.push('DROP TABLE IF EXISTS bucket_sources', `DROP TABLE IF EXISTS ${SHARED_EVENT_KINDS}`);
    } else {
      create.push(`CREATE OR REPLACE TEMP TABLE ${name} AS ${COVERAGE_RELATIONS[name] as string}`);
      drop.push(`DROP TABLE IF EXISTS ${name}`);
    }
  }
  if (ids) drop.push(`DROP TABLE IF EXISTS ${SHARED_IDS}`);
  return { create, drop };
}
