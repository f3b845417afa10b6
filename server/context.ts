/**
 * What the route modules share: the server's settings, the sandbox, the
 * findings (recomputed when the dataset changes) and the helpers that turn
 * request parameters into values. `app.ts` builds one and hands it to each
 * route module.
 */
import { DuckDBTimestampValue, LIST, VARCHAR, type DuckDBAppender, type DuckDBValue } from '@duckdb/node-api';
import { HTTPException } from 'hono/http-exception';
import { manifestStamp } from '../ingest/dataset.js';
import { runDetections, type ParamOverrides } from '../query/detect.js';
import type { SuppressRule } from '../query/config.js';
import { suppressor, type Suppression } from '../query/suppress.js';
import type { Detection } from '../query/detection.js';
import type { IntelSet } from '../query/intel.js';
import { loadStateCached, type StateEntry } from '../query/findings-state.js';
import { FINDING_FIELDS, findingFieldType, type CoverageGap, type Finding } from '../query/finding.js';
import { sqlIdentifier } from '../common/sql.js';
import { parseTime } from '../common/time.js';
import type { Sandbox } from './sandbox.js';
import { PARAM_TYPES } from './queries.js';

export interface ServerConfig {
  data: string;
  /** Bearer token required on every route but /health, the page and its assets; none: open (loopback only, see serve.ts). */
  token?: string;
  /** The address the server binds: with `allowedHosts`, the Host names it answers to (default 127.0.0.1). */
  host?: string;
  /** More Host names to answer to, on any port (a reverse proxy's name). */
  allowedHosts?: string[];
  timeoutMs?: number;
  rowCap?: number;
  /** Most bytes an answer holds (rows as JSON). */
  byteCap?: number;
  maxConcurrent?: number;
  /** Requests that may wait for a query slot before 429. */
  maxQueued?: number;
  /** Memory DuckDB may use, in MiB. */
  memoryLimitMb?: number;
  /** Largest request body, bytes. */
  bodyLimit?: number;
  /** Extra detection folders (like --rules). */
  rules?: string[];
  /** Threat-intel lists (`--intel`), loaded: the findings' threat-intel-address matches them. */
  intel?: IntelSet;
  /** The config's (s3sift.yaml, query/config.ts): detection parameters, and suppression rules /api/findings applies. */
  overrides?: ParamOverrides;
  suppress?: SuppressRule[];
  /** Where an internal error's line goes (default: standard error, escaped, since its text may quote the logs). */
  log?: (line: string) => void;
}

/** The settings with their defaults filled in. */
export type Settings = Required<Pick<ServerConfig, 'timeoutMs' | 'rowCap' | 'byteCap' | 'maxConcurrent' | 'maxQueued' | 'memoryLimitMb' | 'bodyLimit'>>;

/** What every route module is built from. */
export interface Ctx {
  cfg: ServerConfig;
  opts: Settings;
  sandbox: Sandbox;
  findings: FindingsCache;
  detections: Detection[];
}

export const FINDINGS_TABLE_COLUMNS = FINDING_FIELDS.map((name) => ({ name, type: findingFieldType(name) }));
const FINDINGS_DDL = `CREATE OR REPLACE TABLE findings (${FINDINGS_TABLE_COLUMNS.map((c) => `${sqlIdentifier(c.name)} ${c.type}`).join(', ')})`;

/** One finding field into the `findings` table, by its declared type (FINDING_SPEC). */
function appendField(app: DuckDBAppender, type: ReturnType<typeof findingFieldType>, v: unknown): void {
  if (v === null || v === undefined) return app.appendNull();
  switch (type) {
    case 'TIMESTAMP':
      return app.appendTimestamp(new DuckDBTimestampValue(BigInt(Date.parse(String(v))) * 1000n));
    case 'BIGINT':
      return app.appendBigInt(BigInt(v as number));
    case 'VARCHAR[]':
      return app.appendList((v as string[]).map(String), LIST(VARCHAR));
    case 'JSON':
      return app.appendVarchar(JSON.stringify(v));
    case 'VARCHAR':
      return app.appendVarchar(String(v));
  }
}

/** Findings of the whole library, and its coverage, recomputed when the dataset's manifest changes. */
export class FindingsCache {
  stamp = '';
  private findings: Finding[] = [];
  /** What the config's suppress rules silenced, event by event, in the latest run. */
  suppression: Suppression = { rules: [], suppressed: [], expired: [] };
  /** What the detections could not judge in the dataset. */
  coverage: CoverageGap[] = [];
  private pending: Promise<void> | null = null;

