/**
 * One finding's evidence (`GET /api/findings/:finding_id`): the records
 * behind it from both tables, every column; each record's original line (or
 * CloudTrail record) read back from its log file when that file is local;
 * and the bucket's posture when it happened. Every value from the finding
 * (request IDs, file names) reaches DuckDB as a bound parameter, never as
 * SQL text, and a file is read only as far as the line asked for, within a
 * size cap.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { BIGINT, DuckDBTimestampValue, TIMESTAMP, VARCHAR, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';
import { posture, SETTINGS } from '../query/posture.js';
import type { Column } from '../query/rows.js';
import type { Finding } from '../query/finding.js';
import { describe } from '../common/errors.js';
import type { Ctx } from './context.js';
import { fileContent } from '../ingest/sources.js';
import { JsonSplitter, type Shape } from '../ingest/cloudtrail/split.js';

/** Most records per table the evidence lists. */
export const EVIDENCE_ROWS = 100;
/** Most records read back from their files. */
export const RAW_RECORDS = 10;
/** Most bytes read from one file (after decompression) looking for a line, or holding a CloudTrail JSON document. */
export const RAW_SCAN_BYTES = 64 * 1024 * 1024;
/** Most bytes of one line (or record) given back. */
export const RAW_LINE_BYTES = 256 * 1024;

export interface RawRecord {
  source_file: string;
  source_line: number;
  /** The table the record is in (how to read its line back). */
  source: 'access_log' | 'cloudtrail';
  text: string | null;
  note: string | null;
}

interface Lookup {
  requestIds: Set<string>;
  eventIds: Set<string>;
  /** (file, line) pairs per table, with the record's CloudTrail event ID when known. */
  places: Record<'access_log' | 'cloudtrail', Map<string, { file: string; line: number; eventId?: string }>>;
  /** The evidence's time range, ms (null when some record has no time: no date pruning). */
  range: { from: number; to: number } | null;
}

/** What to look for: the finding's own record and its `evidence` entries. */
function lookupOf(f: Finding): Lookup {
  const l: Lookup = { requestIds: new Set(), eventIds: new Set(), places: { access_log: new Map(), cloudtrail: new Map() }, range: null };
  const times: Array<number | null> = [];
  const entries = [{ event_time: f.event_time, source: f.source, request_id: f.request_id, event_id: f.event_id, source_file: f.source_file, source_line: f.source_line }, ...(f.evidence ?? [])];
  for (const e of entries) {
    if (e.request_id) l.requestIds.add(e.request_id);
    if (e.event_id) l.eventIds.add(e.event_id);
    if (e.source_file && e.source_line !== null && e.source_line !== undefined && (e.source === 'access_log' || e.source === 'cloudtrail')) {
      const eventId = e.source === 'cloudtrail' && e.event_id ? e.event_id : undefined;
      l.places[e.source].set(`${e.source_line}\u0000${e.source_file}\u0000${eventId ?? ''}`, { file: e.source_file, line: Number(e.source_line), ...(eventId ? { eventId } : {}) });
    }
    times.push(e.event_time ? Date.parse(e.event_time) : null);
  }
  if (times.length && times.every((t) => t !== null && Number.isFinite(t))) {
    const day = 86_400_000;
    l.range = { from: Math.min(...(times as number[])) - day, to: Math.max(...(times as number[])) + day };
  }
  return l;
}

/** The WHERE clause matching the lookup in `table`, with its parameters (placeholders are ours; values are bound). */
function matchSql(table: 'access_log' | 'cloudtrail', l: Lookup): { where: string; params: Record<string, DuckDBValue>; types: Record<string, DuckDBType> } | null {
  const params: Record<string, DuckDBValue> = {};
  const types: Record<string, DuckDBType> = {};
  const ors: string[] = [];
  [...l.requestIds].forEach((v, i) => {
    params[`r${i}`] = v;
    types[`r${i}`] = VARCHAR;
    ors.push(`request_id = $r${i}`);
  });
  if (table === 'cloudtrail') {
    [...l.eventIds].forEach((v, i) => {
      params[`e${i}`] = v;
      types[`e${i}`] = VARCHAR;
      ors.push(`event_id = $e${i}`);
    });
  }
  // A CloudTrail place whose event ID is known is matched by that ID (above): a file of several Records documents
  // numbers each document's records from 1, so the place alone may name another event too.
  [...l.places[table].values()].filter((p) => p.eventId === undefined).forEach((p, i) => {
    params[`f${i}`] = p.file;
    params[`l${i}`] = p.line;
    types[`f${i}`] = VARCHAR;
    types[`l${i}`] = BIGINT;
    ors.push(`(source_file = $f${i} AND source_line = $l${i})`);
  });
  if (!ors.length) return null;
  let where = `(${ors.join(' OR ')})`;
  if (l.range) {
    // Whole date partitions outside the evidence's days (and a day either side) are never read.
    params.t0 = new DuckDBTimestampValue(BigInt(l.range.from) * 1000n);
    params.t1 = new DuckDBTimestampValue(BigInt(l.range.to) * 1000n);
    types.t0 = TIMESTAMP;
    types.t1 = TIMESTAMP;
    where += ` AND ("date" IS NULL OR ("date" >= CAST($t0 AS DATE) AND "date" <= CAST($t1 AS DATE)))`;
  }
  return { where, params, types };
}

