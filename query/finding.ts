/**
 * The finding: one declaration of its fields and severities, read by the
 * detections runner, every output format, the HTTP API and the CLI
 * (docs/contract.md lists the fields). Nothing here loads an engine, so the
 * command line can name severities and fields without starting DuckDB.
 */

export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** The columns a detection's SQL may select into a finding; any other column goes into `details`. */
export const FINDING_COLUMNS = ['event_time', 'source', 'bucket', 'key', 'principal', 'source_ip', 'request_id', 'event_id', 'source_file', 'source_line'] as const;

/**
 * A column a detection's SQL may select to set one finding's severity (one of
 * SEVERITIES): a denied attempt lower, a log bucket's loss higher. NULL, or no
 * such column, keeps the detection's own.
 */
export const SEVERITY_COLUMN = 'severity';

/** Every field of a finding, in the order every format gives them. */
export const FINDING_FIELDS = ['detection_id', 'severity', 'title', ...FINDING_COLUMNS, 'details'] as const;

/** A finding field's SQL type (the HTTP API's `findings` table and its column types); the others are VARCHAR. */
export function findingFieldType(field: (typeof FINDING_FIELDS)[number]): 'VARCHAR' | 'TIMESTAMP' | 'BIGINT' | 'JSON' {
  return field === 'event_time' ? 'TIMESTAMP' : field === 'source_line' ? 'BIGINT' : field === 'details' ? 'JSON' : 'VARCHAR';
}

export interface Finding {
  /** Stable identity of the finding across runs (provisional: the finding-shape work replaces how it is made). */
  finding_id: string;
  detection_id: string;
  severity: Severity;
  title: string;
  event_time: string | null;
  source: string | null;
  bucket: string | null;
  key: string | null;
  principal: string | null;
  source_ip: string | null;
  request_id: string | null;
  event_id: string | null;
  source_file: string | null;
  source_line: number | null;
  details: Record<string, unknown>;
}

/**
 * Coverage: data a detection could not judge, and why (docs/detections.md,
 * "What was not checked"). A finding says what happened; a coverage entry
 * says where the detection was blind, so that no finding there is not taken
 * for nothing happening. `scope` is a bucket name, a source (`access_log`,
 * `cloudtrail`), `(no bucket)` for requests that name none, or `(all)`.
 */
export interface CoverageGap {
  detection_id: string;
  scope: string;
  /** What could not be judged and why, in plain English. */
  reason: string;
  /** How many records that is, where the detection can count them. */
  records?: number;
}

/** The fields of a coverage entry, in the order every format gives them (`records` only when counted). */
export const COVERAGE_FIELDS = ['detection_id', 'scope', 'reason', 'records'] as const;

/** The columns a detection's `coverage:` SQL selects: `scope` and `reason`, and `records` if it counts them. */
export const COVERAGE_COLUMNS = ['scope', 'reason', 'records'] as const;

/** How findings can be printed: the report, JSON, NDJSON, CSV, OCSF Detection Findings. */
export const FINDING_FORMATS = ['table', 'json', 'ndjson', 'csv', 'ocsf'] as const;
export type FindingFormat = (typeof FINDING_FORMATS)[number];

/** How query results can be printed. */
export const QUERY_FORMATS = ['table', 'json', 'ndjson', 'csv', 'arrow'] as const;
export type QueryFormat = (typeof QUERY_FORMATS)[number];