  constructor(
    private readonly sb: Sandbox,
    private readonly data: string,
    private readonly detections: Detection[],
    private readonly overrides: ParamOverrides = {},
    private readonly suppress: readonly SuppressRule[] = [],
  ) {}

  async get(): Promise<Finding[]> {
    const stamp = await manifestStamp(this.data);
    if (stamp !== this.stamp) {
      this.pending ??= this.refresh(stamp).finally(() => (this.pending = null));
      await this.pending;
    }
    return this.findings;
  }

  private async refresh(stamp: string): Promise<void> {
    const conn = this.sb.ds.conn;
    // The dataset changed: the views read the files of its latest commit from now on.
    await this.sb.ds.refresh();
    // The suppress rules judge each event before grouping, as for detect (query/suppress.ts).
    const s = suppressor(this.suppress);
    const { findings, coverage } = await runDetections(this.sb.ds, this.detections, this.overrides, undefined, { sift: s.filter });
    await conn.run(FINDINGS_DDL);
    const app = await conn.createAppender('findings');
    // The table user SQL and the dashboard read holds what /api/findings gives: the findings kept (the suppressed are counted there).
    for (const f of findings) {
      for (const c of FINDINGS_TABLE_COLUMNS) appendField(app, c.type, f[c.name]);
      app.endRow();
    }
    app.closeSync();
    this.findings = findings;
    this.suppression = s.suppression;
    this.coverage = coverage;
    this.stamp = stamp;
  }
}

/** The columns /api/findings adds from the findings state. */
export const STATUS_COLUMNS = [{ name: 'status', type: 'VARCHAR' }, { name: 'status_by', type: 'VARCHAR' }, { name: 'status_reason', type: 'VARCHAR' }];

export type FindingWithStatus = Finding & { status: string | null; status_by: string | null; status_reason: string | null };

/**
 * Findings with their status from the dataset's findings state: one not
 * recorded yet is open; when the state cannot be read, the status is null
 * (unknown), never a guess.
 */
export async function findingStatuses(data: string, findings: readonly Finding[]): Promise<{ rows: FindingWithStatus[]; stateRead: boolean }> {
  const state: { findings: Record<string, StateEntry> } | null = await loadStateCached(data).catch(() => null);
  const rows = findings.map((f) => {
    const e = state?.findings[f.finding_id];
    return { ...f, status: state === null ? null : (e?.status ?? 'open'), status_by: e?.status_by ?? null, status_reason: e?.status_reason ?? null };
  });
  return { rows, stateRead: state !== null };
}

/** Refuse the request with `status` and a message (the error boundary writes the envelope). */
export function fail(status: number, message: string): never {
  throw new HTTPException(status as 400, { message });
}

/** A query-string or JSON parameter as the value its declared type needs. */
export function paramValue(name: string, raw: unknown, type: keyof typeof PARAM_TYPES): DuckDBValue {
  if (raw === undefined || raw === null || raw === '') return null;
  if (type === 'integer') {
    const n = Number(raw);
    if (!Number.isInteger(n)) fail(400, `${name} must be a whole number`);
    return n;
  }
  if (type === 'timestamp') {
    const d = parseTime(String(raw));
    if (!d) fail(400, `${name} must be an ISO 8601 time, e.g. 2025-03-12T08:00:00Z (a time without an offset is UTC)`);
    return new DuckDBTimestampValue(BigInt(d.getTime()) * 1000n);
  }
  return String(raw);
}

/** A time parameter as milliseconds since the epoch (null when not given). */
export function timeParam(name: string, raw: string | undefined): number | null {
  if (raw === undefined || raw === '') return null;
  return Number((paramValue(name, raw, 'timestamp') as DuckDBTimestampValue).micros / 1000n);
}

/** Refuse (400) query parameters a route does not take, naming them and those it does. */
export function onlyParams(given: Record<string, string>, known: readonly string[], route: string): void {
  const unknown = Object.keys(given).filter((k) => !known.includes(k));
  if (unknown.length) fail(400, `unknown parameter ${unknown.map((k) => JSON.stringify(k.slice(0, 60))).join(', ')} (${route} takes ${known.join(', ')})`);
}

/** A whole-number parameter within [min, max], or `dflt` when absent. */
export function intParam(name: string, raw: string | undefined, dflt: number, min: number, max: number, why = ''): number {
  if (raw === undefined || raw === '') return dflt;
  if (!/^\d{1,12}$/.test(raw)) fail(400, `${name} must be a whole number from ${min} to ${max}`);
  const n = Number(raw);
  if (n < min || n > max) fail(400, `${name} must be from ${min} to ${max}${why} (got ${n})`);
  return n;
}
