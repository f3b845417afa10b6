/**
 * `athena verify`'s flow against the loopback fakes: Athena's JSON protocol
 * (test/helpers/fake-athena.ts, answering each detection's query with the
 * rows DuckDB gives) and an s3rver S3. What a real account adds is the
 * engine itself, which only a run there checks.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AthenaClient } from '@aws-sdk/client-athena';
import { ListObjectsCommand, S3Client } from '@aws-sdk/client-s3';
// s3rver ships no types.
// @ts-expect-error -- untyped package
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../cli/command.js';
import { main } from '../../cli/main.js';
import { ingest } from '../../ingest/ingest.js';
import { comparisonReport, compareDetection, findingText } from '../../query/athena/compare.js';
import { athenaDdl } from '../../query/athena/ddl.js';
import { verifyOnAthena, verifyOutcome, type VerifyOptions, type VerifyStep } from '../../query/athena/verify.js';
import { openDataset } from '../../query/dataset.js';
import { loadDetections, type Detection } from '../../query/detection.js';
import { nativeFunctionIn } from '../../query/dialect.js';
import type { Finding } from '../../query/finding.js';
import { SAMPLES, tempDir } from '../helpers/dataset.js';
import { duckdbAnswers, NO_ROWS, startFakeAthena, type FakeAnswer, type FakeAthena } from '../helpers/fake-athena.js';
import { captureIo } from '../helpers/io.js';

const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const env = { AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY, AWS_REGION: process.env.AWS_REGION };
let tmp: { dir: string; cleanup: () => void };
let server: { run(): Promise<{ port: number }>; close(): Promise<void> };
let s3Endpoint: string;
let s3: S3Client;
let library: Detection[];
/** DuckDB's answer to each detection query, from one ingest of the samples. */
let answers: Map<string, FakeAnswer>;
/** How many detections call s3sift's own functions, and so run on DuckDB only. */
const duckdbOnly = (): number => library.filter((d) => nativeFunctionIn(d.sql)).length;

beforeAll(async () => {
  tmp = tempDir();
  server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: join(tmp.dir, 's3'), configureBuckets: [{ name: 'scratch' }] });
  s3Endpoint = `http://127.0.0.1:${(await server.run()).port}`;
  // s3rver checks signatures made with its default key; the CLI's clients read it from the environment.
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' });
  s3 = new S3Client({ endpoint: s3Endpoint, forcePathStyle: true, region: 'us-east-1', credentials: CREDENTIALS, requestChecksumCalculation: 'WHEN_REQUIRED' });
  library = await loadDetections();
  const data = join(tmp.dir, 'data');
  await ingest([new URL('.', SAMPLES).pathname], { data, format: 'auto', force: false, strict: false });
  const ds = await openDataset(data);
  try {
    answers = await duckdbAnswers(ds.conn, library.filter((d) => !nativeFunctionIn(d.sql)));
  } finally {
    ds.close();
  }
}, 60_000);

afterAll(async () => {
  s3?.destroy();
  await server?.close();
  Object.assign(process.env, env);
  tmp?.cleanup();
});

/** A fake Athena: DDL answers no rows, a detection's query DuckDB's rows (or what `over` says), anything else fails. */
function fakeAthena(over: (sql: string) => FakeAnswer | undefined = () => undefined): Promise<FakeAthena> {
  return startFakeAthena({
    pageSize: 100,
    pollsBeforeDone: 0,
    answer: (sql) => over(sql) ?? (/^(CREATE|DROP|ALTER) /.test(sql) ? NO_ROWS : answers.get(sql)) ?? (() => { throw new Error(`unexpected query: ${sql.slice(0, 80)}`); })(),
  });
}

const athenaClient = (endpoint: string): AthenaClient => new AthenaClient({ endpoint, region: 'us-east-1', credentials: CREDENTIALS, maxAttempts: 2 });