/** The `n`-th line (1-based) of a stream, reading no further than it and at most RAW_SCAN_BYTES. */
async function nthLine(stream: AsyncIterable<Buffer>, n: number): Promise<{ text: string | null; note: string | null }> {
  let line = 1;
  let read = 0;
  const parts: Buffer[] = [];
  let kept = 0;
  let cut = false;
  // Leaving the loop early (a return) closes the file and the gunzip: fileContent's generators end there.
  for await (const chunk of stream) {
    let start = 0;
    read += chunk.length;
    while (start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl;
      if (line === n) {
        const piece = chunk.subarray(start, Math.min(end, start + Math.max(0, RAW_LINE_BYTES - kept)));
        parts.push(piece);
        kept += piece.length;
        if (end - start > piece.length) cut = true;
      }
      if (nl === -1) break;
      if (line === n) return finish();
      line++;
      start = nl + 1;
    }
    // The line asked for started within the cap: what was kept of it is given, cut.
    if (read > RAW_SCAN_BYTES && line === n && kept > 0) return (cut = true), finish();
    if (read > RAW_SCAN_BYTES && line <= n) return { text: null, note: `line ${n} is past the first ${RAW_SCAN_BYTES / 1024 / 1024} MiB of the file: not read back` };
  }
  if (line === n && parts.length) return finish();
  return { text: null, note: `the file has fewer than ${n} lines now (changed since it was ingested?)` };

  function finish(): { text: string; note: string | null } {
    const text = Buffer.concat(parts).toString('utf8').replace(/\r$/, '');
    return { text, note: cut ? `line longer than ${RAW_LINE_BYTES / 1024} KiB: cut there` : null };
  }
}

/** The whole stream as text, or null past RAW_SCAN_BYTES. */
async function wholeText(stream: AsyncIterable<Buffer>): Promise<string | null> {
  const parts: Buffer[] = [];
  let read = 0;
  for await (const chunk of stream) {
    read += chunk.length;
    if (read > RAW_SCAN_BYTES) return null;
    parts.push(chunk);
  }
  return Buffer.concat(parts).toString('utf8');
}

/**
 * The CloudTrail record at `n`, numbered as ingest numbers it (the same
 * JsonSplitter): the n-th of the file's `{"Records": [...]}` documents or
 * JSON arrays, counted on from one document to the next; the record that
 * starts on line n of NDJSON or of pretty-printed records; else line n
 * (CloudTrail Lake CSV).
 */
async function cloudTrailRecord(path: string, n: number): Promise<{ text: string | null; note: string | null }> {
  const whole = await wholeText(fileContent(path));
  if (whole === null) return { text: null, note: `file larger than ${RAW_SCAN_BYTES / 1024 / 1024} MiB: not read back` };
  const body = whole.replace(/^\uFEFF/, '');
  const json = nthJsonValue(body, n);
  if (json.value !== null) {
    let text = json.value;
    try {
      text = JSON.stringify(JSON.parse(text));
    } catch {
      // A line that is not JSON (ingest rejected it): as it is.
    }
    return text.length > RAW_LINE_BYTES ? { text: text.slice(0, RAW_LINE_BYTES), note: `record longer than ${RAW_LINE_BYTES / 1024} KiB: cut there` } : { text, note: null };
  }
  if (json.shape === 'records' || json.shape === 'array') return { text: null, note: `the file holds ${json.count} records now, not ${n} (changed since it was ingested?)` };
  const lines = body.split('\n');
  if (n > lines.length) return { text: null, note: `the file has fewer than ${n} lines now (changed since it was ingested?)` };
  const text = (lines[n - 1] as string).replace(/\r$/, '');
  return text.length > RAW_LINE_BYTES ? { text: text.slice(0, RAW_LINE_BYTES), note: `line longer than ${RAW_LINE_BYTES / 1024} KiB: cut there` } : { text, note: null };
}

/** The JSON value numbered `n` in `body` by ingest's splitter, the file's shape, and how many values it holds. */
function nthJsonValue(body: string, n: number): { value: string | null; shape: Shape | null; count: number } {
  let value: string | null = null;
  let count = 0;
  const splitter = new JsonSplitter({
    value: (b, start, end, where) => {
      count++;
      if (where === n && value === null) value = b.toString('utf8', start, end);
    },
    bad: () => undefined,
    blank: () => undefined,
  });
  splitter.push(Buffer.from(body));
  splitter.end();
  return { value, shape: splitter.shape, count };
}

/**
 * The record read back, unless it is another event than `eventId`: a file
 * that changed, or one of several Records documents ingested before their
 * records were numbered on from one document to the next (each from 1).
 */
