/**
 * A detection's own tests: raw access-log lines and raw CloudTrail records go
 * through the real ingest (parsers, staging, Parquet) into a scratch dataset,
 * and the detection's real SQL runs over it.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe as describeError } from '../common/errors.js';
import { ingest } from '../ingest/ingest.js';
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
  findings: Finding[];
}

/** Where each test record went: file and line, to the name of its entry. */
type Placement = Map<string, string>;

const entryName = (t: DetectionTest, entry: number): string => t.records?.[entry]?.label ?? `#${entry + 1}`;

/** Ingest a test's input into a fresh dataset under `dir` (returned); every line must parse. */
export async function datasetFor(t: DetectionTest, dir: string, placed: Placement = new Map()): Promise<string> {
  const inputs: string[] = [];
  const built = buildRecords(t.records ?? []);
  const lines = [...(t.access_log ?? [])];
  const records = [...(t.cloudtrail ?? [])].map((r) => JSON.stringify(r));
  const accessFile = join(dir, 'access.log');
  const trailFile = join(dir, 'cloudtrail.ndjson');
  for (const b of built) {
    if (b.source === 'access_log') {
      lines.push(b.line);
      placed.set(`${accessFile}:${lines.length}`, entryName(t, b.entry));
    } else {
      records.push(JSON.stringify(b.record));
      placed.set(`${trailFile}:${records.length}`, entryName(t, b.entry));
    }
  }
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
  const outcome: TestOutcome = { detection: d.id, test: t.name, expected: t.expect, expectedFires, got: -1, fired: [], ok: false, findings: [] };
  const placed: Placement = new Map();
  try {
    const data = await datasetFor(t, dir, placed);
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
    outcome.ok = (t.expect === undefined || outcome.got === t.expect) && (expectedFires === undefined || same(outcome.fired, [...new Set(expectedFires)].sort()));
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