/** Keys under a prefix of the scratch bucket. */
async function keys(prefix: string): Promise<string[]> {
  return ((await s3.send(new ListObjectsCommand({ Bucket: 'scratch', Prefix: prefix }))).Contents ?? []).map((o) => o.Key as string);
}

/** Run the function with both fakes; its progress lines come back too. */
async function verify(fake: FakeAthena, o: Partial<VerifyOptions> & { database: string; location: string }, onStep?: (step: VerifyStep, message: string) => void) {
  const athena = athenaClient(fake.endpoint);
  const steps: string[] = [];
  try {
    const r = await verifyOnAthena(athena, s3, { workgroup: 'primary', detections: library, pollMs: 1, maxPollMs: 5, ...o }, (step, message) => {
      steps.push(`${step} ${message}`);
      onStep?.(step, message);
    });
    return { r, steps };
  } finally {
    athena.destroy();
  }
}

const ddlOf = (database: string, scratch: string): string[] =>
  athenaDdl({ database, location: scratch, firstDay: '2019-03-14' }).map((s) => s.replace(/;\s*$/, '').replace(/^CREATE DATABASE IF NOT EXISTS /, 'CREATE DATABASE '));
const drops = (fake: FakeAthena): string[] => fake.statements.filter((s) => s.startsWith('DROP '));

