/**
 * A detection's own tests: raw access-log lines and raw CloudTrail records go
 * through the real ingest (parsers, staging, Parquet) into a scratch dataset,
 * and the detection's real SQL runs over it.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe as describeError } from '../common/errors.js';
import { parseAccessLogLine } from '../ingest/access-log/parse.js';
import { parseCloudTrailRecord, recordsOf, Skip } from '../ingest/cloudtrail/record.js';
import { ingest } from '../ingest/ingest.js';
import { Reject } from '../ingest/reject.js';
import { openDataset } from './dataset.js';
import { scanCandidates } from './candidates.js';
import { checkDetectionSql, compareFindings, runDetection, paramsFor } from './detect.js';
import type { Finding } from './finding.js';
import type { Detection, DetectionTest } from './detection.js';
import { IntelSet, parseIntelList } from './intel.js';
import { buildRecords } from './test-records.js';
import { lockToTables } from './untrusted-sql.js';

export interface TestOutcome {
  detection: string;
  test: string;
  /** The count of findings expected, when the test gives one. */
  expected?: number;
  got: number;
  /** The records expected to fire (labels, `#N` for an unlabelled entry), when the test says. */
  expectedFires?: string[];
  /** The records the findings point at, in the same names (`?` for a finding that points at none). */
  fired: string[];
  ok: boolean;
  /** Why it failed, when it did not even run (rejected input, SQL error). */
  error?: string;
  /**
   * Findings whose evidence is not of one record: the request ID or event ID
   * of another record than the one their file and line point at (see
   * `mixedEvidence`). A test with any fails.
   */
  mixed: string[];
  findings: Finding[];
}

/** Where each test record went: file and line, to the name of its entry. */
type Placement = Map<string, string>;

/** The IDs of each test record alone on its line, by file and line. */
type Identities = Map<string, { source: 'access_log' | 'cloudtrail'; request_id: string | null; event_id: string | null }>;

/**
 * The IDs of the record on each line of a test's input, as the parsers read
 * them (`request_id: 12345` in YAML is a number; an empty requestID is none):
 * raw lines and records too. A line that does not parse, or that holds
 * several CloudTrail records (a `Records` document), has none.
 */
function identify(accessFile: string, lines: readonly string[], trailFile: string, records: readonly string[], ids: Identities): void {
  lines.forEach((line, i) => {
    const r = parseAccessLogLine(line);
    if (!(r instanceof Reject)) ids.set(`${accessFile}:${i + 1}`, { source: 'access_log', request_id: r.request_id, event_id: null });
  });
  records.forEach((text, i) => {
    const items = recordsOf(JSON.parse(text) as unknown);
    const r = items.length === 1 ? parseCloudTrailRecord(items[0]) : undefined;
    if (r && !(r instanceof Reject) && !(r instanceof Skip)) ids.set(`${trailFile}:${i + 1}`, { source: 'cloudtrail', request_id: r.request_id, event_id: r.event_id });
  });
}

/**
 * The findings whose request ID or event ID is not that of the record their
 * file and line point at: evidence put together from several records. A
 * finding on an access-log line has no event ID; one on a CloudTrail record
 * has its event ID and request ID. (DuckDB's `min_by` passes over NULL
 * values, Trino's does not: `min_by(event_id, ord)` took another record's
 * event ID where the first record had none. Write `min_by(ARRAY[col], ord)[1]`.)
 */
export function mixedEvidence(findings: readonly Finding[], ids: Identities): string[] {
  const out: string[] = [];
  for (const f of findings) {
    const rec = ids.get(`${f.source_file}:${f.source_line}`);
    if (!rec) continue;
    const wrong = [
      f.source !== rec.source ? `source ${f.source} (the record's: ${rec.source})` : '',
      (f.request_id ?? null) !== rec.request_id ? `request_id ${f.request_id} (the record's: ${rec.request_id})` : '',
      (f.event_id ?? null) !== rec.event_id ? `event_id ${f.event_id} (the record's: ${rec.event_id})` : '',
    ].filter(Boolean);
    if (wrong.length) out.push(`the finding at line ${f.source_line} of ${f.source === 'cloudtrail' ? 'the CloudTrail records' : 'the access log'} has ${wrong.join(', ')}`);
  }
  return out;
}

const entryName = (t: DetectionTest, entry: number): string => t.records?.[entry]?.label ?? `#${entry + 1}`;

