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
import { runDetection, paramsFor } from './detect.js';
import type { Finding } from './finding.js';
import type { Detection, DetectionTest } from './detection.js';

export interface TestOutcome {
  detection: string;
  test: string;
  expected: number;
  got: number;
  ok: boolean;
  /** Why it failed, when it did not even run (rejected input, SQL error). */
  error?: string;
  findings: Finding[];
}

/** Ingest a test's raw input into a fresh dataset under `dir`; every line must parse. */
async function datasetFor(t: DetectionTest, dir: string): Promise<string> {
  const inputs: string[] = [];
  if (t.access_log?.length) {
    const f = join(dir, 'access.log');
    await writeFile(f, t.access_log.join('\n') + '\n');
    inputs.push(f);
  }
  if (t.cloudtrail?.length) {
    const f = join(dir, 'cloudtrail.ndjson');
    await writeFile(f, t.cloudtrail.map((r) => JSON.stringify(r)).join('\n') + '\n');
    inputs.push(f);
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
  const outcome: TestOutcome = { detection: d.id, test: t.name, expected: t.expect, got: -1, ok: false, findings: [] };
  try {
    const data = await datasetFor(t, dir);
    const ds = await openDataset(data);
    try {
      outcome.findings = await runDetection(ds.conn, d, paramsFor(d, {}, t.params ?? {}));
    } finally {
      ds.close();
    }
    outcome.got = outcome.findings.length;
    outcome.ok = outcome.got === t.expect;
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
