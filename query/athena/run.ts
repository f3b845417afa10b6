/**
 * Running the detection library on Athena through `@aws-sdk/client-athena`:
 * StartQueryExecution with each detection rendered for Athena (render.ts),
 * GetQueryExecution polled with backoff until a final state,
 * GetQueryResults paged (the first row of a SELECT's first page is the
 * header), values typed from ColumnInfo. Throttling is retried by the SDK's
 * standard retry strategy; a failed query is reported for its detection with
 * Athena's own message, and the rest go on.
 */
import {
  AthenaClient, GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand,
  type ColumnInfo, type Row,
} from '@aws-sdk/client-athena';
import { setTimeout as sleep } from 'node:timers/promises';
import { DetectionError, QueryError } from '../../common/errors.js';
import { isoTime, type Rows } from '../rows.js';
import {
  checkCoverageColumns, checkOverrides, compareCoverage, compareFindings, listItemTypes, paramsFor, sourceCoverage, sourcesPresent, sourcesRead, sourcesSql, toCoverage, toFindings,
  type DetectResult, type DetectionRun, type ParamOverrides,
} from '../detect.js';
import { nativeFunctionIn } from '../dialect.js';
import { groupMinutes, shapeFindings } from '../finding-groups.js';
import type { CoverageGap, Finding } from '../finding.js';
import type { Detection, ParamValue } from '../detection.js';
import { renderForAthena } from './render.js';
import { resultShapes, type ResultColumn } from './shape.js';

export interface AthenaOptions {
  database: string;
  workgroup: string;
  outputLocation?: string;
  /** Reuse results of an identical query up to this old (minutes); 0: never. */
  reuseMinutes?: number;
  since?: Date;
  until?: Date;
  /** First poll delay and the longest between polls (ms). */
  pollMs?: number;
  maxPollMs?: number;
  /** Athena's price per TB scanned, for the cost estimate (USD). */
  pricePerTb?: number;
  /** One finding per event, as `detect --ungrouped` (RunOptions). */
  ungrouped?: boolean;
  /** The config's suppress rules judging each event before grouping, as on DuckDB (RunOptions.sift). */
  sift?: (findings: readonly Finding[]) => Finding[];
}

export interface AthenaQueryResult extends Rows {
  queryId: string;
  bytesScanned: number;
}

export class AthenaQueryError extends QueryError {}

/** A cell as the JS value its Athena type stands for (times as RFC 3339 `Z`). */
export function typed(v: string | undefined, type: string): unknown {
  if (v === undefined) return null;
  switch (type) {
    case 'tinyint': case 'smallint': case 'integer': case 'bigint': case 'double': case 'float': case 'real': case 'decimal': {
      const n = Number(v);
      return Number.isFinite(n) ? n : v;
    }
    case 'boolean':
      return v === 'true';
    case 'timestamp': case 'timestamp with time zone':
      return isoTime(v.replace(/ UTC$/, ''));
    case 'json':
      try {
        return JSON.parse(v) as unknown;
      } catch {
        return v;
      }
    default:
      return v;
  }
}

/** Run one query to the end and read all its rows. */
export async function runAthenaQuery(client: AthenaClient, sql: string, parameters: string[], o: AthenaOptions): Promise<AthenaQueryResult> {
  const start = await client.send(new StartQueryExecutionCommand({
    QueryString: sql,
    QueryExecutionContext: { Database: o.database },
    WorkGroup: o.workgroup,
    ...(o.outputLocation ? { ResultConfiguration: { OutputLocation: o.outputLocation } } : {}),
    ...(parameters.length ? { ExecutionParameters: parameters } : {}),
    ...(o.reuseMinutes ? { ResultReuseConfiguration: { ResultReuseByAgeConfiguration: { Enabled: true, MaxAgeInMinutes: o.reuseMinutes } } } : {}),
  }));
  const queryId = start.QueryExecutionId;
  if (!queryId) throw new AthenaQueryError('Athena started no query (no QueryExecutionId)');
  let delay = o.pollMs ?? 250;
  let bytesScanned = 0;
  for (;;) {
    const ex = (await client.send(new GetQueryExecutionCommand({ QueryExecutionId: queryId }))).QueryExecution;
    const state = ex?.Status?.State;
    bytesScanned = ex?.Statistics?.DataScannedInBytes ?? bytesScanned;
    if (state === 'SUCCEEDED') break;
    if (state === 'FAILED' || state === 'CANCELLED') {
      throw new AthenaQueryError(`query ${queryId} ${state.toLowerCase()}: ${ex?.Status?.StateChangeReason ?? ex?.Status?.AthenaError?.ErrorMessage ?? 'no reason given'}`);
    }
    await sleep(delay);
    delay = Math.min(Math.round(delay * 1.6), o.maxPollMs ?? 5000);
  }
  let columns: ColumnInfo[] = [];
  const rows: Array<Record<string, unknown>> = [];
  let token: string | undefined;
  let first = true;
  do {
    const page = await client.send(new GetQueryResultsCommand({ QueryExecutionId: queryId, NextToken: token }));
    if (first) columns = page.ResultSet?.ResultSetMetadata?.ColumnInfo ?? [];
    let data: Row[] = page.ResultSet?.Rows ?? [];
    if (first) data = data.slice(1); // the header row
    first = false;
    for (const row of data) {
      const out: Record<string, unknown> = {};
      columns.forEach((c, i) => (out[c.Name as string] = typed(row.Data?.[i]?.VarCharValue, (c.Type ?? 'varchar').toLowerCase())));
      rows.push(out);
    }
    token = page.NextToken;
  } while (token);
  return { queryId, bytesScanned, columns: columns.map((c) => ({ name: c.Name as string, type: (c.Type ?? 'varchar').toUpperCase() })), rows };
}