/** Ingest a test's input into a fresh dataset under `dir` (returned); every line must parse. */
export async function datasetFor(t: DetectionTest, dir: string, placed: Placement = new Map(), ids: Identities = new Map()): Promise<string> {
  const inputs: string[] = [];
  const built = buildRecords(t.records ?? []);
  const lines = [...(t.access_log ?? [])];
  // Lines of the access-log file so far: an entry may hold line breaks (a raw line written as a YAML block ends in one),
  // and ingest numbers the file's lines, blank ones too.
  const linesIn = (text: string): number => text.split('\n').length;
  let accessLines = lines.reduce((n, l) => n + linesIn(l), 0);
  const records = [...(t.cloudtrail ?? [])].map((r) => JSON.stringify(r));
  const accessFile = join(dir, 'access.log');
  const trailFile = join(dir, 'cloudtrail.ndjson');
  for (const b of built) {
    if (b.source === 'access_log') {
      lines.push(b.line);
      placed.set(`${accessFile}:${accessLines + 1}`, entryName(t, b.entry));
      accessLines += linesIn(b.line);
    } else {
      records.push(JSON.stringify(b.record));
      placed.set(`${trailFile}:${records.length}`, entryName(t, b.entry));
    }
  }
  identify(accessFile, lines.join('\n').split('\n'), trailFile, records, ids);
  if (lines.length) {
    await writeFile(accessFile, lines.join('\n') + '\n');
    inputs.push(accessFile);
  }
  if (records.length) {
    await writeFile(trailFile, records.join('\n') + '\n');
    inputs.push(trailFile);
  }
  const data = join(dir, 'data');
  if (inputs.length) {
    const s = await ingest(inputs, { data, format: 'auto', force: false, strict: false });
    if (s.rejected > 0) throw new Error(`test input rejected: ${s.firstRejects.map((r) => `line ${r.line}: ${r.reason}`).join('; ')}`);
  }
  return data;
}

/** Run one test of `d`. */
export async function runDetectionTest(d: Detection, t: DetectionTest): Promise<TestOutcome> {
  const dir = await mkdtemp(join(tmpdir(), 's3sift-dtest-'));
  const expectedFires = t.fires?.map((f) => (typeof f === 'number' ? entryName(t, f - 1) : f));
  const outcome: TestOutcome = { detection: d.id, test: t.name, expected: t.expect, expectedFires, got: -1, fired: [], ok: false, findings: [], mixed: [] };
  const placed: Placement = new Map();
  const ids: Identities = new Map();
  try {
    const data = await datasetFor(t, dir, placed, ids);
    const intel = new IntelSet(Object.entries(t.intel ?? {}).map(([file, text]) => parseIntelList(text, file)));
    const ds = await openDataset(data, { intel });
    try {
      // A rule's tests run its SQL as `detect` would: checked, over a dataset locked to its folder.
      await lockToTables(ds.conn, ds.dir, { spill: true });
      await checkDetectionSql(ds.conn, d);
      const params = paramsFor(d, {}, t.params ?? {});
      outcome.findings = await runDetection(ds.conn, d, params);
      if (d.candidates) {
        // As a run with a candidate scan gives it: the tables hold its candidate rows only. The answer must not change.
        const scan = await scanCandidates(ds.conn, [d], 1);
        let narrowed: Finding[];
        try {
          narrowed = await scan.narrowed(d, () => runDetection(ds.conn, d, params));
        } finally {
          await scan.drop();
        }
        const text = (fs: readonly Finding[]): string => JSON.stringify([...fs].sort(compareFindings), (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
        if (text(narrowed) !== text(outcome.findings)) {
          throw new Error(`candidates: with ${Object.keys(d.candidates).join(' and ')} holding only the rows candidates names, the SQL gives ${narrowed.length} finding(s), ` +
            `not the ${outcome.findings.length} it gives with every row: the condition leaves out rows the SQL reads`);
        }
      }
    } finally {
      ds.close();
    }
    outcome.got = outcome.findings.length;
    outcome.fired = [...new Set(outcome.findings.map((f) => placed.get(`${f.source_file}:${f.source_line}`) ?? '?'))].sort();
    const same = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
    outcome.mixed = mixedEvidence(outcome.findings, ids);
    outcome.ok = (t.expect === undefined || outcome.got === t.expect) && (expectedFires === undefined || same(outcome.fired, [...new Set(expectedFires)].sort())) && outcome.mixed.length === 0;
  } catch (err) {
    outcome.error = describeError(err);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return outcome;
}

/** Run every test of every detection, reporting each as it finishes. */
export async function runDetectionTests(detections: readonly Detection[], onOutcome?: (o: TestOutcome) => void): Promise<TestOutcome[]> {
  const out: TestOutcome[] = [];
  for (const d of detections) {
    for (const t of d.tests) {
      const o = await runDetectionTest(d, t);
      out.push(o);
      onOutcome?.(o);
    }
  }
  return out;
}