describe('athena verify', () => {
  it('compares the whole library on both engines, then drops what it made and empties the scratch prefix', async () => {
    const fake = await fakeAthena();
    try {
      const { r, steps } = await verify(fake, { database: 'verify_ok', location: 's3://scratch/ok' });
      expect(r.failure).toBeUndefined();
      expect(verifyOutcome(r)).toBe('agree');
      expect(r.scratch).toMatch(/^s3:\/\/scratch\/ok\/s3sift-verify-\d{8}T\d{6}Z-[0-9a-f]+\/$/);
      // Every detection is accounted for: the DuckDB-only ones skipped and named, the others agreeing, most with findings.
      expect(r.comparisons.map((c) => c.id)).toEqual(library.map((d) => d.id));
      expect(r.comparisons.filter((c) => c.verdict === 'skipped').map((c) => c.id)).toEqual(['bucket-policy-external-account', 'bucket-policy-public', 'kms-key-policy-external', 'threat-intel-address', 'vpc-endpoint-bypass']);
      expect(r.comparisons.filter((c) => c.verdict !== 'skipped').every((c) => c.verdict === 'agree')).toBe(true);
      expect(r.comparisons.reduce((n, c) => n + c.athena, 0)).toBeGreaterThan(50);
      // The DDL, one statement at a time, in order, the database without IF NOT EXISTS; the library; the drops, in reverse.
      const ddl = ddlOf('verify_ok', r.scratch);
      expect(fake.statements.slice(0, ddl.length)).toEqual(ddl);
      // Each detection (but the DuckDB-only one), each coverage SQL, and which tables hold rows.
      const coverageQueries = library.filter((d) => d.coverage !== undefined && !nativeFunctionIn(d.sql)).length;
      expect(fake.statements.filter((s) => answers.has(s))).toHaveLength(library.length - duckdbOnly() + coverageQueries + 1);
      expect(fake.statements.slice(-4)).toEqual(['DROP VIEW IF EXISTS "verify_ok"."s3_requests"', 'DROP TABLE IF EXISTS `verify_ok`.`cloudtrail`', 'DROP TABLE IF EXISTS `verify_ok`.`access_log`', 'DROP DATABASE `verify_ok`']);
      expect(fake.calls.find((c) => c.body.QueryString === ddl[0])?.body.QueryExecutionContext).toEqual({ Database: 'default' });
      // The samples went up under the scratch prefix, in the tables' layout, and are gone.
      const [, files, to] = /^publish (\d+) file\(s\), [\d.]+ MB, to (\S+)$/.exec(steps.find((s) => s.startsWith('publish ')) ?? '') ?? [];
      expect(Number(files)).toBeGreaterThan(1);
      expect(to).toBe(r.scratch);
      expect(r.removed).toContain(`${r.scratch} (${files} object(s))`);
      expect(await keys('ok/')).toEqual([]);
      expect(existsSync(r.dataset)).toBe(false);
      expect(r.left).toEqual([]);
    } finally {
      await fake.close();
    }
  });

  it('uploads the dataset under the scratch prefix only', async () => {
    // Kept (--keep), so the upload can be looked at; the tables' locations point there.
    const fake = await fakeAthena();
    try {
      const { r } = await verify(fake, { database: 'verify_up', location: 's3://scratch/up/', detections: library.slice(0, 2), keep: true });
      const uploaded = await keys('up/');
      expect(uploaded.length).toBeGreaterThan(1);
      for (const k of uploaded) expect(`s3://scratch/${k}`.startsWith(r.scratch)).toBe(true);
      expect(uploaded.some((k) => /\/access_log\/date=\d{4}-\d\d-\d\d\/[^/]+\.parquet$/.test(k))).toBe(true);
      expect(uploaded.some((k) => /\/cloudtrail\/date=\d{4}-\d\d-\d\d\/[^/]+\.parquet$/.test(k))).toBe(true);
      expect(fake.statements.some((s) => s.includes(`LOCATION '${r.scratch}access_log/'`))).toBe(true);
      // --keep: nothing dropped or deleted, and each thing kept is named with how to remove it.
      expect(drops(fake)).toEqual([]);
      expect(r.kept.map((k) => k.what)).toEqual([`database verify_up with view verify_up.s3_requests, table verify_up.cloudtrail, table verify_up.access_log`, r.scratch, r.dataset]);
      expect(r.kept[0]?.how).toBe('DROP VIEW IF EXISTS "verify_up"."s3_requests"; DROP TABLE IF EXISTS `verify_up`.`cloudtrail`; DROP TABLE IF EXISTS `verify_up`.`access_log`; DROP DATABASE `verify_up`;');
      expect(r.kept[1]?.how).toBe(`aws s3 rm --recursive ${r.scratch}`);
      expect(existsSync(r.dataset)).toBe(true);
      rmSync(r.dataset, { recursive: true, force: true });
    } finally {
      await fake.close();
    }
  });

  it('reports a detection whose findings differ, naming it and showing the finding only one engine gave (CLI: exit 1)', async () => {
    const [sql, answer] = [...answers].find(([, a]) => a.rows.length >= 2) as [string, FakeAnswer];
    const fake = await fakeAthena((s) => (s === sql ? { ...answer, rows: answer.rows.slice(1) } : undefined));
    try {
      const io = captureIo();
      const code = await main(['athena', 'verify', '--database', 'verify_diff', '--location', 's3://scratch/diff', '--endpoint-url', fake.endpoint, '--s3-endpoint-url', s3Endpoint, '--region', 'us-east-1'], io);
      expect(code).toBe(EXIT.findings);
      const out = io.out();
      const [, id, duck, athena] = /^DISAGREE +([a-z0-9-]+): (\d+) finding\(s\) on DuckDB, (\d+) on Athena$/m.exec(out) ?? [];
      expect(Number(duck) - Number(athena)).toBe(1);
      expect(out.match(/^DISAGREE/gm)).toHaveLength(1);
      const shown = out.split('\n').findIndex((l) => l.trim() === 'only on DuckDB (1):');
      expect(JSON.parse(out.split('\n')[shown + 1] as string)).toMatchObject({ detection_id: id });
      expect(out).toMatch(/^ +only on Athena: none$/m);
      expect(out).toMatch(new RegExp(`^${library.length - duckdbOnly()} detection\\(s\\) compared: ${library.length - duckdbOnly() - 1} agree.*, 1 disagree, 0 failed on Athena; ${duckdbOnly()} skipped$`, 'm'));
      expect(io.err()).toMatch(/^athena   skip   bucket-policy-external-account: runs on DuckDB only/m);
      expect(drops(fake)).toHaveLength(4);
      expect(await keys('diff/')).toEqual([]);
    } finally {
      await fake.close();
    }
  });

  it('exits 0 from the CLI when every detection agrees', async () => {
    const fake = await fakeAthena();
    try {
      const io = captureIo();
      const code = await main(['athena', 'verify', '--database', 'verify_cli', '--location', 's3://scratch/cli', '--endpoint-url', fake.endpoint, '--s3-endpoint-url', s3Endpoint], io);
      expect([code, io.err()]).toEqual([EXIT.ok, expect.stringMatching(/^cleanup  dropped database verify_cli$/m)]);
      expect(io.out()).toMatch(new RegExp(`^${library.length - duckdbOnly()} detection\\(s\\) compared: ${library.length - duckdbOnly()} agree`, 'm'));
    } finally {
      await fake.close();
    }
  });

  it("reports a detection that fails on Athena with Athena's message, and still cleans up", async () => {
    const failing = library.find((d) => d.id === 'sigv2-request') as Detection;
    const fake = await fakeAthena((sql) => {
      if (sql.includes("'SigV2'")) throw new Error("COLUMN_NOT_FOUND: line 3:7: Column 'signature_version' cannot be resolved");
      return undefined;
    });
    try {
      const { r } = await verify(fake, { database: 'verify_fail', location: 's3://scratch/fail', detections: [failing, library.find((d) => d.id === 'weak-tls-request') as Detection] });
      expect(r.comparisons.map((c) => [c.id, c.verdict])).toEqual([['sigv2-request', 'failed'], ['weak-tls-request', 'agree']]);
      expect(r.comparisons[0]?.reason).toMatch(/COLUMN_NOT_FOUND/);
      expect(verifyOutcome(r)).toBe('incomplete');
      expect(drops(fake)).toHaveLength(4);
      expect(await keys('fail/')).toEqual([]);
    } finally {
      await fake.close();
    }
  });

  it('stops at a DDL statement that fails, and drops what it had made', async () => {
    const fake = await fakeAthena((sql) => {
      if (sql.includes('`verify_ddl`.`cloudtrail`') && sql.startsWith('CREATE')) throw new Error('AccessDeniedException: not authorized to perform glue:CreateTable');
      return undefined;
    });
    try {
      const { r } = await verify(fake, { database: 'verify_ddl', location: 's3://scratch/ddl', detections: library.slice(0, 2) });
      expect(r.failure).toEqual({ step: 'tables', error: expect.stringMatching(/glue:CreateTable/) });
      expect(r.comparisons).toEqual([]);
      expect(fake.statements.filter((s) => answers.has(s))).toEqual([]);
      expect(drops(fake)).toEqual(['DROP TABLE IF EXISTS `verify_ddl`.`cloudtrail`', 'DROP TABLE IF EXISTS `verify_ddl`.`access_log`', 'DROP DATABASE `verify_ddl`']);
      expect(await keys('ddl/')).toEqual([]);
      expect(verifyOutcome(r)).toBe('incomplete');
    } finally {
      await fake.close();
    }
  });

  it('refuses a database that exists: nothing uploaded, created or dropped (CLI: exit 2)', async () => {
    const fake = await fakeAthena((sql) => {
      if (sql === 'CREATE DATABASE `s3sift`') throw new Error('FAILED: Execution Error, return code 1 from org.apache.hadoop.hive.ql.exec.DDLTask. Database s3sift already exists');
      return undefined;
    });
    try {
      const io = captureIo();
      const code = await main(['athena', 'verify', '--database', 's3sift', '--location', 's3://scratch/exists', '--endpoint-url', fake.endpoint, '--s3-endpoint-url', s3Endpoint], io);
      expect(code).toBe(EXIT.usage);
      expect(io.err()).toMatch(/^error: database: database s3sift already exists: athena verify makes a database of its own .* Nothing was created or dropped on AWS\.$/m);
      expect(fake.statements).toEqual(['CREATE DATABASE `s3sift`']);
      expect(await keys('exists/')).toEqual([]);
      expect(io.out()).toBe('');
    } finally {
      await fake.close();
    }
  });

  it('stops when interrupted, then cleans up', async () => {
    const controller = new AbortController();
    const fake = await fakeAthena();
    try {
      const { r } = await verify(fake, { database: 'verify_int', location: 's3://scratch/int', signal: controller.signal }, (step, message) => {
        if (step === 'athena' && message.startsWith('ok')) controller.abort();
      });
      expect(r.interrupted).toBe(true);
      expect(r.failure?.step).toBe('athena');
      // One detection ran (after the query of which tables hold rows); the next stopped before its query started.
      expect(fake.statements.filter((s) => answers.has(s))).toHaveLength(2);
      expect(drops(fake)).toHaveLength(4);
      expect(await keys('int/')).toEqual([]);
      expect(verifyOutcome(r)).toBe('incomplete');
    } finally {
      await fake.close();
    }
  });

  it('refuses a bad database name or location before reaching AWS', async () => {
    for (const [args, msg] of [[['--database', 'Bad-Name', '--location', 's3://scratch/x'], /--database must be lower-case/], [['--database', 'ok'], /needs --location/], [['--location', 's3://scratch/x'], /needs --database/], [['--database', 'ok', '--location', '/tmp/x'], /--location: not an s3:\/\/ location/]] as const) {
      const io = captureIo();
      expect([await main(['athena', 'verify', '--endpoint-url', 'http://127.0.0.1:9', ...args], io), io.err().split('\n')[0]]).toEqual([EXIT.usage, expect.stringMatching(msg)]);
    }
  });
});