/**
 * Each detection's SQL as the runner sends it to Athena (by id), or why it
 * cannot run there: parameters written in, the window applied, array
 * columns cast to JSON. The result shapes come from DuckDB's plan of the
 * same SQL over empty tables (shape.ts).
 */
export async function athenaStatements(detections: readonly Detection[], o: Pick<AthenaOptions, 'database' | 'since' | 'until'>, overrides: ParamOverrides = {}): Promise<Map<string, string | Error>> {
  const out = new Map<string, string | Error>();
  const runnable = detections.filter((d) => {
    const native = nativeFunctionIn(d.sql);
    if (native) out.set(d.id, new DetectionError(`runs on DuckDB only: it calls ${native}, s3sift's own policy evaluator, which Athena does not have`));
    return !native;
  });
  const params = new Map(runnable.map((d) => [d.id, paramsFor(d, overrides)]));
  const valuesOf = (d: Detection): Record<string, ParamValue> => params.get(d.id) as Record<string, ParamValue>;
  const shapes = await resultShapes(runnable, valuesOf, (d) => listItemTypes(d, valuesOf(d)));
  for (const d of runnable) {
    const shape = shapes.get(d.id);
    if (shape instanceof Error) {
      out.set(d.id, shape);
      continue;
    }
    try {
      out.set(d.id, renderForAthena(d.sql, valuesOf(d), { window: o, columns: shape, listTypes: listItemTypes(d, valuesOf(d)) }));
    } catch (err) {
      out.set(d.id, err instanceof Error ? err : new Error(String(err)));
    }
  }
  return out;
}

export interface AthenaCoverageStatements {
  /** Whether each table the detections read holds rows (sourcesSql), or null when they read none. */
  sources: string | null;
  /** Each `coverage:` SQL (by detection id), or why it cannot run there. */
  detections: Map<string, string | Error>;
}

/**
 * What the runner sends to Athena to learn what the detections could not
 * judge, rendered as detection SQL is (renderForAthena: parameters written
 * in, the window applied): whether the tables hold rows, and each
 * detection's coverage SQL. Coverage SQL is planned on DuckDB first, as
 * detection SQL is (shape.ts), so SQL that does not run, or selects other
 * columns than scope, reason and records, fails there, alone.
 */
export async function athenaCoverageStatements(detections: readonly Detection[], o: Pick<AthenaOptions, 'database' | 'since' | 'until'>, overrides: ParamOverrides = {}): Promise<AthenaCoverageStatements> {
  const tables = sourcesRead(detections);
  const out = new Map<string, string | Error>();
  const withCoverage = detections.filter((d): d is Detection & { coverage: string } => d.coverage !== undefined && !nativeFunctionIn(d.sql));
  const params = new Map(withCoverage.map((d) => [d.id, paramsFor(d, overrides)]));
  const valuesOf = (d: Detection): Record<string, ParamValue> => params.get(d.id) as Record<string, ParamValue>;
  const shapes = withCoverage.length ? await resultShapes(withCoverage.map((d) => ({ ...d, sql: d.coverage })), valuesOf, (d) => listItemTypes(d, valuesOf(d))) : new Map<string, ResultColumn[] | DetectionError>();
  for (const d of withCoverage) {
    try {
      const shape = shapes.get(d.id);
      if (shape instanceof Error) throw new DetectionError(shape.message.replace(': the SQL does not run', ': the coverage SQL does not run'), { cause: shape });
      checkCoverageColumns(d, (shape ?? []).map((c) => c.name));
      out.set(d.id, renderForAthena(d.coverage, valuesOf(d), { window: o, listTypes: listItemTypes(d, valuesOf(d)) }));
    } catch (err) {
      out.set(d.id, err instanceof Error ? err : new Error(String(err)));
    }
  }
  return { sources: tables.length ? renderForAthena(sourcesSql(tables), {}, { window: o }) : null, detections: out };
}

