/**
 * A fake of Athena's JSON protocol on loopback, for the SDK to talk to (its
 * `endpoint` pointed here): requests are signed and retried for real; the
 * fake walks each query through QUEUED, RUNNING and a final state, pages
 * results with a header row first, and can throttle. `duckdbAnswers` makes
 * it answer each detection's query with the rows DuckDB gives.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DuckDBConnection } from '@duckdb/node-api';
import { replaceParams, sqlString } from '../../common/sql.js';
import { athenaCoverageStatements, athenaStatements } from '../../query/athena/run.js';
import { listItemTypes, paramsFor, sourcesRead, sourcesSql } from '../../query/detect.js';
import type { Detection } from '../../query/detection.js';

export interface FakeAnswer {
  columns: Array<{ Name: string; Type: string }>;
  rows: Array<Array<string | null>>;
}

/** What a DDL statement answers: no columns, no rows. */
export const NO_ROWS: FakeAnswer = { columns: [], rows: [] };

export interface FakeAthenaOptions {
  /** Answer a query, or throw to make it FAILED with the error's message. */
  answer(sql: string, params: string[]): FakeAnswer;
  /** Rows per GetQueryResults page (the header counts on the first). */
  pageSize?: number;
  /** StartQueryExecution calls to refuse with TooManyRequestsException first. */
  throttle?: number;
  /** Polls that answer QUEUED, then RUNNING, before the final state (default 2; 0: final at once). */
  pollsBeforeDone?: number;
}

interface Query {
  sql: string;
  params: string[];
  polls: number;
  result?: FakeAnswer;
  error?: string;
}

export interface FakeAthena {
  endpoint: string;
  /** Every call, by operation. */
  calls: Array<{ op: string; body: Record<string, unknown> }>;
  /** The SQL of every query started, in order. */
  statements: string[];
  close(): Promise<void>;
}