describe('comparing findings', () => {
  const finding = (over: Partial<Finding> = {}): Finding => ({
    finding_id: '0', detection_id: 'x', severity: 'high', title: 'X', event_time: '2025-03-10T08:00:00.000Z', last_time: '2025-03-10T08:00:00.000Z', count: 1,
    sources: ['access_log'], source: 'access_log', bucket: 'b', key: 'k', principal: 'p', source_ip: '192.0.2.1', account_id: null, region: null,
    request_id: 'r', event_id: null, source_file: 'f', source_line: 1, evidence: [], details: {}, ...over,
  });

  it('counts repeats: a finding twice on one side and once on the other is a difference', () => {
    const c = compareDetection('x', [finding(), finding()], [finding()]);
    expect([c.verdict, c.onlyDuckdb.length, c.onlyAthena.length]).toEqual(['disagree', 1, 0]);
    expect(compareDetection('x', [finding(), finding({ source_line: 2 })], [finding({ source_line: 2 }), finding()]).verdict).toBe('agree');
  });

  it("ignores the order of details' keys, but not a list's items or the difference between a list and text", () => {
    expect(findingText(finding({ details: { a: 1, b: ['x', 'y'] } }))).toBe(findingText(finding({ details: { b: ['x', 'y'], a: 1 } })));
    expect(findingText(finding({ details: { b: ['x', 'y'] } }))).not.toBe(findingText(finding({ details: { b: ['y', 'x'] } })));
    expect(findingText(finding({ details: { b: ['x', 'y'] } }))).not.toBe(findingText(finding({ details: { b: '[x, y]' } })));
  });

  it('prints hostile log content escaped: no control character reaches the terminal', () => {
    const hostile = finding({ key: 'a\u001b[2J\u009b31m\u202egnp.exe\r\nforged line', details: { ua: '\u0007bell\u2028' } });
    const text = comparisonReport([compareDetection('x', [hostile], [])]);
    expect(text.replaceAll('\n', '')).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
    expect(text).toContain('\\u001b[2J\\u009b31m\\u202egnp.exe\\r\\nforged line');
    expect(text.trim().split('\n')).toHaveLength(5);
  });
});
