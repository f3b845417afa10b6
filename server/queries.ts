/**
 * Saved dashboard queries: named, described, with typed parameters, for the
 * built-in page and for Grafana (`GET /api/queries/NAME?since=...`). Every
 * parameter may be left out (NULL), which means "no filter".
 */
import { INTEGER, TIMESTAMP, VARCHAR, type DuckDBType } from '@duckdb/node-api';
import { SEVERITIES } from '../query/finding.js';
import { binMinutesSql } from './bins.js';

export type ParamType = 'timestamp' | 'text' | 'integer';

export interface SavedQuery {
  name: string;
  description: string;
  params: Record<string, { type: ParamType; description: string }>;
  sql: string;
}

export const PARAM_TYPES: Record<ParamType, DuckDBType> = { timestamp: TIMESTAMP, text: VARCHAR, integer: INTEGER };

const window = {
  since: { type: 'timestamp', description: 'Only events at or after this time (ISO 8601).' },
  until: { type: 'timestamp', description: 'Only events before this time.' },
  bucket: { type: 'text', description: 'Only this bucket.' },
} as const;

const where = (t = 'event_time'): string =>
  `($since IS NULL OR ${t} >= $since) AND ($until IS NULL OR ${t} < $until) AND ($bucket IS NULL OR bucket = $bucket)`;

const bins = { bin_minutes: { type: 'integer', description: 'Width of a time bin in minutes (default: chosen from since/until, else from the data\'s span, for about 120 bins: 1, 5, 15, 60, 360 or 1440).' } } as const;

/** Requests an error code says were refused for want of permission (the access log's 403s as well). */
export const DENIED_SQL = `(error_code IN ('AccessDenied', 'AllAccessDisabled', 'AccountProblem', 'InvalidAccessKeyId', 'SignatureDoesNotMatch') OR http_status = 403)`;

/**
 * `SELECT ... FROM rel, b`: `b.m` is the bin width, `$bin_minutes` or the
 * one chosen from the range asked about (`$since`, `$until`), else from the
 * data's own span.
 */
const binned = (rel: string): string =>
  `b AS (SELECT coalesce($bin_minutes, ${binMinutesSql('epoch(coalesce($until, max(event_time)) - coalesce($since, min(event_time))) / 60')}) AS m FROM ${rel})`;

/** The severities, least first, as a SQL list: a severity's rank is its position. */
const SEVERITY_LIST = `[${SEVERITIES.map((s) => `'${s}'`).join(', ')}]`;

export const SAVED_QUERIES: readonly SavedQuery[] = [
  {
    name: 'findings_over_time',
    description: 'Findings per time bin and severity: `time` the bin\'s start, `day` its day, `bin_minutes` its width.',
    params: { ...window, ...bins },
    sql: `WITH f AS (SELECT event_time, severity FROM findings WHERE ${where()}), ${binned('f')}
      SELECT date_trunc('day', time_bucket(to_minutes(b.m), event_time)) AS day, time_bucket(to_minutes(b.m), event_time) AS time, severity, count(*) AS findings, b.m AS bin_minutes
      FROM f, b GROUP BY ALL ORDER BY time, severity`,
  },
  {
    name: 'requests_over_time',
    description: 'Requests per time bin and source, with errors and denied requests: `time` the bin\'s start, `bin_minutes` its width.',
    params: { ...window, ...bins },
    sql: `WITH r AS (SELECT event_time, source, error_code, http_status FROM s3_requests WHERE ${where()}), ${binned('r')}
      SELECT time_bucket(to_minutes(b.m), event_time) AS time, source, count(*) AS requests, count(error_code) AS errors, count(*) FILTER (WHERE ${DENIED_SQL}) AS denied, b.m AS bin_minutes
      FROM r, b GROUP BY ALL ORDER BY time, source`,
  },
  {
    name: 'top_detections',
    description: 'Detections by number of findings, with the most severe of their findings.',
    params: { ...window, limit: { type: 'integer', description: 'How many (default 10).' } },
    sql: `SELECT detection_id, max_by(severity, list_position(${SEVERITY_LIST}, severity)) AS severity, count(*) AS findings FROM findings WHERE ${where()} GROUP BY detection_id ORDER BY findings DESC, detection_id LIMIT coalesce($limit, 10)`,
  },
  {
    name: 'top_principals',
    description: 'Principals (or, unsigned, addresses) by number of requests, with denied requests.',
    params: { ...window, limit: { type: 'integer', description: 'How many (default 10).' } },
    sql: `SELECT coalesce(principal, 'anonymous') AS principal, count(*) AS requests, count(error_code) AS errors FROM s3_requests WHERE ${where()} GROUP BY ALL ORDER BY requests DESC LIMIT coalesce($limit, 10)`,
  },
  {
    name: 'top_addresses',
    description: 'Client addresses by number of requests.',
    params: { ...window, limit: { type: 'integer', description: 'How many (default 10).' } },
    sql: `SELECT source_ip, count(*) AS requests, count(DISTINCT principal) AS principals FROM s3_requests WHERE source_ip IS NOT NULL AND ${where()} GROUP BY ALL ORDER BY requests DESC LIMIT coalesce($limit, 10)`,
  },
  {
    name: 'tls_versions',
    description: 'Share of requests by TLS version (none: plain HTTP), where the log records it.',
    params: window,
    sql: `SELECT coalesce(tls_version, 'none') AS tls_version, count(*) AS requests FROM s3_requests WHERE tls_logged AND source_ip IS NOT NULL AND ${where()} GROUP BY ALL ORDER BY requests DESC`,
  },
  {
    name: 'signature_versions',
    description: 'Share of requests by signature version (none: unsigned).',
    params: window,
    sql: `SELECT coalesce(signature_version, 'none') AS signature_version, count(*) AS requests FROM s3_requests WHERE ${where()} GROUP BY ALL ORDER BY requests DESC`,
  },
  {
    name: 'presigned_use',
    description: 'Requests made with pre-signed URLs per time bin, and the longest expiry seen: `time` the bin\'s start, `day` its day, `bin_minutes` its width.',
    params: { ...window, ...bins },
    sql: `WITH p AS (SELECT event_time, presigned_expires_s FROM s3_requests WHERE auth_type = 'QueryString' AND ${where()}), ${binned('p')}
      SELECT date_trunc('day', time_bucket(to_minutes(b.m), event_time)) AS day, time_bucket(to_minutes(b.m), event_time) AS time, count(*) AS requests,
        max(presigned_expires_s) AS longest_expiry_s, b.m AS bin_minutes
      FROM p, b GROUP BY ALL ORDER BY time`,
  },
  {
    name: 'buckets',
    description: 'Buckets seen, with their requests (for the bucket filter).',
    params: {},
    sql: `SELECT bucket, count(*) AS requests FROM s3_requests WHERE bucket IS NOT NULL GROUP BY ALL ORDER BY requests DESC`,
  },
];
