import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../../ingest/ingest.js';
import { resolveSources } from '../../ingest/sources.js';
import { SAMPLES, tempDir } from '../helpers/dataset.js';

const BIN = new URL('../../bin/s3sift', import.meta.url).pathname;
const SAMPLE_CONFIG = new URL('s3sift.yaml', SAMPLES).pathname;

function run(args: string[], cwd?: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { maxBuffer: 64 << 20, cwd });
  return { code: r.status, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') };
}

let tmp: { dir: string; cleanup: () => void };
let data: string;
/** Write a config file under the temporary folder; its path. */
const config = (name: string, text: string): string => {
  const p = join(tmp.dir, name);
  writeFileSync(p, text);
  return p;
};

beforeAll(async () => {
  tmp = tempDir();
  data = join(tmp.dir, 'data');
  await ingest([new URL('.', SAMPLES).pathname], { data, format: 'auto', force: false, strict: false });
});
afterAll(() => tmp.cleanup());

describe('s3sift detect --config', () => {
  it('on the samples with samples/s3sift.yaml: fewer findings, the suppressed counted under the first line and by rule at the end', () => {
    const plain = run(['detect', '--data', data]);
    const r = run(['detect', '--data', data, '--config', SAMPLE_CONFIG]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`config: ${SAMPLE_CONFIG} (1 own account, 1 trusted account, 1 param, 3 suppress rules)\n`);
    const count = (out: string): number => Number(/^(\d+) findings from/.exec(out)?.[1]);
    // 167 findings, 79 grouped; the rules and the trusted partner take about 45 of them.
    expect(count(r.stdout)).toBeLessThan(count(plain.stdout) - 40);
    expect(r.stdout.split('\n')[1]).toMatch(/^\d+ findings suppressed by 3 rules of .*s3sift\.yaml: see SUPPRESSED at the end$/);
    expect(r.stdout).toMatch(/\n== SUPPRESSED ==\n\n\d+ findings suppressed by 3 rules of .*; they are not in the counts above \(--show-suppressed lists them\):\n/);
    expect(r.stdout).toMatch(/suppress\[0\] \(.*s3sift\.yaml:\d+\) anonymous-access: 40 findings\n  reason: web-assets is the public website's image store/);
    // The probe of index.html is not an image read: still reported. The trusted partner is quiet; the intruder's account is not.
    expect(r.stdout).toMatch(/\[anonymous-access\] Successful unauthenticated request: 1 finding\n(.*\n)*.*index\.html {2}anonymous from 45\.146\.164\.110/);
    expect(r.stdout).not.toContain('[cross-account-access]');
    expect(r.stdout).toMatch(/\[bucket-policy-external-account\] .*: 1 finding\n(.*\n){2}.*external_accounts=\["999988887777"\]/);
  });

  it('--show-suppressed lists them with their rule and reason, in the report and in JSON', () => {
    const table = run(['detect', '--data', data, '--config', SAMPLE_CONFIG, '--only', 'log-delivery-acl-grant', '--show-suppressed']);
    expect(table.stdout).toMatch(/suppress\[2\] \(.*\) log-delivery-acl-grant: 1 finding\n  reason: logs-archive receives .*\n  - \[log-delivery-acl-grant\] 2025-03-10T07:45:00.000Z  logs-archive  arn:aws:iam::111122223333:user\/alice from 198\.51\.100\.7  at .*samples\/cloudtrail\/.*:9\n/);
    const json = JSON.parse(run(['detect', '--data', data, '--config', SAMPLE_CONFIG, '--only', 'log-delivery-acl-grant', '--format', 'json', '--show-suppressed']).stdout) as {
      findings: unknown[]; summary: { findings: number }; suppressed: { count: number; rules: Array<{ count: number }>; findings: Array<{ detection_id: string; suppressed_by: { rule: string; reason: string } }> };
    };
    expect(json.findings).toEqual([]);
    expect(json.summary.findings).toBe(0);
    expect(json.suppressed.count).toBe(1);
    expect(json.suppressed.rules.map((x) => x.count)).toEqual([1]);
    expect(json.suppressed.findings[0]).toMatchObject({ detection_id: 'log-delivery-acl-grant', suppressed_by: { rule: expect.stringMatching(/s3sift\.yaml:\d+:5$/), reason: expect.stringMatching(/^logs-archive receives/) } });
    // Without --show-suppressed JSON has the counts only.
    const counts = JSON.parse(run(['detect', '--data', data, '--config', SAMPLE_CONFIG, '--only', 'log-delivery-acl-grant', '--format', 'json']).stdout) as { suppressed: Record<string, unknown> };
    expect(Object.keys(counts.suppressed)).toEqual(['count', 'rules', 'expired']);
  });

  it('NDJSON, CSV and OCSF say on stderr how many were suppressed', () => {
    for (const format of ['ndjson', 'csv', 'ocsf']) {
      const r = run(['detect', '--data', data, '--config', SAMPLE_CONFIG, '--only', 'anonymous-access', '--format', format]);
      expect(r.stderr).toMatch(/\n40 findings suppressed by 1 rule of .*s3sift\.yaml; --format json --show-suppressed lists them\n$/);
    }
    const nd = run(['detect', '--data', data, '--config', SAMPLE_CONFIG, '--only', 'anonymous-access', '--format', 'ndjson']).stdout.trim().split('\n');
    expect(nd).toHaveLength(1);
  });

  it('--fail-on ignores suppressed findings', () => {
    const all = config('fail-on.yaml', 'suppress:\n  - detection: log-delivery-acl-grant\n    reason: expected\n');
    expect(run(['detect', '--data', data, '--only', 'log-delivery-acl-grant', '--fail-on', 'info']).code).toBe(1);
    expect(run(['detect', '--data', data, '--only', 'log-delivery-acl-grant', '--fail-on', 'info', '--config', all]).code).toBe(0);
  });

  it('an expired rule silences nothing and says so on stderr', () => {
    const old = config('expired.yaml', 'suppress:\n  - detection: log-delivery-acl-grant\n    reason: set-up week\n    until: 2025-01-31\n');
    const r = run(['detect', '--data', data, '--only', 'log-delivery-acl-grant', '--config', old, '--format', 'ndjson']);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`config: suppress[0] (${old}:2) expired on 2025-01-31: the findings it silenced are reported again (set-up week)\n`);
  });

  it('config params apply, --param flags win over them, and own accounts reach owner_accounts', () => {
    const lax = config('params.yaml', 'accounts:\n  own:\n    "111122223333": prod\nparams:\n  presigned-url-long-expiry: {max_expires_s: 604800}\n');
    const n = (args: string[]): number => run(['detect', '--data', data, '--only', 'presigned-url-long-expiry,cross-account-access', '--format', 'ndjson', '--ungrouped', ...args]).stdout.trim().split('\n').filter(Boolean)
      .filter((l) => l.includes('"presigned-url-long-expiry"')).length;
    // 4 requests, each logged by both sources: one finding each.
    expect(n([])).toBe(4);
    expect(n(['--config', lax])).toBe(0);
    expect(n(['--config', lax, '--param', 'max_expires_s=3600'])).toBe(4);
    const json = JSON.parse(run(['detect', '--data', data, '--only', 'cross-account-access', '--format', 'json', '--config', lax]).stdout) as { findings: Array<{ details: Record<string, unknown> }> };
    expect(json.findings[0]?.details).toMatchObject({ owner_accounts: ['111122223333'], owner_from: 'owner_accounts parameter' });
  });

  it('--param account lists take 12-digit IDs only, as the config does: `*` or a short ID is exit 2, not everyone or nobody trusted', () => {
    for (const v of ['*', '12345678901', '111122223333,*']) {
      const r = run(['detect', '--data', data, '--only', 'cross-account-access', '--param', `trusted_accounts=${v}`]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/--param trusted_accounts \(cross-account-access\): an AWS account ID is 12 digits/);
    }
    expect(run(['detect', '--data', data, '--only', 'cross-account-access', '--param', 'owner_accounts=111122223333,444455556666', '--format', 'ndjson']).code).toBe(0);
  });

  it('intel lists in the config are read relative to it, and --intel adds to them', () => {
    mkdirSync(join(tmp.dir, 'lists'), { recursive: true });
    writeFileSync(join(tmp.dir, 'lists', 'tor.txt'), '185.220.101.4\n');
    writeFileSync(join(tmp.dir, 'more.txt'), '52.94.133.131\n');
    const withIntel = config('intel.yaml', 'intel:\n  - lists/tor.txt\n');
    const ips = (args: string[]): string[] => [...new Set(run(['detect', '--data', data, '--only', 'threat-intel-address', '--format', 'ndjson', '--config', withIntel, ...args]).stdout.trim().split('\n')
      .filter(Boolean).map((l) => (JSON.parse(l) as { source_ip: string }).source_ip))].sort();
    expect(ips([])).toEqual(['185.220.101.4']);
    expect(ips(['--intel', join(tmp.dir, 'more.txt')])).toEqual(['185.220.101.4', '52.94.133.131']);
  });

  it('a bad config is exit 2 with file:line:col and key, before anything runs (analyze ingests nothing)', () => {
    const bad = config('bad.yaml', 'suppress:\n  - detection: mass-delete\n    reason: x\n    source_ip: 10.0.0.0/33\n');
    const r = run(['detect', '--data', data, '--config', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`error: ${bad}:4:16: suppress[0].source_ip: not an IPv4 or IPv6 address or CIDR (got "10.0.0.0/33"); e.g. 203.0.113.7, 10.0.0.0/8, 2001:db8::/32\n`);
    const fresh = join(tmp.dir, 'fresh');
    const a = run(['analyze', new URL('access-logs/', SAMPLES).pathname, '--data', fresh, '--config', config('bad2.yaml', 'params:\n  mass-delete: {min_deletes: many}\n')]);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/^error: .*bad2\.yaml:2:17: params\.mass-delete\.min_deletes: must be a number/);
    expect(existsSync(join(fresh, 'access_log'))).toBe(false);
    expect(run(['detect', '--data', data, '--config', join(tmp.dir, 'nope.yaml')]).stderr).toMatch(/^error: .*nope\.yaml: cannot read the config \(ENOENT\)\n$/);
  });

  it('without --config, reads ./s3sift.yaml, else the one in the --data folder', () => {
    const cwd = join(tmp.dir, 'cwd');
    mkdirSync(cwd);
    writeFileSync(join(cwd, 's3sift.yaml'), 'suppress:\n  - detection: log-delivery-acl-grant\n    reason: from the working folder\n');
    const here = run(['detect', '--data', data, '--only', 'log-delivery-acl-grant', '--format', 'json'], cwd);
    expect(here.stderr).toBe(`config: ${join(cwd, 's3sift.yaml')} (1 suppress rule)\n`);
    expect((JSON.parse(here.stdout) as { suppressed: { rules: Array<{ reason: string }> } }).suppressed.rules[0]?.reason).toBe('from the working folder');
    writeFileSync(join(data, 's3sift.yaml'), 'suppress:\n  - detection: log-delivery-acl-grant\n    reason: from the dataset\n');
    try {
      const inData = run(['detect', '--data', data, '--only', 'log-delivery-acl-grant', '--format', 'json'], tmp.dir);
      expect((JSON.parse(inData.stdout) as { suppressed: { rules: Array<{ reason: string }> } }).suppressed.rules[0]?.reason).toBe('from the dataset');
    } finally {
      writeFileSync(join(data, 's3sift.yaml'), '');
    }
  });
});

describe('ingest and s3sift.yaml', () => {
  it('passes over a file named s3sift.yaml in a folder, and says so; a folder of that name is read', async () => {
    const logs = join(tmp.dir, 'walk');
    mkdirSync(join(logs, 's3sift.yaml'), { recursive: true });
    writeFileSync(join(logs, 's3sift.yaml', 'x.log'), 'log\n');
    writeFileSync(join(logs, 'a.log'), 'log\n');
    mkdirSync(join(logs, 'sub'));
    writeFileSync(join(logs, 'sub', 's3sift.yaml'), 'log\n');
    const r = await resolveSources([logs], tmp.dir);
    expect(r.sources.map((s) => s.name)).toEqual([join(logs, 'a.log'), join(logs, 's3sift.yaml', 'x.log')]);
    expect(r.passedOver).toEqual([`${join(logs, 'sub', 's3sift.yaml')}: named s3sift.yaml, s3sift's config file: passed over, not read as a log`]);
  });
});