export async function startFakeAthena(o: FakeAthenaOptions): Promise<FakeAthena> {
  const queries = new Map<string, Query>();
  const calls: FakeAthena['calls'] = [];
  const statements: string[] = [];
  const pending = o.pollsBeforeDone ?? 2;
  let throttle = o.throttle ?? 0;
  let seq = 0;
  const pageSize = o.pageSize ?? 3;
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
    req.on('end', () => {
      const op = String(req.headers['x-amz-target'] ?? '').replace('AmazonAthena.', '');
      const body = (raw ? JSON.parse(raw) : {}) as Record<string, unknown>;
      calls.push({ op, body });
      const send = (status: number, payload: unknown, type?: string): void => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', ...(type ? { 'x-amzn-errortype': type } : {}) });
        res.end(JSON.stringify(payload));
      };
      if (op === 'StartQueryExecution') {
        if (throttle > 0) {
          throttle--;
          return send(400, { __type: 'TooManyRequestsException', message: 'Rate exceeded' }, 'TooManyRequestsException');
        }
        const id = `q-${++seq}`;
        const q: Query = { sql: String(body.QueryString), params: (body.ExecutionParameters as string[] | undefined) ?? [], polls: 0 };
        try {
          q.result = o.answer(q.sql, q.params);
        } catch (err) {
          q.error = (err as Error).message;
        }
        queries.set(id, q);
        statements.push(q.sql);
        return send(200, { QueryExecutionId: id });
      }
      const q = queries.get(String(body.QueryExecutionId));
      if (!q) return send(400, { __type: 'InvalidRequestException', message: 'no such query' }, 'InvalidRequestException');
      if (op === 'GetQueryExecution') {
        q.polls++;
        const state = q.polls <= pending ? (q.polls === 1 ? 'QUEUED' : 'RUNNING') : q.error ? 'FAILED' : 'SUCCEEDED';
        return send(200, {
          QueryExecution: {
            QueryExecutionId: body.QueryExecutionId,
            Status: { State: state, ...(state === 'FAILED' ? { StateChangeReason: q.error } : {}) },
            Statistics: { DataScannedInBytes: state === 'SUCCEEDED' ? 1_000_000 : 0 },
          },
        });
      }
      if (op === 'GetQueryResults') {
        const r = q.result as FakeAnswer;
        const all = [{ Data: r.columns.map((c) => ({ VarCharValue: c.Name })) }, ...r.rows.map((row) => ({ Data: row.map((v) => (v === null ? {} : { VarCharValue: v })) }))];
        const from = Number(body.NextToken ?? 0);
        const next = from + pageSize < all.length ? String(from + pageSize) : undefined;
        return send(200, {
          ResultSet: { Rows: all.slice(from, from + pageSize), ...(from === 0 ? { ResultSetMetadata: { ColumnInfo: r.columns.map((c) => ({ Name: c.Name, Type: c.Type })) } } : {}) },
          ...(next ? { NextToken: next } : {}),
        });
      }
      return send(400, { __type: 'InvalidRequestException', message: `unknown operation ${op}` }, 'InvalidRequestException');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    statements,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Athena's name for the type of a DuckDB result column. */
function athenaType(t: { alias?: string; toString(): string }): string {
  const name = t.toString();
  if (t.alias === 'JSON') return 'json';
  if (name.endsWith('[]')) return 'json'; // the runner casts array columns to JSON
  if (name.startsWith('DECIMAL')) return 'decimal';
  return ({ BIGINT: 'bigint', HUGEINT: 'bigint', INTEGER: 'integer', DOUBLE: 'double', BOOLEAN: 'boolean', TIMESTAMP: 'timestamp' } as Record<string, string>)[name] ?? 'varchar';
}

/** DuckDB's answer to `sql`, as Athena renders it. */
async function answerOf(conn: DuckDBConnection, sql: string): Promise<FakeAnswer> {
  const reader = await conn.runAndReadAll(`SELECT * FROM (${sql}\n)`);
  const athena = reader.columnTypes().map(athenaType);
  const rows = reader.getRowsJson().map((row) => row.map((v, i) => (v === null ? null : athena[i] === 'json' && Array.isArray(v) ? JSON.stringify(v) : typeof v === 'string' ? v : String(v))));
  return { columns: reader.columnNames().map((n, i) => ({ Name: n, Type: athena[i] as string })), rows };
}

/**
 * What Athena would answer to each query of a run of `detections` if it
 * computed what DuckDB does: DuckDB's rows over the dataset on `conn`, as
 * Athena renders them (text cells, typed columns; array columns, which the
 * runner casts to JSON, as JSON), keyed by the SQL the runner sends: each
 * detection's (`athenaStatements`), and the coverage queries
 * (`athenaCoverageStatements`: whether the tables hold rows, each
 * detection's coverage SQL).
 */
export async function duckdbAnswers(conn: DuckDBConnection, detections: readonly Detection[], database = 's3sift'): Promise<Map<string, FakeAnswer>> {
  const answers = new Map<string, FakeAnswer>();
  const statements = await athenaStatements(detections, { database });
  const coverage = await athenaCoverageStatements(detections, { database });
  const tables = sourcesRead(detections);
  if (coverage.sources !== null) answers.set(coverage.sources, await answerOf(conn, sourcesSql(tables)));
  for (const d of detections) {
    const params = paramsFor(d);
    const types = listItemTypes(d, params);
    const literal = (n: string): string => {
      const v = params[n];
      return Array.isArray(v) ? `CAST([${v.map((x) => (typeof x === 'string' ? sqlString(x) : String(x))).join(',')}] AS ${types[n] ?? 'VARCHAR'}[])` : typeof v === 'string' ? sqlString(v) : String(v);
    };
    const sql = statements.get(d.id);
    if (typeof sql === 'string') answers.set(sql, await answerOf(conn, replaceParams(d.sql, literal)));
    const cov = coverage.detections.get(d.id);
    if (typeof cov === 'string' && d.coverage !== undefined) answers.set(cov, await answerOf(conn, replaceParams(d.coverage, literal)));
  }
  return answers;
}

/**
 * An answer to the runner's coverage queries for fakes that answer
 * detection queries with made-up rows: every table holds rows, and no
 * coverage SQL finds anything. Undefined for any other query.
 */
export function coverageAnswer(sql: string): FakeAnswer | undefined {
  if (/SELECT \(SELECT count\(\*\) FROM \(SELECT 1 AS x FROM /.test(sql)) {
    const tables = [...sql.matchAll(/\) AS (access_log|cloudtrail)\b/g)].map((m) => m[1] as string);
    return { columns: tables.map((t) => ({ Name: t, Type: 'bigint' })), rows: [tables.map(() => '1')] };
  }
  if (/\bAS scope\b/.test(sql)) return { columns: [{ Name: 'scope', Type: 'varchar' }, { Name: 'reason', Type: 'varchar' }, { Name: 'records', Type: 'bigint' }], rows: [] };
  return undefined;
}
