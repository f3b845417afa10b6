import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ingest } from '../../ingest/ingest.js';
import { openDataset } from '../../query/dataset.js';
import { paramsFor, runDetection } from '../../query/detect.js';
import { loadDetections, type Detection } from '../../query/detection.js';
import { buildRecords, parseRecordSpec } from '../../query/test-records.js';

/**
 * Detections that take a finding's evidence from its first request: two
 * requests of the same millisecond (two log files of one second, say) are
 * told apart by file, line and IDs, so the evidence is one record, whole
 * (its request ID is the one its file and line hold), and the same one
 * whatever order the files were read in.
 */
const library = await loadDetections();
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Each file's access-log lines, from record specs. */
function lines(specs: Array<Record<string, unknown>>): string {
  return buildRecords(specs.map((s, i) => parseRecordSpec(s, `record ${i + 1}`)))
    .map((r) => (r.source === 'access_log' ? r.line : ''))
    .join('\n') + '\n';
}

/** The detection's findings over the two files, read in the order given. */
async function findings(d: Detection, files: Array<[name: string, text: string]>) {
  const dir = mkdtempSync(join(tmpdir(), 's3sift-ties-'));
  dirs.push(dir);
  const paths = files.map(([name, text]) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  });
  const data = join(dir, 'data');
  for (const p of paths) await ingest([p], { data, format: 'auto', force: false, strict: false });
  const ds = await openDataset(data);
  try {
    return await runDetection(ds.conn, d, paramsFor(d));
  } finally {
    ds.close();
  }
}

const same = { time: '2025-03-10T09:00:00Z' };
const cases: Array<[id: string, a: Record<string, unknown>, b: Record<string, unknown>]> = [
  ['offensive-tool-user-agent', { base: 'access-log', ...same, request_id: 'A-FIRST', user_agent: 'aws-cli/2.13.0 md/distrib#kali.2024' },
    { base: 'access-log', ...same, request_id: 'B-SECOND', user_agent: 'aws-cli/2.13.0 md/distrib#kali.2024' }],
  ['credentials-file-read', { base: 'access-log', ...same, request_id: 'A-FIRST', key: 'app/.env', request_uri: 'GET /prod-data/app/.env HTTP/1.1' },
    { base: 'access-log', ...same, request_id: 'B-SECOND', key: 'app/.env', request_uri: 'GET /prod-data/app/.env HTTP/1.1' }],
  ['anonymous-or-denied-sweep', { base: 'access-log', ...same, request_id: 'A-FIRST', requester: null, remote_ip: '198.51.100.66', bucket: 'acme-{n}',
    request_uri: 'GET /acme-{n}/ HTTP/1.1', operation: 'REST.GET.BUCKET', key: null, http_status: 403, error_code: 'AccessDenied', repeat: 3 },
  { base: 'access-log', ...same, request_id: 'B-SECOND', requester: null, remote_ip: '198.51.100.66', bucket: 'beta-{n}',
    request_uri: 'GET /beta-{n}/ HTTP/1.1', operation: 'REST.GET.BUCKET', key: null, http_status: 403, error_code: 'AccessDenied', repeat: 3 }],
];

describe('evidence of one millisecond', () => {
  for (const [id, a, b] of cases) {
    it(`${id}: the first file's record, whole, in either order`, async () => {
      const d = library.find((x) => x.id === id) as Detection;
      for (const order of [[['a.log', lines([a])], ['b.log', lines([b])]], [['b.log', lines([b])], ['a.log', lines([a])]]] as Array<Array<[string, string]>>) {
        const got = await findings(d, order);
        expect(got).toHaveLength(1);
        expect(got[0]?.source_file).toMatch(/a\.log$/);
        expect(got[0]?.source_line).toBe(1);
        expect(got[0]?.request_id).toMatch(/^A-FIRST/);
      }
    });
  }
});

describe('large-data-egress evidence', () => {
  it("names the request ID, file and line of one source: the one that saw more, even when it logged no request ID", async () => {
    const d = library.find((x) => x.id === 'large-data-egress') as Detection;
    // The access log saw 6 GB (request IDs "-"), CloudTrail 1 GB of the same reader and bucket with a request ID.
    const trail = buildRecords([parseRecordSpec({ base: 's3-data-event', requestID: 'CTREQ', 'additionalEventData.bytesTransferredOut': 1073741824 }, 'trail')])
      .map((r) => (r.source === 'cloudtrail' ? r.record : {}));
    const got = await findings(d, [
      ['al.log', lines([{ base: 'access-log', repeat: 3, every: 60, request_id: null, bytes_sent: 2147483648 }])],
      ['ct.json', JSON.stringify({ Records: trail })],
    ]);
    expect(got).toHaveLength(1);
    expect(got[0]?.source).toBe('access_log');
    expect(got[0]?.source_file).toMatch(/al\.log$/);
    // Not CloudTrail's CTREQ beside the access log's file and line (DuckDB's max_by skipped the NULL; Athena's kept it).
    expect(got[0]?.request_id).toBeNull();
  });
});
