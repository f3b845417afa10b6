import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLES, tempDir } from '../helpers/dataset.js';
import { loadDetections } from '../../query/detection.js';
import { FINDING_FIELDS } from '../../query/finding.js';

const BIN = new URL('../../bin/s3sift', import.meta.url).pathname;

function run(args: string[]): { code: number | null; stdout: string; stderr: string; raw: Buffer } {
  const r = spawnSync(process.execPath, [BIN, ...args], { maxBuffer: 64 << 20 });
  return { code: r.status, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8'), raw: r.stdout };
}

let tmp: { dir: string; cleanup: () => void };
let data: string;
let analyzed: ReturnType<typeof run>;
beforeAll(() => {
  tmp = tempDir();
  data = join(tmp.dir, 'data');
  analyzed = run(['analyze', new URL('.', SAMPLES).pathname, '--data', data]);
});
afterAll(() => tmp.cleanup());

describe('s3sift analyze on the samples (what npm start prints)', () => {
  it('ingests, then prints a report grouped by severity and detection, with the evidence', () => {
    expect(analyzed.code).toBe(0);
    const out = analyzed.stdout;
    expect(out).toMatch(/^read 386 lines and records from 30 sources: 380 ingested, 3 rejected, 3 skipped/);
    expect(out).toMatch(/\d+ findings from \d+ of 50 detections \(1 critical, \d+ high/);
    expect(out.indexOf('== CRITICAL ==')).toBeLessThan(out.indexOf('== HIGH =='));
    expect(out).toContain('[bucket-policy-public] Bucket policy allows everyone: 1 finding');
    // The 25 version deletes of one principal on one bucket within the hour are one finding (group_minutes).
    expect(out).toMatch(/\[permanent-delete-without-mfa\] .*: 1 finding\n.*\n.*\(25 events until 2025-03-11T02:30:48\.000Z\)/);
    // Each version deleted is named: a detail that differs between the events of a group is the list of its values.
    expect(out).toMatch(/version_id=\["3HL4kqtJvjVBH40Nrjfkd00",/);
    expect(out).toMatch(/at samples?.*\/2025-03-11\.log:\d+ {2}request [0-9A-F]{16}|at .*access-logs\/prod-data\/2025-03-11\.log:\d+/);
    expect(out).toMatch(/\[presigned-url-shared\] .*: 1 finding\n.*\n.*\n\s+addresses=4/);
  });
});

describe('s3sift detect', () => {
  it('prints findings as NDJSON, JSON with a summary, CSV and OCSF', () => {
    const nd = run(['detect', '--data', data, '--format', 'ndjson', '--only', 'versioning-suspended,mass-delete']);
    expect(nd.code).toBe(0);
    const findings = nd.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(findings.map((f) => f.detection_id).sort()).toEqual(['mass-delete', 'versioning-suspended']);
    expect(Object.keys(findings[0] as object)).toEqual([...FINDING_FIELDS]);
    expect(findings.find((f) => f.detection_id === 'mass-delete')?.details).toMatchObject({ deleted: 25, window_minutes: 15 });
    const json = JSON.parse(run(['detect', '--data', data, '--format', 'json', '--only', 'versioning-suspended']).stdout) as { findings: unknown[]; summary: { findings: number } };
    expect(json.summary.findings).toBe(1);
    const csv = run(['detect', '--data', data, '--format', 'csv', '--only', 'versioning-suspended']).stdout.trim().split('\n');
    expect(csv[0]).toBe('finding_id,detection_id,severity,title,event_time,last_time,count,sources,source,bucket,key,principal,source_ip,account_id,region,request_id,event_id,source_file,source_line,evidence,details');
    expect(csv).toHaveLength(2);
    const ocsf = JSON.parse(run(['detect', '--data', data, '--format', 'ocsf', '--only', 'versioning-suspended']).stdout) as Record<string, unknown>;
    expect(ocsf).toMatchObject({ class_uid: 2004, type_uid: 200401, severity_id: 4, finding_info: { analytic: { uid: 'versioning-suspended' } }, resources: [{ name: 'prod-data' }] });
  });

  it('gives each finding a stable finding_id: the same in two runs and in every format, each once; --ungrouped is one finding per event', async () => {
    const lines = (args: string[]): Array<Record<string, unknown>> => run(['detect', '--data', data, ...args]).stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const first = lines(['--format', 'ndjson']);
    const ids = first.map((f) => f.finding_id as string);
    expect(new Set(ids).size).toBe(ids.length);
    expect(lines(['--format', 'ndjson']).map((f) => f.finding_id)).toEqual(ids);
    expect(lines(['--format', 'ocsf']).map((o) => (o.finding_info as { uid: string }).uid)).toEqual(ids);
    const csv = run(['detect', '--data', data, '--format', 'csv', '--csv-raw']).stdout.trim().split('\n').slice(1).map((l) => l.split(',')[0]);
    expect(csv).toEqual(ids);
    // Ungrouped: every event its own finding (a request both sources logged still one), as many as the grouped findings' counts add up to.
    const ungrouped = lines(['--format', 'ndjson', '--ungrouped']);
    const aggregate = new Set((await loadDetections()).filter((d) => d.aggregate).map((d) => d.id));
    expect(ungrouped.filter((f) => !aggregate.has(f.detection_id as string)).every((f) => f.count === 1)).toBe(true);
    const events = (fs: Array<Record<string, unknown>>): number => fs.reduce((n, f) => n + (f.count as number), 0);
    expect(events(ungrouped)).toBe(events(first));
    expect(ungrouped.length).toBeGreaterThan(first.length);
    expect(new Set(ungrouped.map((f) => f.finding_id)).size).toBe(ungrouped.length);
    expect(ungrouped.some((f) => (f.sources as string[]).length === 2)).toBe(true);
  });

  it('--timing lists on stderr each detection it ran, slowest first, its SQL and coverage apart and the CPU time of both; stdout is unchanged', () => {
    const plain = run(['detect', '--data', data, '--format', 'json', '--only', 'versioning-suspended,mass-delete']);
    const timed = run(['detect', '--data', data, '--format', 'json', '--only', 'versioning-suspended,mass-delete', '--timing']);
    expect(timed.code).toBe(0);
    expect(JSON.parse(timed.stdout)).toEqual(JSON.parse(plain.stdout));
    const lines = timed.stderr.trim().split('\n');
    expect(lines[0]).toMatch(/^timing: [\d,]+ ms \(CPU [\d,]+ ms\) in all; [\d,]+ ms \(CPU [\d,]+ ms\) to check the SQL and compute the relations coverage SQL shares and the candidate rows$/);
    expect(lines.slice(1).map((l) => /^ +([\d,]+) ms {2}([a-z-]+) \(SQL [\d,]+ ms, coverage [\d,]+ ms, CPU [\d,]+ ms; (\d+) findings?\)$/.exec(l)?.slice(2)).sort()).toEqual([['mass-delete', '1'], ['versioning-suspended', '1']]);
    const ms = lines.slice(1).map((l) => Number(/^ +([\d,]+)/.exec(l)?.[1]?.replaceAll(',', '')));
    expect(ms[0]).toBeGreaterThanOrEqual(ms[1] as number);
    expect(plain.stderr).toBe('');
  });

  it('exits 1 when a finding reaches --fail-on, 0 when none does', () => {
    expect(run(['detect', '--data', data, '--only', 'bucket-policy-public', '--fail-on', 'critical']).code).toBe(1);
    expect(run(['detect', '--data', data, '--only', 'sigv2-request', '--fail-on', 'high']).code).toBe(0);
  });

  it('takes parameters and a time window', () => {
    const strict = run(['detect', '--data', data, '--format', 'ndjson', '--only', 'presigned-url-long-expiry']).stdout.trim().split('\n');
    const lax = run(['detect', '--data', data, '--format', 'ndjson', '--only', 'presigned-url-long-expiry', '--param', 'max_expires_s=700000']).stdout.trim();
    expect(strict.length).toBeGreaterThan(0);
    expect(lax).toBe('');
    const day2 = run(['detect', '--data', data, '--format', 'ndjson', '--only', 'root-account-activity', '--since', '2025-03-11T08:00:30Z', '--until', '2025-03-12']).stdout.trim().split('\n');
    expect(day2.every((l) => (JSON.parse(l) as { event_time: string }).event_time >= '2025-03-11T08:00:30')).toBe(true);
  });

  it('refuses bad flags with a message and exit 2', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--only', 'no-such-detection'], /--only: unknown detection no-such-detection/],
      [['--param', 'nonsense'], /--param takes NAME=VALUE/],
      [['--param', 'max_expires_s=soon'], /--param max_expires_s \(presigned-url-long-expiry\) must be a number/],
      [['--param', 'no_such_param=1'], /--param no_such_param: no selected detection has that parameter/],
      [['--since', 'yesterday'], /--since must be an ISO 8601 date or time/],
      [['--format', 'xml'], /--format must be one of table, json, ndjson, csv, ocsf/],
      [['--fail-on', 'severe'], /--fail-on must be one of info, low, medium, high, critical/],
      [['--rules', join(tmp.dir, 'missing')], /cannot read the rules folder/],
    ];
    for (const [args, msg] of cases) {
      const r = run(['detect', '--data', data, ...args]);
      expect([args.join(' '), r.code]).toEqual([args.join(' '), 2]);
      expect(r.stderr).toMatch(msg);
    }
  });

  it('detections test --only with an unknown id: exit 2 naming it, no test run', () => {
    const r = run(['detections', 'test', '--only', 'no-such-id']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --only: unknown detection no-such-id/);
    expect(r.stdout).toBe('');
  });

  it('analyze checks its detection flags before it ingests: a typo commits nothing', () => {
    const fresh = join(tmp.dir, 'untouched');
    const log = new URL('access-logs/logs-archive/2025-03-12.log', SAMPLES).pathname;
    for (const [args, msg] of [[['--only', 'no-such-detection'], /--only: unknown detection/], [['--param', 'no_such_param=1'], /--param no_such_param/], [['--since', '2025-03-12', '--until', '2025-03-11'], /--since must be before --until/]] as const) {
      const r = run(['analyze', log, '--data', fresh, ...args]);
      expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(msg)]);
      expect(existsSync(fresh)).toBe(false);
    }
  });

  it('loads extra rules with --rules and refuses a broken one, naming the file', () => {
    const rules = join(tmp.dir, 'rules');
    mkdirSync(rules, { recursive: true });
    const src = readFileSync(new URL('../../query/detections/sigv2-request.yaml', import.meta.url), 'utf8');
    writeFileSync(join(rules, 'my-sigv2.yaml'), src.replace('id: sigv2-request', 'id: my-sigv2').replace('severity: low', 'severity: critical'));
    const ok = run(['detect', '--data', data, '--rules', rules, '--only', 'my-sigv2', '--format', 'ndjson']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('"detection_id":"my-sigv2","severity":"critical"');
    writeFileSync(join(rules, 'bad.yaml'), src.replace('id: sigv2-request', 'id: bad').replace('sources:', 'colour: red\nsources:'));
    const bad = run(['detect', '--data', data, '--rules', rules]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bad\.yaml: unknown key colour/);
  });
});

