/**
 * The finding: one declaration of its fields and severities, read by the
 * detections runner, every output format, the HTTP API and the CLI
 * (docs/contract.md lists the fields). Nothing here loads an engine, so the
 * command line can name severities and fields without starting DuckDB.
 */

export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** A finding field's type: text, a time (RFC 3339 text in JSON), a whole number, a list of text, or a JSON object/list. */
export type FindingFieldType = 'text' | 'timestamp' | 'integer' | 'text list' | 'json';

export interface FindingFieldSpec {
  name: string;
  type: FindingFieldType;
  /** Whether a detection's SQL may select it (else the runner sets it; a column of that name goes into `details`). */
  fromSql: boolean;
  /** What it means (docs/contract.md's table is this). */
  doc: string;
}

const field = <N extends string>(name: N, type: FindingFieldType, fromSql: boolean, doc: string): FindingFieldSpec & { name: N } => ({ name, type, fromSql, doc });

/**
 * The finding, declared once: every field in the order every format gives
 * it, its type, whether detection SQL selects it, and what it means. The
 * Finding interface below is checked against it (FindingField), the CSV
 * columns, the HTTP API's `findings` table and the docs table derive from it.
 */
export const FINDING_SPEC = [
  field('finding_id', 'text', false, 'Stable identity: the same finding has the same ID across runs, engines and formats (20 hex digits of a SHA-256 of the detection and what the finding is about; docs/detections.md, "Finding IDs")'),
  field('detection_id', 'text', false, 'The detection that found it'),
  field('severity', 'text', false, 'One of `info, low, medium, high, critical`: the detection\'s, or the finding\'s own when its SQL selects a `severity` column'),
  field('title', 'text', false, 'The detection\'s title'),
  field('event_time', 'timestamp', true, 'When it happened; of a grouped finding, its first event'),
  field('last_time', 'timestamp', false, 'Its last event: of one event, `event_time`; of a detection that aggregates, the column its `aggregate: {last_time}` names'),
  field('count', 'integer', false, 'How many events it stands for: 1 for one event (a request both sources logged is one); of a detection that aggregates, what its SQL counts (`aggregate: {count}`: requests, objects), else 1'),
  field('sources', 'text list', false, 'The log sources that saw it: `access_log`, `cloudtrail` or both'),
  field('source', 'text', true, 'The source of the record its fields come from (CloudTrail\'s when both logged it)'),
  field('bucket', 'text', true, 'The bucket'),
  field('key', 'text', true, 'The object key'),
  field('principal', 'text', true, 'Who: the IAM ARN, canonical user ID or account; NULL for an anonymous request'),
  field('source_ip', 'text', true, 'The caller\'s address'),
  field('account_id', 'text', true, 'The AWS account the event was delivered to (CloudTrail `recipientAccountId`), where the detection knows it'),
  field('region', 'text', true, 'The AWS Region (CloudTrail `awsRegion`), where the detection knows it'),
  field('request_id', 'text', true, 'The S3 request ID (the same in both sources)'),
  field('event_id', 'text', true, 'The CloudTrail event ID'),
  field('source_file', 'text', true, 'The log file of the record'),
  field('source_line', 'integer', true, 'Its line (or record number) in that file'),
  field('evidence', 'json', false, 'The first events (up to 5): `event_time, source, key, request_id, event_id, source_file, source_line` each'),
  field('details', 'json', false, 'Every other column the detection\'s SQL selects, by name'),
] as const satisfies readonly FindingFieldSpec[];

export type FindingField = (typeof FINDING_SPEC)[number]['name'];

/** Every field of a finding, in the order every format gives them. */
export const FINDING_FIELDS: readonly FindingField[] = FINDING_SPEC.map((f) => f.name);

/** The columns a detection's SQL may select into a finding; any other column goes into `details`. */
export const FINDING_COLUMNS: readonly FindingField[] = FINDING_SPEC.filter((f) => f.fromSql).map((f) => f.name);

/**
 * A column a detection's SQL may select to set one finding's severity (one of
 * SEVERITIES): a denied attempt lower, a log bucket's loss higher. NULL, or no
 * such column, keeps the detection's own.
 */
export const SEVERITY_COLUMN = 'severity';

const SQL_TYPES: Record<FindingFieldType, 'VARCHAR' | 'TIMESTAMP' | 'BIGINT' | 'VARCHAR[]' | 'JSON'> = {
  text: 'VARCHAR', timestamp: 'TIMESTAMP', integer: 'BIGINT', 'text list': 'VARCHAR[]', json: 'JSON',
};

/** A finding field's SQL type (the HTTP API's `findings` table). */
export function findingFieldType(name: FindingField): (typeof SQL_TYPES)[FindingFieldType] {
  return SQL_TYPES[(FINDING_SPEC.find((f) => f.name === name) as FindingFieldSpec).type];
}

/** How many events a finding keeps as `evidence`. */
export const EVIDENCE_MAX = 5;

/** One event of a finding's `evidence`: where to find the record. */
export interface Evidence {
  event_time: string | null;
  source: string | null;
  key: string | null;
  request_id: string | null;
  event_id: string | null;
  source_file: string | null;
  source_line: number | null;
}

export interface Finding {
  finding_id: string;
  detection_id: string;
  severity: Severity;
  title: string;
  event_time: string | null;
  last_time: string | null;
  count: number;
  sources: string[];
  source: string | null;
  bucket: string | null;
  key: string | null;
  principal: string | null;
  source_ip: string | null;
  account_id: string | null;
  region: string | null;
  request_id: string | null;
  event_id: string | null;
  source_file: string | null;
  source_line: number | null;
  evidence: Evidence[];
  details: Record<string, unknown>;
}

// The interface has exactly the declared fields (a field added to one and not the other fails to compile).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const declared: Same<keyof Finding, FindingField> = true;
void declared;

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

/**
 * What `s3sift query` can write: the HTTP API's formats, and Parquet (a
 * file) and `line` (one column a line, for a person). The HTTP API keeps
 * QUERY_FORMATS: these two are the command line's only.
 */
export const EXPORT_FORMATS = [...QUERY_FORMATS, 'parquet', 'line'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** The finding fields as the markdown table of docs/contract.md ("## Findings"): a test holds the page to it. */
export function findingFieldsTable(): string {
  const cell = (s: string): string => s.replaceAll('|', '\\|');
  return ['| field | type | set by the SQL | meaning |', '|---|---|---|---|',
    ...FINDING_SPEC.map((f) => `| \`${f.name}\` | ${f.type} | ${f.fromSql ? 'yes' : 'no'} | ${cell(f.doc)} |`)].join('\n');
}
