/**
 * Runs detections over an open dataset and turns their rows into findings
 * (docs/contract.md). A detection's SQL selects the finding columns it knows
 * (`event_time`, `bucket`, `principal`, ...); every other column it selects
 * goes into the finding's `details`, so detection SQL stays plain, portable
 * SELECTs. Parameters are bound (`$name`), never pasted into the SQL.
 */
import { DOUBLE, LIST, listValue, VARCHAR, type DuckDBConnection, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';
import { DetectionError, QueryError, UsageError, describe } from '../common/errors.js';
import { paramNames } from '../common/sql.js';
import type { Detection, ParamValue } from './detection.js';
import { FINDING_COLUMNS, SEVERITIES, type Finding, type Severity } from './finding.js';
import type { OpenDataset } from './dataset.js';
import { rowsOf, type Rows } from './rows.js';

/** `--param` values: `NAME=VALUE` for every detection that has NAME, `ID.NAME=VALUE` for one. */
export type ParamOverrides = Record<string, string>;

/** Parse `--param` flags into overrides; a flag without `=` is a usage error. */
export function parseParamFlags(flags: readonly string[]): ParamOverrides {
  const out: ParamOverrides = {};
  for (const f of flags) {
    const eq = f.indexOf('=');
    if (eq <= 0) throw new UsageError(`--param takes NAME=VALUE or DETECTION.NAME=VALUE (got ${JSON.stringify(f)})`);
    out[f.slice(0, eq)] = f.slice(eq + 1);
  }
  return out;
}

/** A flag's text as the type of the parameter's default. */
function coerce(d: Detection, name: string, text: string): ParamValue {
  const def = (d.params[name] as { default: ParamValue }).default;
  const where = `--param ${name} (${d.id})`;
  if (typeof def === 'number') {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${where} must be a number (got ${JSON.stringify(text)})`);
    return n;
  }
  if (typeof def === 'boolean') {
    if (text !== 'true' && text !== 'false') throw new UsageError(`${where} must be true or false (got ${JSON.stringify(text)})`);
    return text === 'true';
  }
  if (Array.isArray(def)) {
    const items = text === '' ? [] : text.split(',').map((s) => s.trim());
    if (def.every((x) => typeof x === 'number') && def.length > 0) {
      if (items.some((s) => !Number.isFinite(Number(s)))) throw new UsageError(`${where} must be a comma-separated list of numbers`);
      return items.map(Number);
    }
    return items;
  }
  return text;
}

/** The values to bind for `d`: defaults, then overrides (flags as text, tests as values). */
export function paramsFor(d: Detection, overrides: ParamOverrides = {}, values: Record<string, ParamValue> = {}): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {};
  for (const [name, spec] of Object.entries(d.params)) {
    const text = overrides[`${d.id}.${name}`] ?? overrides[name];
    out[name] = values[name] ?? (text !== undefined ? coerce(d, name, text) : spec.default);
  }
  return out;
}

/** Check that every override names a parameter some selected detection has. */
export function checkOverrides(detections: readonly Detection[], overrides: ParamOverrides): void {
  for (const key of Object.keys(overrides)) {
    const [idOrName, maybeName] = key.includes('.') ? key.split('.', 2) : [undefined, key];
    const ok = detections.some((d) => (idOrName === undefined || d.id === idOrName) && (maybeName as string) in d.params);
    if (!ok) throw new UsageError(`--param ${key}: no selected detection has that parameter (see 's3sift detections show ID')`);
  }
}

/** A list parameter's item type; an empty list has none of its own: the default's, else text. */
export function listItemType(d: Detection, name: string, v: readonly unknown[]): 'DOUBLE' | 'VARCHAR' {
  const def = d.params[name]?.default;
  const sample = v.length ? v : Array.isArray(def) ? def : [];
  return sample.length > 0 && sample.every((x) => typeof x === 'number') ? 'DOUBLE' : 'VARCHAR';
}

/** The item types of `params`' lists, by name. */
export function listItemTypes(d: Detection, params: Record<string, ParamValue>): Record<string, 'DOUBLE' | 'VARCHAR'> {
  return Object.fromEntries(Object.entries(params).filter(([, v]) => Array.isArray(v)).map(([k, v]) => [k, listItemType(d, k, v as unknown[])]));
}

/** Values and types to bind `params`, only those the SQL uses (DuckDB refuses unused named parameters). */
function bound(d: Detection, params: Record<string, ParamValue>): { values: Record<string, DuckDBValue>; types: Record<string, DuckDBType | undefined> } {
  const used = new Set(paramNames(d.sql));
  const values: Record<string, DuckDBValue> = {};
  const types: Record<string, DuckDBType | undefined> = {};
  for (const [k, v] of Object.entries(params)) {
    if (!used.has(k)) continue;
    if (Array.isArray(v)) {
      values[k] = listValue(v as DuckDBValue[]);
      types[k] = LIST(listItemType(d, k, v) === 'DOUBLE' ? DOUBLE : VARCHAR);
    } else values[k] = v;
  }
  return { values, types };
}

/** Prepare the SQL against the tables (no data read): unknown columns and bad SQL fail here, naming the file. */
export async function checkDetectionSql(conn: DuckDBConnection, d: Detection): Promise<void> {
  try {
    const p = await conn.prepare(d.sql);
    p.destroySync();
  } catch (err) {
    throw new DetectionError(`${d.file}: the SQL does not run on the dataset's tables: ${describe(err)}`, { cause: err });
  }
}

/** Run one detection; its rows become findings. */
export async function runDetection(conn: DuckDBConnection, d: Detection, params: Record<string, ParamValue>): Promise<Finding[]> {
  let result;
  try {
    const b = bound(d, params);
    result = rowsOf(await conn.runAndReadAll(d.sql, b.values, b.types));
  } catch (err) {
    throw new QueryError(`${d.id} (${d.file}): ${describe(err)}`, { cause: err });
  }
  return toFindings(d, result);
}

/** A detection's result rows as findings: the finding columns, and every other column into details. */
export function toFindings(d: Detection, result: Rows): Finding[] {
  return result.rows.map((r) => {
    const details: Record<string, unknown> = {};
    for (const c of result.columns) if (!(FINDING_COLUMNS as readonly string[]).includes(c.name) && r[c.name] !== null && r[c.name] !== undefined) details[c.name] = r[c.name];
    const get = (k: string): string | null => (r[k] === undefined || r[k] === null ? null : String(r[k]));
    return {
      detection_id: d.id, severity: d.severity, title: d.title,
      event_time: get('event_time'), source: get('source'), bucket: get('bucket'), key: get('key'), principal: get('principal'),
      source_ip: get('source_ip'), request_id: get('request_id'), event_id: get('event_id'), source_file: get('source_file'),
      source_line: r.source_line === undefined || r.source_line === null ? null : Number(r.source_line),
      details,
    };
  });
}

export interface DetectionRun {
  id: string;
  findings: number;
  ms: number;
}

export interface DetectResult {
  findings: Finding[];
  runs: DetectionRun[];
}

const rank = (s: Severity): number => SEVERITIES.indexOf(s);

/** Most severe first, then by detection, time, and where they came from: one order, whichever engine ran them. */
export function compareFindings(a: Finding, b: Finding): number {
  const text = (x: string | null): string => x ?? '';
  return rank(b.severity) - rank(a.severity) || a.detection_id.localeCompare(b.detection_id) || text(a.event_time).localeCompare(text(b.event_time)) ||
    text(a.source_file).localeCompare(text(b.source_file)) || (a.source_line ?? 0) - (b.source_line ?? 0) || text(a.principal).localeCompare(text(b.principal)) ||
    text(a.request_id).localeCompare(text(b.request_id)) || text(a.bucket).localeCompare(text(b.bucket)) || text(a.key).localeCompare(text(b.key));
}

/** Run `detections` over `ds`; findings most severe first, then by detection and time. */
export async function runDetections(ds: OpenDataset, detections: readonly Detection[], overrides: ParamOverrides = {}, onRun?: (r: DetectionRun) => void): Promise<DetectResult> {
  checkOverrides(detections, overrides);
  const params = new Map(detections.map((d) => [d.id, paramsFor(d, overrides)]));
  for (const d of detections) await checkDetectionSql(ds.conn, d);
  const findings: Finding[] = [];
  const runs: DetectionRun[] = [];
  for (const d of detections) {
    const t0 = performance.now();
    const f = await runDetection(ds.conn, d, params.get(d.id) as Record<string, ParamValue>);
    findings.push(...f);
    const run = { id: d.id, findings: f.length, ms: performance.now() - t0 };
    runs.push(run);
    onRun?.(run);
  }
  findings.sort(compareFindings);
  return { findings, runs };
}

/** Select detections by `--only` ids; an unknown id is a usage error naming the known ones. */
export function selectDetections(all: readonly Detection[], only: readonly string[]): Detection[] {
  if (only.length === 0) return [...all];
  const known = new Set(all.map((d) => d.id));
  const missing = only.filter((id) => !known.has(id));
  if (missing.length) throw new UsageError(`--only: unknown detection ${missing.join(', ')} (see 's3sift detections list')`);
  return all.filter((d) => only.includes(d.id));
}
