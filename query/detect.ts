/**
 * Runs detections over an open dataset and turns their rows into findings
 * (docs/contract.md). A detection's SQL selects the finding columns it knows
 * (`event_time`, `bucket`, `principal`, ...); every other column it selects
 * goes into the finding's `details`, so detection SQL stays plain, portable
 * SELECTs. Parameters are bound (`$name`), never pasted into the SQL.
 */
import { DOUBLE, LIST, listValue, VARCHAR, type DuckDBConnection, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';
import { DetectionError, QueryError, UsageError, describe } from '../common/errors.js';
import { paramNames, sqlIdentifier } from '../common/sql.js';
import { ACCOUNT_PARAMS } from './config-apply.js';
import { checkCandidates, scanCandidates, type Candidates } from './candidates.js';
import { coverageRelationsIn, sharedCoverageRelations } from './coverage-relations.js';
import { SOURCES, type Detection, type ParamValue } from './detection.js';
import { COVERAGE_COLUMNS, FINDING_COLUMNS, SEVERITIES, SEVERITY_COLUMN, type CoverageGap, type Finding, type Severity } from './finding.js';
import { datasetReadError, type OpenDataset } from './dataset.js';
import { aggregateFindingId, eventFindingId, evidenceOf, groupMinutes, shapeFindings } from './finding-groups.js';
import { rowsOf, type Rows } from './rows.js';
import { lockToTables, notOneSelect, notSelectKind } from './untrusted-sql.js';

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
    // An account list holds account IDs only: a typo (11 digits) or `*` would quietly trust nobody, or everybody.
    const bad = ACCOUNT_PARAMS.includes(name) ? items.find((s) => !/^\d{12}$/.test(s)) : undefined;
    if (bad !== undefined) throw new UsageError(`${where}: an AWS account ID is 12 digits (got ${JSON.stringify(bad)})`);
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

/** Values and types to bind `params`, only those `sql` uses (DuckDB refuses unused named parameters). */
function bound(d: Detection, params: Record<string, ParamValue>, sql = d.sql): { values: Record<string, DuckDBValue>; types: Record<string, DuckDBType | undefined> } {
  const used = new Set(paramNames(sql));
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

/**
 * Prepare the SQL, and the coverage SQL, against the tables (no data read):
 * unknown columns and bad SQL fail here, naming the file, and so does
 * coverage SQL that does not select `scope` and `reason`.
 */
export async function checkDetectionSql(conn: DuckDBConnection, d: Detection): Promise<void> {
  // A rule file is untrusted: its SQL, and its coverage SQL, must each be one read-only SELECT before any is run.
  for (const [what, sql] of [['SQL', d.sql], ['coverage SQL', d.coverage]] as const) {
    const why = sql === undefined ? null : await notOneSelect(conn, sql);
    if (why !== null) throw new DetectionError(`${d.file}: the ${what} ${why}`);
  }
  let kind: string | null;
  try {
    const p = await conn.prepare(d.sql);
    kind = notSelectKind(p.statementType);
    p.destroySync();
  } catch (err) {
    throw new DetectionError(`${d.file}: the SQL does not run on the dataset's tables: ${describe(err)}`, { cause: err });
  }
  if (kind !== null) throw new DetectionError(`${d.file}: the SQL is a ${kind} statement, not a SELECT`);
  await checkCandidates(conn, d);
  // (Coverage SQL runs inside a subquery below: nothing but a SELECT parses there.)
  if (d.coverage === undefined) return;
  let names: string[];
  try {
    // A prepared statement does not know its columns before its parameters are bound: bind the defaults, read none.
    const b = bound(d, paramsFor(d), d.coverage);
    names = (await conn.runAndReadAll(`SELECT * FROM (${d.coverage}\n) AS coverage_rows LIMIT 0`, b.values, b.types)).columnNames();
  } catch (err) {
    throw new DetectionError(`${d.file}: the coverage SQL does not run on the dataset's tables: ${describe(err)}`, { cause: err });
  }
  checkCoverageColumns(d, names);
}

/** Coverage SQL selects `scope` and `reason`, and may select `records`; nothing else. */
export function checkCoverageColumns(d: Detection, names: readonly string[]): void {
  const missing = ['scope', 'reason'].filter((c) => !names.includes(c));
  const extra = names.filter((n) => !(COVERAGE_COLUMNS as readonly string[]).includes(n));
  if (missing.length || extra.length) {
    throw new DetectionError(`${d.file}: the coverage SQL must select scope and reason, and may select records (it selects ${names.join(', ') || 'nothing'})`);
  }
}

export type Source = (typeof SOURCES)[number];
export type SourcesPresent = Partial<Record<Source, boolean>>;

/** The tables `detections` read, in SOURCES' order. */
export function sourcesRead(detections: readonly Detection[]): Source[] {
  return SOURCES.filter((s) => detections.some((d) => d.sources.includes(s)));
}

/**
 * Whether each of `tables` holds any row (in the window): one query, the
 * same on both engines, reading at most a row of each.
 */
export function sourcesSql(tables: readonly Source[]): string {
  return `SELECT ${tables.map((t, i) => `(SELECT count(*) FROM (SELECT 1 AS x FROM ${t} LIMIT 1) t${i}) AS ${t}`).join(',\n       ')}`;
}

/** The answer to sourcesSql(tables): whether each holds rows. */
export function sourcesPresent(tables: readonly Source[], result: Rows): SourcesPresent {
  const row = result.rows[0] ?? {};
  return Object.fromEntries(tables.map((t) => [t, Number(row[t] ?? 0) > 0]));
}

const NO_ROWS: Record<Source, string> = { access_log: 'no access logs', cloudtrail: 'no CloudTrail records' };

/** "in the dataset", and the window when there is one. */
function where(window?: { since?: Date; until?: Date }): string {
  const from = window?.since ? ` from ${window.since.toISOString()}` : '';
  const to = window?.until ? ` until ${window.until.toISOString()}` : '';
  return `in the dataset${from || to ? `${from}${to}` : ''}`;
}

/**
 * The coverage every detection has from its `sources:`: a table it reads
 * holds no rows. A detection that reads both tables judges what either
 * holds, so it is blind only when both are empty.
 */
export function sourceCoverage(d: Detection, present: SourcesPresent, window?: { since?: Date; until?: Date }): CoverageGap[] {
  const missing = d.sources.filter((s) => present[s] === false);
  if (missing.length === 0 || missing.length < d.sources.length) return [];
  return missing.map((s) => ({ detection_id: d.id, scope: s, reason: `${NO_ROWS[s]} ${where(window)}` }));
}

/** A detection's coverage SQL rows as coverage entries. */
export function toCoverage(d: Detection, result: Rows): CoverageGap[] {
  checkCoverageColumns(d, result.columns.map((c) => c.name));
  const text = (v: unknown, none: string): string => (v === null || v === undefined || String(v) === '' ? none : String(v));
  return result.rows.map((r) => {
    const n = r.records === null || r.records === undefined ? NaN : Number(r.records);
    return { detection_id: d.id, scope: text(r.scope, '(none)'), reason: text(r.reason, '(no reason given)'), ...(Number.isFinite(n) ? { records: n } : {}) };
  });
}

/**
 * Run a detection's coverage SQL with the detection's parameters (`sql`: the
 * text as written, when the relations it reads are shared by the run).
 */
export async function runCoverage(conn: DuckDBConnection, d: Detection, params: Record<string, ParamValue>, sql = d.coverage): Promise<CoverageGap[]> {
  if (sql === undefined) return [];
  let result;
  try {
    const b = bound(d, params, sql);
    result = rowsOf(await conn.runAndReadAll(sql, b.values, b.types));
  } catch (err) {
    throw new QueryError(`${d.id} (${d.file}): coverage: ${describe(err)}`, { cause: err });
  }
  return toCoverage(d, result);
}

/** By detection, then scope and reason: one order, whichever engine computed them. */
export function compareCoverage(a: CoverageGap, b: CoverageGap): number {
  return a.detection_id.localeCompare(b.detection_id) || a.scope.localeCompare(b.scope) || a.reason.localeCompare(b.reason);
}

/**
 * What each of `d`'s `with:` queries computes, as text: its name, SQL and the
 * values of the parameters it uses, after those of every query before it
 * (which it may read). Two detections' queries of the same key give the
 * same rows over the same data.
 */
export function withKeys(d: Detection, params: Record<string, ParamValue>): string[] {
  let key = '';
  return (d.with ?? []).map((w) => {
    const used = new Set(paramNames(w.sql));
    key = JSON.stringify([key, w.name, w.sql, Object.entries(params).filter(([k]) => used.has(k))]);
    return key;
  });
}

/**
 * The `with:` tables a run shares between detections, by name: the key
 * (withKeys) of the rows each holds now.
 */
export interface SharedWith {
  /** The keys of more than one detection's queries: what is worth keeping. */
  shared: ReadonlySet<string>;
  /** The tables kept, by name: the key of each. */
  kept: Map<string, string>;
}

/** Which `with:` queries of `detections` (with their parameters) two or more of them write alike: a run computes each once. */
export function sharedWith(detections: readonly Detection[], params: ReadonlyMap<string, Record<string, ParamValue>>): SharedWith {
  const seen = new Map<string, number>();
  for (const d of detections) for (const k of withKeys(d, params.get(d.id) ?? {})) seen.set(k, (seen.get(k) ?? 0) + 1);
  return { shared: new Set([...seen].filter(([, n]) => n > 1).map(([k]) => k)), kept: new Map() };
}

/**
 * A detection's `with:` queries as temporary tables of the connection, in
 * order (a later one reads an earlier one), computed once for its SQL and
 * its coverage SQL; the returned function drops them again. With `share`,
 * a query another detection of the run writes alike (the same key) is
 * kept for it, and one kept already is not computed again: the run drops
 * those at its end (dropShared). Each was checked as part of the
 * detection's SQL (checkDetectionSql), and is checked again to be one
 * SELECT before it runs inside CREATE TABLE.
 */
export async function materialiseWith(conn: DuckDBConnection, d: Detection, params: Record<string, ParamValue>, share?: SharedWith): Promise<() => Promise<void>> {
  const made: string[] = [];
  const drop = async (): Promise<void> => {
    for (const name of made.reverse()) await conn.run(`DROP TABLE IF EXISTS ${sqlIdentifier(name)}`);
  };
  const keys = withKeys(d, params);
  try {
    for (const [i, w] of (d.with ?? []).entries()) {
      const key = keys[i] as string;
      if (share?.kept.get(w.name) === key) continue;
      const why = await notOneSelect(conn, w.sql);
      if (why !== null) throw new DetectionError(`${d.file}: the with query ${w.name} ${why}`);
      const b = bound(d, params, w.sql);
      // (A table of the name kept for another detection is replaced: it no longer holds what was kept.)
      share?.kept.delete(w.name);
      if (share?.shared.has(key)) share.kept.set(w.name, key);
      else made.push(w.name);
      await conn.run(`CREATE OR REPLACE TEMP TABLE ${sqlIdentifier(w.name)} AS SELECT * FROM (${w.sql}\n) AS ${sqlIdentifier(w.name)}`, b.values, b.types);
    }
  } catch (err) {
    await drop();
    if (share) await dropShared(conn, share);
    if (err instanceof DetectionError) throw err;
    throw new QueryError(`${d.id} (${d.file}): with: ${describe(err)}`, { cause: err });
  }
  return drop;
}

/** Drop the `with:` tables a run kept to share (materialiseWith). */
export async function dropShared(conn: DuckDBConnection, share: SharedWith): Promise<void> {
  for (const name of share.kept.keys()) await conn.run(`DROP TABLE IF EXISTS ${sqlIdentifier(name)}`);
  share.kept.clear();
}

/** Run one detection; its rows become findings. */
export async function runDetection(conn: DuckDBConnection, d: Detection, params: Record<string, ParamValue>, sql = d.sql): Promise<Finding[]> {
  let result;
  try {
    const b = bound(d, params, sql);
    result = rowsOf(await conn.runAndReadAll(sql, b.values, b.types));
  } catch (err) {
    throw new QueryError(`${d.id} (${d.file}): ${describe(err)}`, { cause: err });
  }
  return toFindings(d, result);
}

/**
 * A detection's result rows as findings: the finding columns, a `severity`
 * column as the finding's own severity (else the detection's), and every
 * other column into details. A severity that is not one of SEVERITIES is the
 * detection's error, not a finding of some made-up rank. Each row is one
 * event's finding (its finding_id as one event, count 1): shapeFindings
 * makes the run's findings from them.
 */
export function toFindings(d: Detection, result: Rows): Finding[] {
  const names = new Set(result.columns.map((c) => c.name));
  // (Checked when there are rows: an empty answer may come without columns, as a fake Athena's does.)
  for (const [k, col] of Object.entries(d.aggregateColumns ?? {})) {
    if (result.rows.length && !names.has(col)) throw new DetectionError(`${d.file}: aggregate ${k} names the column ${col}, which the SQL does not select`);
  }
  return result.rows.map((r) => {
    const details: Record<string, unknown> = {};
    for (const c of result.columns) {
      if (c.name === SEVERITY_COLUMN || (FINDING_COLUMNS as readonly string[]).includes(c.name) || r[c.name] === null || r[c.name] === undefined) continue;
      details[c.name] = r[c.name];
    }
    const get = (k: string): string | null => (r[k] === undefined || r[k] === null ? null : String(r[k]));
    const severity = get(SEVERITY_COLUMN)?.trim().toLowerCase() ?? d.severity;
    if (!(SEVERITIES as readonly string[]).includes(severity)) {
      throw new QueryError(`${d.id} (${d.file}): its severity column gave ${JSON.stringify(severity)}; a finding's severity is one of ${SEVERITIES.join(', ')}`);
    }
    // A detection that aggregates may name the columns of its count and last time (docs/detections.md, "Writing a detection").
    const counted = d.aggregateColumns?.count === undefined ? NaN : Number(r[d.aggregateColumns.count]);
    const last = d.aggregateColumns?.last_time === undefined ? null : get(d.aggregateColumns.last_time);
    const f: Finding = {
      finding_id: '', detection_id: d.id, severity: severity as Severity, title: d.title,
      event_time: get('event_time'), last_time: last ?? get('event_time'), count: Number.isInteger(counted) && counted > 0 ? counted : 1, sources: [],
      source: get('source'), bucket: get('bucket'), key: get('key'), principal: get('principal'), source_ip: get('source_ip'),
      account_id: get('account_id'), region: get('region'), request_id: get('request_id'), event_id: get('event_id'), source_file: get('source_file'),
      source_line: r.source_line === undefined || r.source_line === null ? null : Number(r.source_line),
      evidence: [], details,
    };
    f.finding_id = d.aggregate ? aggregateFindingId(d.id, f) : eventFindingId(d.id, f);
    f.sources = f.source === null ? [] : [f.source];
    f.evidence = [evidenceOf(f)];
    return f;
  });
}

export interface DetectionRun {
  id: string;
  findings: number;
  /** Time taken by its SQL. */
  ms: number;
  /** Time taken by its coverage SQL (DuckDB runs; Athena runs both at once). */
  coverage_ms?: number;
  /**
   * CPU time of the process (every DuckDB thread) during its SQL and coverage
   * SQL (DuckDB runs): what it cost, even where other work shares the cores.
   */
  cpu_ms?: number;
}

/** How a run shapes findings. */
export interface RunOptions {
  /** One finding per event (still one per request across sources): no grouping, whatever group_minutes says. */
  ungrouped?: boolean;
  /** Keeps the events (each request once) that become findings, before grouping: the config's suppress rules (query/suppress.ts suppressor). */
  sift?: (findings: readonly Finding[]) => Finding[];
}

export interface DetectResult {
  findings: Finding[];
  runs: DetectionRun[];
  /** Time taken before the first detection (DuckDB runs): checking every SQL, and the relations the run shares. */
  prepare_ms?: number;
  /** CPU time of the process in that time (DuckDB runs). */
  prepare_cpu_ms?: number;
  /** What the detections could not judge, and why (by detection, then scope). */
  coverage: CoverageGap[];
}

const rank = (s: Severity): number => SEVERITIES.indexOf(s);

/** Most severe first, then by detection, time, and where they came from: one order, whichever engine ran them. */
export function compareFindings(a: Finding, b: Finding): number {
  const text = (x: string | null): string => x ?? '';
  return rank(b.severity) - rank(a.severity) || a.detection_id.localeCompare(b.detection_id) || text(a.event_time).localeCompare(text(b.event_time)) ||
    text(a.source_file).localeCompare(text(b.source_file)) || (a.source_line ?? 0) - (b.source_line ?? 0) || text(a.principal).localeCompare(text(b.principal)) ||
    text(a.request_id).localeCompare(text(b.request_id)) || text(a.bucket).localeCompare(text(b.bucket)) || text(a.key).localeCompare(text(b.key)) ||
    a.finding_id.localeCompare(b.finding_id);
}

/**
 * Run `detections` over `ds`; findings most severe first, then by detection
 * and time. Each detection's coverage comes with them: its sources' (a table
 * it reads is empty) and its `coverage:` SQL's.
 */
export async function runDetections(ds: OpenDataset, detections: readonly Detection[], overrides: ParamOverrides = {}, onRun?: (r: DetectionRun) => void, opts: RunOptions = {}): Promise<DetectResult> {
  try {
    return await runAll(ds, detections, overrides, onRun, opts);
  } catch (err) {
    // A Parquet file that cannot be read fails whichever statement reads it first: say which file.
    if (err instanceof DetectionError) throw err;
    throw (await datasetReadError(ds, err)) ?? err;
  }
}

async function runAll(ds: OpenDataset, detections: readonly Detection[], overrides: ParamOverrides, onRun: ((r: DetectionRun) => void) | undefined, opts: RunOptions): Promise<DetectResult> {
  checkOverrides(detections, overrides);
  const start = performance.now();
  const startCpu = process.cpuUsage();
  const params = new Map(detections.map((d) => [d.id, paramsFor(d, overrides)]));
  // Detection SQL, from any source, reads the tables and nothing else (a large run may still spill to disk).
  await lockToTables(ds.conn, ds.dir, { spill: true });
  for (const d of detections) await checkDetectionSql(ds.conn, d);
  const tables = sourcesRead(detections);
  const present = tables.length ? sourcesPresent(tables, rowsOf(await ds.conn.runAndReadAll(sourcesSql(tables)))) : {};
  // The relations coverage SQL reads are computed once for the run, not once per detection.
  const shared = sharedCoverageRelations([...new Set(detections.flatMap((d) => coverageRelationsIn(d.coverageAsWritten ?? '')))]);
  const findings: Finding[] = [];
  const runs: DetectionRun[] = [];
  const coverage: CoverageGap[] = [];
  let candidates: Candidates | undefined;
  // The with: queries two detections write alike (the baselines' request_days) are computed once for both.
  const share = sharedWith(detections, params);
  try {
    for (const sql of shared.create) await ds.conn.run(sql);
    candidates = await scanCandidates(ds.conn, detections);
    const prepare_ms = performance.now() - start;
    const prepare_cpu_ms = cpuMs(startCpu);
    for (const d of detections) {
      const values = params.get(d.id) as Record<string, ParamValue>;
      let t0 = performance.now();
      const cpu0 = process.cpuUsage();
      // Its with: queries once, for both its SQL and its coverage SQL (their time counts as the SQL's).
      const dropWith = d.with ? await materialiseWith(ds.conn, d, values, share) : undefined;
      let f: Finding[];
      let ms: number;
      try {
        const rows = await candidates.narrowed(d, () => runDetection(ds.conn, d, values, d.sqlAsWritten ?? d.sql));
        f = shapeFindings(d, rows, groupMinutes(d, values, opts.ungrouped), opts.sift);
        findings.push(...f);
        ms = performance.now() - t0;
        t0 = performance.now();
        coverage.push(...sourceCoverage(d, present, ds.window), ...(await runCoverage(ds.conn, d, values, d.coverageAsWritten ?? d.coverage)));
      } finally {
        await dropWith?.();
      }
      const run = { id: d.id, findings: f.length, ms, coverage_ms: performance.now() - t0, cpu_ms: cpuMs(cpu0) };
      runs.push(run);
      onRun?.(run);
    }
    findings.sort(compareFindings);
    coverage.sort(compareCoverage);
    return { findings, runs, coverage, prepare_ms, prepare_cpu_ms };
  } finally {
    await candidates?.drop();
    await dropShared(ds.conn, share);
    for (const sql of shared.drop) await ds.conn.run(sql);
  }
}

/** Milliseconds of CPU time the process has used since `since` (a process.cpuUsage()). */
function cpuMs(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
}

/** `--timing`: each detection's time (its SQL, then its coverage SQL, and the CPU time of both), slowest first, and the run's. */
export function timingReport(result: Pick<DetectResult, 'runs' | 'prepare_ms' | 'prepare_cpu_ms'>): string {
  const ms = (n: number): string => `${Math.round(n).toLocaleString('en-US')} ms`;
  const all = (r: DetectionRun): number => r.ms + (r.coverage_ms ?? 0);
  const rows = [...result.runs].sort((a, b) => all(b) - all(a));
  const prepare = result.prepare_ms ?? 0;
  const total = prepare + rows.reduce((n, r) => n + all(r), 0);
  const width = Math.max(0, ...rows.map((r) => ms(all(r)).length));
  // CPU time as well as wall time: on a busy machine the wall time of one detection is mostly the others' work.
  const cpu = (n: number | undefined): string => (n === undefined ? '' : ` (CPU ${ms(n)})`);
  const cpuTotal = result.prepare_cpu_ms === undefined ? undefined : result.prepare_cpu_ms + rows.reduce((n, r) => n + (r.cpu_ms ?? 0), 0);
  return [
    `timing: ${ms(total)}${cpu(cpuTotal)} in all; ${ms(prepare)}${cpu(result.prepare_cpu_ms)} to check the SQL and compute the relations coverage SQL shares and the candidate rows`,
    ...rows.map((r) => `  ${ms(all(r)).padStart(width)}  ${r.id} (SQL ${ms(r.ms)}, coverage ${ms(r.coverage_ms ?? 0)}${r.cpu_ms === undefined ? '' : `, CPU ${ms(r.cpu_ms)}`}; ${r.findings} finding${r.findings === 1 ? '' : 's'})`),
  ].join('\n');
}

/** Select detections by `--only` ids; an unknown id is a usage error naming the known ones. */
export function selectDetections(all: readonly Detection[], only: readonly string[]): Detection[] {
  if (only.length === 0) return [...all];
  const known = new Set(all.map((d) => d.id));
  const missing = only.filter((id) => !known.has(id));
  if (missing.length) throw new UsageError(`--only: unknown detection ${missing.join(', ')} (see 's3sift detections list')`);
  return all.filter((d) => only.includes(d.id));
}