describe('s3sift query', () => {
  it('answers SQL as a table, JSON, NDJSON, CSV and Arrow', () => {
    const sql = "SELECT source, count(*) AS n, min(event_time) AS first FROM s3_requests GROUP BY source ORDER BY source";
    expect(run(['query', '--data', data, sql]).stdout).toMatch(/^source +n +first\n-+ +-+ +-+\naccess_log +216 +2019-03-14T09:10:11\.000Z\ncloudtrail +159 /);
    const json = JSON.parse(run(['query', '--data', data, '--format', 'json', sql]).stdout) as { columns: unknown[]; rows: Array<Record<string, unknown>> };
    expect(json.rows[0]).toEqual({ source: 'access_log', n: 216, first: '2019-03-14T09:10:11.000Z' });
    expect(run(['query', '--data', data, '--format', 'ndjson', sql]).stdout.split('\n')[1]).toMatch(/^\{"source":"cloudtrail","n":159,/);
    // DuckDB's CSV writer quotes a text column, its name too (docs/contract.md, CSV).
    expect(run(['query', '--data', data, '--format', 'csv', sql]).stdout.split('\n')[0]).toBe('"source",n,first');
    const arrow = tableFromIPC(run(['query', '--data', data, '--format', 'arrow', sql]).raw);
    expect(arrow.numRows).toBe(2);
    expect(arrow.getChild('n')?.toArray()).toEqual(Float64Array.from([216, 159]));
  });

  it('says what is wrong with bad SQL, exit 2', () => {
    const r = run(['query', '--data', data, 'SELECT nope FROM access_log']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: .*nope/);
    expect(run(['query', '--data', data]).code).toBe(2);
  });
});

describe('s3sift detections', () => {
  it('lists the library and shows one detection in full', () => {
    const list = run(['detections', 'list']);
    expect(list.stdout).toMatch(/\(50 detections\)/);
    const show = run(['detections', 'show', 'presigned-url-long-expiry']);
    expect(show.stdout).toContain('max_expires_s = 3600');
    expect(show.stdout).toContain('SELECT');
    expect(run(['detections', 'show', 'nope']).code).toBe(2);
  });

  it('runs the inline tests of the detections asked for, and only those', async () => {
    const r = run(['detections', 'test', '--only', 'sigv2-request,mass-delete']);
    expect(r.code).toBe(0);
    const asked = (await loadDetections()).filter((d) => d.id === 'sigv2-request' || d.id === 'mass-delete');
    const tests = asked.reduce((n, d) => n + d.tests.length, 0);
    expect(r.stdout).toContain(`\n${tests} passed, 0 failed, 2 detections`);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('ok   ')).map((l) => l.slice(5).split(' / ')[0]).sort()).toEqual([
      ...Array<string>(asked.find((d) => d.id === 'mass-delete')?.tests.length ?? 0).fill('mass-delete'),
      ...Array<string>(asked.find((d) => d.id === 'sigv2-request')?.tests.length ?? 0).fill('sigv2-request'),
    ]);
  });
});
