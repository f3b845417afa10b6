/**
 * Ingest the same files in one thread and on two parse workers and expect
 * the same dataset: every row (every column, row by row), the same rejects
 * in the same order, the same counts and the same Parquet files. Workers
 * start from the compiled modules, so this runs the build in dist/ (`npm
 * test` builds it first).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { expect } from 'vitest';
import type { IngestOptions, IngestSummary } from '../../ingest/ingest.js';
import { readRows } from './dataset.js';

export const DIST = new URL('../../dist/ingest/', import.meta.url);
const { ingest } = (await import(new URL('ingest.js', DIST).href)) as typeof import('../../ingest/ingest.js');

/** Bytes of content of a file (gunzipped when gzipped). */
export const contentBytes = (path: string): number => (path.endsWith('.gz') ? gunzipSync(readFileSync(path)) : readFileSync(path)).length;

/** Write an input file `name` under `dir`/in; its path. */
export function writeInput(dir: string, name: string, content: string | Buffer): string {
  const path = join(dir, 'in', name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, content);
  return path;
}

/** `text` repeated until it holds at least 1 MiB. */
export const pastOneMiB = (text: string): string => text.repeat(Math.ceil((1 << 20) / Buffer.byteLength(text)));

type Format = 'access-log' | 'cloudtrail';
const TABLE = { 'access-log': 'access_log', cloudtrail: 'cloudtrail' } as const;
/** Rows in a total order (a CloudTrail line can hold several records). */
const ORDER = { 'access-log': 'source_file, source_line', cloudtrail: 'source_file, source_line, event_id, other_fields' } as const;

/** Ingest `inputs` into a fresh dataset under `dir` with `workers` parse workers; what a reader can see of the result. */
async function run(dir: string, format: Format, inputs: string[], workers: number, label: string): Promise<{ s: IngestSummary; rows: Record<string, unknown>[]; rejects: string; layout: string[]; warnings: string[] }> {
  const data = join(dir, `data-${label}-${workers}`);
  const warnings: string[] = [];
  const opts: IngestOptions = { data, format, force: false, strict: false, parseWorkers: workers, onWarning: (w) => void warnings.push(w) };
  const s = await ingest(inputs, opts);
  const rows = s.rows > 0 ? await readRows(data, TABLE[format], ORDER[format]) : [];
  const rejects = s.rejectsFile ? readFileSync(join(data, s.rejectsFile), 'utf8') : '';
  // Which rows went to which Parquet file (the file names hold the run's id: compared by position).
  const layout = s.rows > 0 ? (await readRows(data, TABLE[format], 'source_file, source_line')).map((r) => `${String(r.date)}`) : [];
  return { s, rows, rejects, layout, warnings };
}

/** Ingest `inputs` both ways and expect the same; the one-thread summary, and the warnings about failed workers. */
export async function expectSameOnWorkers(dir: string, format: Format, inputs: string[], label: string): Promise<{ s: IngestSummary; warnings: string[] }> {
  const one = await run(dir, format, inputs, 0, label);
  const two = await run(dir, format, inputs, 2, label);
  const pick = (s: IngestSummary) => ({ ...s, run: '', seconds: 0, files: s.files.map((f) => f.replace(/\/[^/]+$/, '')), rejectsFile: s.rejectsFile !== null });
  expect(pick(two.s)).toEqual(pick(one.s));
  expect(two.rows.length).toBe(one.rows.length);
  for (let i = 0; i < one.rows.length; i++) expect(two.rows[i]).toEqual(one.rows[i]);
  expect(two.rejects).toBe(one.rejects);
  expect(two.layout).toEqual(one.layout);
  // The same warnings, but for a parse worker's failure (returned).
  const workerWarning = (w: string): boolean => w.startsWith('a parse worker failed');
  expect(two.warnings.filter((w) => !workerWarning(w))).toEqual(one.warnings);
  return { s: one.s, warnings: two.warnings.filter(workerWarning) };
}
