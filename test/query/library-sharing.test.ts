import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDataset } from '../../bench/dataset.js';
import { openDataset, type OpenDataset, type OpenOptions } from '../../query/dataset.js';
import { compareCoverage, compareFindings, paramsFor, runCoverage, runDetection, runDetections, sourceCoverage, sourcesPresent, sourcesRead, sourcesSql, type DetectResult } from '../../query/detect.js';
import { loadDetections, type Detection } from '../../query/detection.js';
import { groupMinutes, shapeFindings } from '../../query/finding-groups.js';
import { rowsOf } from '../../query/rows.js';

/**
 * What a DuckDB run shares between detections (the relations coverage SQL
 * reads, computed once; the candidate rows, one scan a table; `with:`
 * queries as temporary tables) must never change an answer. The whole
 * library runs as `detect` runs it, and each detection again alone, as
 * Athena runs it: its own SQL and coverage SQL, every relation in front of
 * them as WITH queries, over the whole tables. The dataset is the detection
 * benchmark's generator, at a size a test affords.
 */
const library = await loadDetections();
const EVENTS = 200_000;

/** Each detection of `detections` on its own: the SQL and coverage SQL as self-contained queries, nothing shared. */
async function alone(ds: OpenDataset, detections: readonly Detection[]): Promise<Pick<DetectResult, 'findings' | 'coverage'>> {
  const tables = sourcesRead(detections);
  const present = sourcesPresent(tables, rowsOf(await ds.conn.runAndReadAll(sourcesSql(tables))));
  const findings = [];
  const coverage = [];
  for (const d of detections) {
    const params = paramsFor(d);
    findings.push(...shapeFindings(d, await runDetection(ds.conn, d, params), groupMinutes(d, params)));
    coverage.push(...sourceCoverage(d, present, ds.window), ...(await runCoverage(ds.conn, d, params)));
  }
  return { findings: findings.sort(compareFindings), coverage: coverage.sort(compareCoverage) };
}

const text = (x: unknown): string => JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v), 1);

describe('the library with its shared work', () => {
  let dir: string;
  let data: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 's3sift-sharing-'));
    data = join(dir, 'data');
    await generateDataset(data, EVENTS);
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const cases: Array<[string, OpenOptions]> = [
    ['over the whole dataset', {}],
    ['over a window, with the history before it', { since: new Date('2025-03-13T00:00:00Z'), until: new Date('2025-03-16T12:00:00Z') }],
  ];
  for (const [name, window] of cases) {
    it(`finds what each detection finds alone, and lacks the same coverage, ${name}`, async () => {
      const ds = await openDataset(data, window);
      try {
        const shared = await runDetections(ds, library);
        const each = await alone(ds, library);
        expect(shared.runs.map((r) => r.id)).toEqual(library.map((d) => d.id));
        // Enough detections fire, and some of them from shared rows, for the comparison to mean something.
        const fired = new Set(shared.findings.map((f) => f.detection_id));
        expect(fired.size).toBeGreaterThanOrEqual(10);
        expect(library.filter((d) => d.candidates && fired.has(d.id)).length).toBeGreaterThanOrEqual(3);
        for (const d of library) {
          const mine = (fs: DetectResult['findings']): string => text(fs.filter((f) => f.detection_id === d.id));
          expect(mine(shared.findings), d.id).toBe(mine(each.findings));
          const gaps = (cs: DetectResult['coverage']): string => text(cs.filter((c) => c.detection_id === d.id));
          expect(gaps(shared.coverage), `${d.id} coverage`).toBe(gaps(each.coverage));
        }
        expect(text(shared.findings)).toBe(text(each.findings));
      } finally {
        ds.close();
      }
    }, 300_000);
  }
});
