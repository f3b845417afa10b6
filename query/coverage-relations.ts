/**
 * Relations a detection's `coverage:` SQL may read besides the tables, so
 * that the common questions ("which buckets have only CloudTrail management
 * events?") are asked one way in the whole library. The loader puts the ones
 * a coverage query names in front of it as WITH queries, before either engine
 * sees it: DuckDB and Athena run the same text.
 */

/** Name to query. Plain SQL both engines read alike (checked by the Athena render tests). */
export const COVERAGE_RELATIONS: Readonly<Record<string, string>> = {
  /**
   * Per bucket, what the data holds of it: `has_access_log` (server
   * access-log records), `has_data_events` (CloudTrail S3 data events: object
   * requests), `has_management_events` (CloudTrail S3 management events:
   * bucket settings).
   * Network activity events go to the VPC endpoint's owner and are left out.
   */
  bucket_sources: `SELECT bucket, max(in_access_log) = 1 AS has_access_log, max(data_event) = 1 AS has_data_events, max(management_event) = 1 AS has_management_events
    FROM (
      SELECT DISTINCT bucket, 1 AS in_access_log, 0 AS data_event, 0 AS management_event FROM access_log WHERE bucket IS NOT NULL
      UNION ALL
      SELECT DISTINCT bucket, 0,
             CASE WHEN coalesce(management_event, event_category = 'Management', "key" IS NULL) THEN 0 ELSE 1 END,
             CASE WHEN coalesce(management_event, event_category = 'Management', "key" IS NULL) THEN 1 ELSE 0 END
      FROM cloudtrail
      WHERE event_source = 's3.amazonaws.com' AND bucket IS NOT NULL AND coalesce(event_category, '') <> 'NetworkActivity'
    ) s
    GROUP BY bucket`,
  /**
   * The access-log records of requests CloudTrail has no S3 event of (no
   * event with the same request ID): what only the access log saw, whose
   * request headers (encryption, MFA, a versioning status) it does not keep.
   */
  access_log_only: `SELECT a.* FROM access_log a
    LEFT JOIN (SELECT DISTINCT request_id FROM cloudtrail WHERE event_source = 's3.amazonaws.com' AND request_id IS NOT NULL) c ON c.request_id = a.request_id
    WHERE c.request_id IS NULL`,
};

/**
 * `sql` with the relations it names and does not define itself as WITH
 * queries in front (joined to its own WITH list, if it has one).
 */
export function withCoverageRelations(sql: string): string {
  const used = Object.entries(COVERAGE_RELATIONS).filter(([name]) => new RegExp(`\\b${name}\\b`).test(sql) && !new RegExp(`\\b${name}\\s+AS\\s*\\(`, 'i').test(sql));
  if (!used.length) return sql;
  const defs = used.map(([name, q]) => `${name} AS (  -- s3sift's, for coverage SQL\n    ${q}\n  )`).join(', ');
  const own = /^\s*WITH\s+/i.exec(sql);
  return own ? `WITH ${defs}, ${sql.slice(own[0].length)}` : `WITH ${defs}\n${sql.replace(/^\s+/, '')}`;
}