function sameEvent(r: { text: string | null; note: string | null }, eventId: string | undefined): { text: string | null; note: string | null } {
  if (eventId === undefined || r.text === null) return r;
  let found: unknown;
  try {
    found = (JSON.parse(r.text) as { eventID?: unknown } | null)?.eventID;
  } catch {
    return r; // Cut, or a CloudTrail Lake CSV line: nothing to compare.
  }
  if (found === eventId) return r;
  return { text: null, note: `the record at this place in the file is not this event (its eventID is ${JSON.stringify(typeof found === 'string' ? found.slice(0, 80) : (found ?? null))}): the file changed since it was ingested, or holds several documents` };
}

/** Read one record back from its file, or say why not. Never throws: a file that cannot be read is a note. */
export async function readBack(source: 'access_log' | 'cloudtrail', file: string, line: number, eventId?: string): Promise<{ text: string | null; note: string | null }> {
  if (/^s3:\/\//i.test(file)) return { text: null, note: 's3:// source: not read back' };
  if (file === '-') return { text: null, note: 'read from standard input: not read back' };
  if (!Number.isInteger(line) || line < 1) return { text: null, note: 'no line number recorded' };
  // A relative name is as ingest was given it: read from the server's working folder.
  const path = resolve(file);
  const st = await stat(path).catch((err: NodeJS.ErrnoException) => err);
  if (st instanceof Error) return { text: null, note: st.code === 'ENOENT' ? `file no longer exists${file === path ? '' : ` (a relative name, looked for in ${process.cwd()})`}` : `file cannot be read (${st.code ?? describe(st)})` };
  if (!st.isFile()) return { text: null, note: 'not a regular file: not read back' };
  try {
    return source === 'cloudtrail' ? sameEvent(await cloudTrailRecord(path, line), eventId) : await nthLine(fileContent(path), line);
  } catch (err) {
    return { text: null, note: `file cannot be read (${(err as NodeJS.ErrnoException).code ?? describe(err)})` };
  }
}

export interface EvidenceAnswer {
  events: { access_log: { columns: Column[]; rows: Array<Record<string, unknown>> }; cloudtrail: { columns: Column[]; rows: Array<Record<string, unknown>> }; truncated: boolean };
  raw: RawRecord[];
  /** More records than RAW_RECORDS: the rest were not read back. */
  raw_truncated: boolean;
  posture: { bucket: string; at: string; settings: Record<string, unknown> } | null;
}

export async function evidence(ctx: Ctx, f: Finding): Promise<EvidenceAnswer> {
  const l = lookupOf(f);
  const events: EvidenceAnswer['events'] = { access_log: { columns: [], rows: [] }, cloudtrail: { columns: [], rows: [] }, truncated: false };
  const at = f.event_time ? new Date(f.event_time) : null;
  for (const table of ['access_log', 'cloudtrail'] as const) {
    const m = matchSql(table, l);
    const sql = `SELECT * FROM ${table} WHERE ${m ? m.where : 'false'} ORDER BY event_time NULLS LAST, source_file, source_line LIMIT ${EVIDENCE_ROWS + 1}`;
    // Through the sandbox's internal pool: the time limit and the caps hold, and user SQL does not hold it up.
    const r = await ctx.sandbox.query(sql, m?.params ?? {}, { types: m?.types, pool: 'internal' });
    if (r.rows.length > EVIDENCE_ROWS || r.truncated) events.truncated = true;
    events[table] = { columns: r.columns, rows: r.rows.slice(0, EVIDENCE_ROWS) };
  }
  const found = f.bucket && at ? await ctx.sandbox.withConnection((conn) => posture({ conn }, { bucket: f.bucket as string, at })) : null;
  // The records read back: those found, and the finding's own places (a record no longer in the dataset is still said).
  const places = new Map<string, { source: 'access_log' | 'cloudtrail'; file: string; line: number; eventId?: string }>();
  for (const table of ['access_log', 'cloudtrail'] as const) {
    for (const r of events[table].rows) {
      if (typeof r.source_file !== 'string' || r.source_line === null) continue;
      const eventId = table === 'cloudtrail' && typeof r.event_id === 'string' ? r.event_id : undefined;
      places.set(`${table}\u0000${r.source_line}\u0000${r.source_file}\u0000${eventId ?? ''}`, { source: table, file: r.source_file, line: Number(r.source_line), ...(eventId ? { eventId } : {}) });
    }
    for (const p of l.places[table].values()) places.set(`${table}\u0000${p.line}\u0000${p.file}\u0000${p.eventId ?? ''}`, { source: table, ...p });
  }
  const raw: RawRecord[] = [];
  for (const p of [...places.values()].slice(0, RAW_RECORDS)) {
    raw.push({ source_file: p.file, source_line: p.line, source: p.source, ...(await readBack(p.source, p.file, p.line, p.eventId)) });
  }
  const b = found?.[0];
  // A bucket no call in the logs set anything on: every setting unknown (null), not a guess.
  const settings = b ? (b.settings as Record<string, unknown>) : Object.fromEntries(SETTINGS.map((n) => [n, null]));
  return { events, raw, raw_truncated: places.size > RAW_RECORDS, posture: at && f.bucket ? { bucket: f.bucket, at: at.toISOString(), settings } : null };
}
