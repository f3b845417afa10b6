import { nativeFunctionIn } from '../../query/dialect.js';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AthenaClient } from '@aws-sdk/client-athena';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../../ingest/ingest.js';
import { runAthenaQuery, runDetectionsOnAthena } from '../../query/athena/run.js';
import { openDataset } from '../../query/dataset.js';
import { runDetections, selectDetections } from '../../query/detect.js';
import { loadDetections, type Detection } from '../../query/detection.js';
import { coverageAnswer, duckdbAnswers, startFakeAthena, type FakeAnswer } from '../helpers/fake-athena.js';
import { SAMPLES, tempDir } from '../helpers/dataset.js';

const client = (endpoint: string): AthenaClient =>
  new AthenaClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' }, maxAttempts: 4 });
const opts = { database: 's3sift', workgroup: 'primary', pollMs: 5, maxPollMs: 20 };

describe('running a query on Athena', () => {
  it('polls to a final state, pages through the results without the header row, and types the values', async () => {
    const answer: FakeAnswer = {
      columns: [{ Name: 'n', Type: 'bigint' }, { Name: 't', Type: 'timestamp' }, { Name: 'ok', Type: 'boolean' }, { Name: 'j', Type: 'json' }, { Name: 's', Type: 'varchar' }],
      rows: Array.from({ length: 7 }, (_, i) => [String(i), `2025-03-10 08:00:0${i}.000`, i % 2 ? 'true' : 'false', `{"i":${i}}`, i === 3 ? null : `v${i}`]),
    };
    const fake = await startFakeAthena({ answer: () => answer, pageSize: 3 });
    try {
      const r = await runAthenaQuery(client(fake.endpoint), 'SELECT 1', ['5', "'x'"], { ...opts, outputLocation: 's3://results-bucket/', reuseMinutes: 60 });
      expect(r.rows).toHaveLength(7);
      expect(r.rows[0]).toEqual({ n: 0, t: '2025-03-10T08:00:00.000Z', ok: false, j: { i: 0 }, s: 'v0' });
      expect(r.rows[3]?.s).toBeNull();
      expect(r.bytesScanned).toBe(1_000_000);
      const ops = fake.calls.map((c) => c.op);
      expect(ops.filter((o) => o === 'GetQueryExecution')).toHaveLength(3); // QUEUED, RUNNING, SUCCEEDED
      expect(ops.filter((o) => o === 'GetQueryResults')).toHaveLength(3); // 8 rows with the header, 3 a page
      const start = fake.calls.find((c) => c.op === 'StartQueryExecution')?.body as Record<string, unknown>;
      expect(start).toMatchObject({ QueryString: 'SELECT 1', ExecutionParameters: ['5', "'x'"], WorkGroup: 'primary', QueryExecutionContext: { Database: 's3sift' },
        ResultConfiguration: { OutputLocation: 's3://results-bucket/' }, ResultReuseConfiguration: { ResultReuseByAgeConfiguration: { Enabled: true, MaxAgeInMinutes: 60 } } });
    } finally {
      await fake.close();
    }
  });

  it('retries throttling (TooManyRequestsException) and goes on', async () => {
    const fake = await startFakeAthena({ answer: () => ({ columns: [{ Name: 'x', Type: 'integer' }], rows: [['1']] }), throttle: 2 });
    try {
      const r = await runAthenaQuery(client(fake.endpoint), 'SELECT 1 AS x', [], opts);
      expect(r.rows).toEqual([{ x: 1 }]);
      expect(fake.calls.filter((c) => c.op === 'StartQueryExecution')).toHaveLength(3);
    } finally {
      await fake.close();
    }
  }, 20_000);

  it("reports a failed query for its detection with Athena's message, and runs the others", async () => {
    const lib = selectDetections(await loadDetections(), ['sigv2-request', 'weak-tls-request']);
    const fake = await startFakeAthena({
      answer: (sql) => {
        if (sql.includes("'SigV2'")) throw new Error("COLUMN_NOT_FOUND: line 3:7: Column 'signature_version' cannot be resolved");
        return coverageAnswer(sql) ?? { columns: [{ Name: 'event_time', Type: 'timestamp' }, { Name: 'bucket', Type: 'varchar' }], rows: [['2025-03-10 08:00:00.000', 'prod-data']] };
      },
    });
    try {
      const r = await runDetectionsOnAthena(client(fake.endpoint), lib, opts);
      expect(r.failures).toEqual([{ id: 'sigv2-request', error: expect.stringMatching(/failed: COLUMN_NOT_FOUND: .*signature_version/) }]);
      expect(r.findings.map((f) => [f.detection_id, f.bucket, f.event_time])).toEqual([['weak-tls-request', 'prod-data', '2025-03-10T08:00:00.000Z']]);
      // The failed detection checked nothing, and its coverage says so: its 0 findings are not "nothing found".
      expect(r.coverage).toEqual([{ detection_id: 'sigv2-request', scope: '(all)', reason: expect.stringMatching(/^not checked at all: the detection failed on Athena \(.*COLUMN_NOT_FOUND/) }]);
      // Which tables hold rows, weak-tls-request and its coverage: 1 MB each (the failed query scanned nothing).
      expect(r.bytesScanned).toBe(3_000_000);
      expect(r.costUsd).toBeCloseTo(1.5e-5);
    } finally {
      await fake.close();
    }
  });
});

describe('a detection that cannot be rendered', () => {
  it('fails alone, with the reason, while the others run', async () => {
    const [base] = selectDetections(await loadDetections(), ['weak-tls-request']);
    const broken = { ...(base as Detection), id: 'broken-custom', sql: 'SELECT event_time, url_extract_host(bucket) AS host FROM s3_requests' };
    const fake = await startFakeAthena({ answer: (sql) => coverageAnswer(sql) ?? { columns: [{ Name: 'event_time', Type: 'timestamp' }, { Name: 'bucket', Type: 'varchar' }], rows: [['2025-03-10 08:00:00.000', 'prod-data']] } });
    try {
      const r = await runDetectionsOnAthena(client(fake.endpoint), [broken, base as Detection], opts);
      expect(r.failures).toEqual([{ id: 'broken-custom', error: expect.stringMatching(/the SQL does not run on the dataset's tables: .*url_extract_host/) }]);
      expect(r.findings.map((f) => f.detection_id)).toEqual(['weak-tls-request']);
      // Nothing of the broken one reached Athena: which tables hold rows, weak-tls-request and its coverage did.
      expect(fake.statements.filter((s) => !coverageAnswer(s))).toHaveLength(1);
      expect(fake.statements).toHaveLength(3);
      expect(r.coverage.map((c) => [c.detection_id, c.scope])).toEqual([['broken-custom', '(all)']]);
    } finally {
      await fake.close();
    }
  });
});

describe('the same detections on DuckDB and on Athena (contract)', () => {
  let tmp: { dir: string; cleanup: () => void };
  let data: string;
  beforeAll(async () => {
    tmp = tempDir();
    data = join(tmp.dir, 'data');
    await ingest([new URL('.', SAMPLES).pathname], { data, format: 'auto', force: false, strict: false });
  });
  afterAll(() => tmp.cleanup());

  it('gives the same findings when Athena returns the rows DuckDB computed', async () => {
    // Detections that call s3sift's own functions run on DuckDB only.
    const lib = (await loadDetections()).filter((d) => !nativeFunctionIn(d.sql));
    const ds = await openDataset(data);
    try {
      const local = await runDetections(ds, lib);
      // What the fake answers to each rendered query: DuckDB's rows, as Athena renders them (text cells, typed columns).
      const answers = await duckdbAnswers(ds.conn, lib);
      const fake = await startFakeAthena({ answer: (sql) => answers.get(sql) ?? (() => { throw new Error(`unexpected query: ${sql.slice(0, 80)}`); })(), pageSize: 50 });
      try {
        const remote = await runDetectionsOnAthena(client(fake.endpoint), lib, opts);
        expect(remote.failures).toEqual([]);
        // Array columns come back as JSON: the findings are the same, lists included.
        expect(remote.findings).toEqual(local.findings);
        // (Grouped: the samples' 160-odd events are some 70 findings; the IDs are the same on both engines, and each once.)
        expect(remote.findings.length).toBeGreaterThan(50);
        expect(new Set(remote.findings.map((f) => f.finding_id)).size).toBe(remote.findings.length);
        // So is what they could not judge (test/query/coverage.test.ts has datasets with more of it).
        expect(remote.coverage).toEqual(local.coverage);
        expect(remote.coverage.length).toBeGreaterThan(0);
      } finally {
        await fake.close();
      }
    } finally {
      ds.close();
    }
  }, 60_000);
});

describe('s3sift athena (CLI)', () => {
  const BIN = new URL('../../bin/s3sift', import.meta.url).pathname;
  const env = { ...process.env, AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true' };

  const run = (args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      const p = spawn(process.execPath, [BIN, ...args], { env });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      p.on('close', (code) => resolve({ code, stdout, stderr }));
    });

  it('athena detect reads the config as detect does: its suppress rules judge each event, and it says how many', async () => {
    const fake = await startFakeAthena({ answer: (sql) => coverageAnswer(sql) ?? { columns: [{ Name: 'event_time', Type: 'timestamp' }, { Name: 'bucket', Type: 'varchar' }, { Name: 'tls_version', Type: 'varchar' }], rows: [['2025-03-10 08:00:00.000', 'prod-data', 'TLSv1'], ['2025-03-10 08:01:00.000', 'logs-archive', 'TLSv1']] } });
    const dir = mkdtempSync(join(tmpdir(), 's3sift-athena-config-'));
    try {
      const config = join(dir, 'team.yaml');
      writeFileSync(config, 'suppress:\n  - detection: weak-tls-request\n    bucket: prod-data\n    reason: the legacy exporter\n');
      const r = await run(['athena', 'detect', '--database', 's3sift', '--workgroup', 'primary', '--endpoint-url', fake.endpoint, '--only', 'weak-tls-request', '--format', 'ndjson', '--config', config]);
      expect(r.code).toBe(0);
      expect(r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { bucket: string }).bucket)).toEqual(['logs-archive']);
      expect(r.stderr).toContain(`config: ${config} (1 suppress rule)`);
      expect(r.stderr).toMatch(/1 finding suppressed by 1 rule of .*team\.yaml; --format json --show-suppressed lists them/);
    } finally {
      await fake.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('athena detect runs detections through the endpoint given and prints findings like detect', async () => {
    const fake = await startFakeAthena({ answer: (sql) => coverageAnswer(sql) ?? { columns: [{ Name: 'event_time', Type: 'timestamp' }, { Name: 'bucket', Type: 'varchar' }, { Name: 'tls_version', Type: 'varchar' }], rows: [['2025-03-10 08:00:00.000', 'prod-data', 'TLSv1']] } });
    try {
      const r = await run(['athena', 'detect', '--database', 's3sift', '--workgroup', 'primary', '--endpoint-url', fake.endpoint, '--only', 'weak-tls-request', '--format', 'ndjson', '--fail-on', 'medium']);
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout)).toMatchObject({ detection_id: 'weak-tls-request', bucket: 'prod-data', event_time: '2025-03-10T08:00:00.000Z', details: { tls_version: 'TLSv1' } });
      expect(r.stderr).toMatch(/ok +weak-tls-request: 1 finding\(s\), 2\.0 MB scanned/); // the detection and its coverage
      expect(r.stderr).toMatch(/Athena scanned 0\.003 GB/); // and which tables hold rows
    } finally {
      await fake.close();
    }
  }, 30_000);

  it('athena detect over the whole library leaves out, and names, the detections that run on DuckDB only', async () => {
    const fake = await startFakeAthena({ answer: (sql) => coverageAnswer(sql) ?? { columns: [{ Name: 'event_time', Type: 'timestamp' }], rows: [] } });
    try {
      const r = await run(['athena', 'detect', '--database', 's3sift', '--workgroup', 'primary', '--endpoint-url', fake.endpoint, '--format', 'json']);
      for (const id of ['bucket-policy-external-account', 'bucket-policy-public', 'kms-key-policy-external', 'threat-intel-address', 'vpc-endpoint-bypass']) expect(r.stderr).toMatch(new RegExp(`^skip +${id}: runs on DuckDB only`, 'm'));
      expect(r.stderr).toMatch(/0 of 45 detections failed/);
      expect(r.code).toBe(0);
    } finally {
      await fake.close();
    }
  }, 60_000);

  it('athena ddl prints the statements, and asks for --location', async () => {
    const r = await run(['athena', 'ddl', '--location', 's3://sec-data/s3sift']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('CREATE EXTERNAL TABLE IF NOT EXISTS `s3sift`.`cloudtrail`');
    const bad = await run(['athena', 'ddl']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/needs --location/);
    // Options may come before the subcommand, as they could before it was one.
    const before = await run(['athena', '--database', 'sec', 'ddl', '--location', 's3://sec-data/s3sift']);
    expect(before.code).toBe(0);
    expect(before.stdout).toContain('`sec`.`cloudtrail`');
  }, 30_000);

  it('athena detect refuses a bad database or a reversed window before it starts any query', async () => {
    // An endpoint nothing listens on: reaching it would fail differently.
    for (const [args, msg] of [[['--database', 'Bad-Name'], /--database must be lower-case/], [['--since', '2025-02-01', '--until', '2025-01-01'], /--since must be before --until/]] as const) {
      const r = await run(['athena', 'detect', '--endpoint-url', 'http://127.0.0.1:9', ...args]);
      expect([r.code, r.stderr.split('\n')[0]]).toEqual([2, expect.stringMatching(msg)]);
      expect(r.stderr).not.toMatch(/skip|FAILED/);
    }
  }, 30_000);
});