export interface AthenaDetectResult extends DetectResult {
  failures: Array<{ id: string; error: string }>;
  bytesScanned: number;
  costUsd: number;
}

/**
 * Run `detections` on Athena; failures are reported per detection, the
 * others go on. Coverage is computed there too: first whether the tables
 * hold rows (a failure there stops the run: the tables cannot be read),
 * then each detection's coverage SQL after it. A detection that fails, or
 * whose coverage SQL fails, is a failure, and its coverage says so (scope
 * `(all)`), so that its 0 findings are not read as nothing found.
 */
export async function runDetectionsOnAthena(client: AthenaClient, detections: readonly Detection[], o: AthenaOptions, overrides: ParamOverrides = {}, onRun?: (r: DetectionRun & { bytes: number; error?: string }) => void): Promise<AthenaDetectResult> {
  checkOverrides(detections, overrides);
  const findings: Finding[] = [];
  const runs: DetectionRun[] = [];
  const coverage: CoverageGap[] = [];
  const failures: Array<{ id: string; error: string }> = [];
  let bytes = 0;
  const statements = await athenaStatements(detections, o, overrides);
  const coverageSql = await athenaCoverageStatements(detections, o, overrides);
  const tables = sourcesRead(detections);
  let present = {};
  if (coverageSql.sources !== null) {
    try {
      const r = await runAthenaQuery(client, coverageSql.sources, [], o);
      bytes += r.bytesScanned;
      present = sourcesPresent(tables, r);
    } catch (err) {
      throw new AthenaQueryError(`could not tell whether the tables hold rows (${tables.join(', ')}): ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }
  const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));
  for (const d of detections) {
    const t0 = performance.now();
    let scanned = 0;
    let f: Finding[];
    try {
      const sql = statements.get(d.id);
      if (typeof sql !== 'string') throw sql ?? new Error('not rendered');
      const r = await runAthenaQuery(client, sql, [], o);
      // Shaped as a DuckDB run shapes them (the same IDs from the same rows).
      f = shapeFindings(d, toFindings(d, r), groupMinutes(d, paramsFor(d, overrides), o.ungrouped), o.sift);
      scanned += r.bytesScanned;
    } catch (err) {
      const error = message(err);
      failures.push({ id: d.id, error });
      coverage.push({ detection_id: d.id, scope: '(all)', reason: `not checked at all: the detection failed on Athena (${error})` });
      const run = { id: d.id, findings: 0, ms: performance.now() - t0 };
      runs.push(run);
      onRun?.({ ...run, bytes: 0, error });
      continue;
    }
    findings.push(...f);
    coverage.push(...sourceCoverage(d, present, o));
    let error: string | undefined;
    const sql = coverageSql.detections.get(d.id);
    if (sql !== undefined) {
      try {
        if (typeof sql !== 'string') throw sql;
        const r = await runAthenaQuery(client, sql, [], o);
        scanned += r.bytesScanned;
        coverage.push(...toCoverage(d, r));
      } catch (err) {
        error = `coverage: ${message(err)}`;
        failures.push({ id: d.id, error });
        coverage.push({ detection_id: d.id, scope: '(all)', reason: `unknown what it could not judge: its coverage SQL failed on Athena (${message(err)})` });
      }
    }
    bytes += scanned;
    const run = { id: d.id, findings: f.length, ms: performance.now() - t0 };
    runs.push(run);
    onRun?.({ ...run, bytes: scanned, ...(error ? { error } : {}) });
  }
  findings.sort(compareFindings);
  coverage.sort(compareCoverage);
  return { findings, runs, coverage, failures, bytesScanned: bytes, costUsd: (bytes / 1e12) * (o.pricePerTb ?? 5) };
}
