import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLES, tempDir } from '../helpers/dataset.js';

const BIN = new URL('../../bin/s3sift', import.meta.url).pathname;
const ONLY = ['--only', 'mass-delete,versioning-suspended,permanent-delete-without-mfa'];

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { maxBuffer: 64 << 20 });
  return { code: r.status, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') };
}
const lines = (text: string): Array<Record<string, unknown>> => text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

let tmp: { dir: string; cleanup: () => void };
let data: string;
beforeAll(() => {
  tmp = tempDir();
  data = join(tmp.dir, 'data');
  expect(run(['ingest', new URL('.', SAMPLES).pathname, '--data', data]).code).toBe(0);
});
afterAll(() => tmp.cleanup());

describe('detect records findings; --new prints only those not seen before', () => {
  it('the first --new run prints every finding, a second prints nothing', () => {
    const first = run(['detect', '--data', data, '--new', '--format', 'ndjson', ...ONLY]);
    expect(first.code).toBe(0);
    expect(lines(first.stdout).length).toBeGreaterThan(1);
    const all = run(['detect', '--data', data, '--format', 'ndjson', ...ONLY]);
    expect(lines(all.stdout)).toHaveLength(lines(first.stdout).length);
    const second = run(['detect', '--data', data, '--new', '--format', 'ndjson', ...ONLY]);
    expect(second.code).toBe(0);
    expect(second.stdout).toBe('');
    // The report says so too.
    expect(run(['detect', '--data', data, '--new', ...ONLY]).stdout).toMatch(/^0 findings|no findings|0 finding/im);
  });

  it('findings list shows them open; ack and resolve record who and why; unknown ids and a missing --reason exit 2', () => {
    const listed = lines(run(['findings', 'list', '--data', data, '--format', 'ndjson']).stdout);
    expect(listed.length).toBeGreaterThan(1);
    expect(new Set(listed.map((e) => e.status))).toEqual(new Set(['open']));
    const [a, b] = listed as [Record<string, unknown>, Record<string, unknown>];
    const ack = run(['findings', 'ack', String(a.finding_id), '--data', data, '--reason', 'known backup job']);
    expect(ack.code).toBe(0);
    expect(ack.stdout).toContain(`${String(a.finding_id)} acknowledged by ${userInfo().username}`);
    expect(run(['findings', 'resolve', String(b.finding_id).slice(0, 12), '--data', data, '--reason', 'policy fixed', '--by', 'alice']).code).toBe(0);
    const after = lines(run(['findings', 'list', '--data', data, '--format', 'ndjson']).stdout);
    expect(after.find((e) => e.finding_id === a.finding_id)).toMatchObject({ status: 'acknowledged', status_by: userInfo().username, status_reason: 'known backup job' });
    expect(after.find((e) => e.finding_id === b.finding_id)).toMatchObject({ status: 'resolved', status_by: 'alice', status_reason: 'policy fixed' });
    const resolved = lines(run(['findings', 'list', '--data', data, '--status', 'resolved', '--format', 'ndjson']).stdout);
    expect(resolved.map((e) => e.finding_id)).toEqual([b.finding_id]);
    expect(run(['findings', 'list', '--data', data, '--status', 'acknowledged']).stdout).toMatch(/acknowledged +high|acknowledged/);

    const unknown = run(['findings', 'ack', 'ffffffffffff', '--data', data, '--reason', 'x']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no finding "ffffffffffff"/);
    const noReason = run(['findings', 'resolve', String(a.finding_id), '--data', data]);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toMatch(/--reason/);
    // Still resolved and not new: a run over the same events does not reopen it.
    expect(run(['detect', '--data', data, '--new', '--format', 'ndjson', ...ONLY]).stdout).toBe('');
  });

  it('a run grouped otherwise than configured is not recorded (its IDs differ), and --new refuses it', () => {
    const fresh = join(tmp.dir, 'regrouped');
    expect(run(['ingest', new URL('.', SAMPLES).pathname, '--data', fresh]).code).toBe(0);
    for (const regroup of [['--ungrouped'], ['--param', 'group_minutes=30'], ['--param', 'permanent-delete-without-mfa.group_minutes=0']]) {
      const r = run(['detect', '--data', fresh, '--format', 'ndjson', ...ONLY, ...regroup]);
      expect(r.code).toBe(0);
      expect(lines(r.stdout).length).toBeGreaterThan(0);
      expect(run(['findings', 'list', '--data', fresh, '--format', 'ndjson']).stdout).toBe('');
      const refused = run(['detect', '--data', fresh, '--new', ...ONLY, ...regroup]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/--new compares with the findings state, which holds findings grouped as configured/);
    }
    // The configured grouping is recorded, and a later --new sees nothing new.
    expect(run(['detect', '--data', fresh, '--format', 'ndjson', ...ONLY]).code).toBe(0);
    expect(lines(run(['findings', 'list', '--data', fresh, '--format', 'ndjson']).stdout).length).toBeGreaterThan(0);
    expect(run(['detect', '--data', fresh, '--new', '--format', 'ndjson', ...ONLY]).stdout).toBe('');
  });

  it('a dataset whose state cannot be written does not fail detect: one line says so', () => {
    const ro = join(tmp.dir, 'ro');
    expect(run(['ingest', new URL('.', SAMPLES).pathname, '--data', ro]).code).toBe(0);
    // (Tests may run as root, which writes through file modes: a file where the state's folder goes stands in for a read-only folder.)
    rmSync(join(ro, 'findings'), { recursive: true, force: true });
    writeFileSync(join(ro, 'findings'), '');
    const r = run(['detect', '--data', ro, '--format', 'ndjson', ...ONLY]);
    expect(r.code).toBe(0);
    expect(lines(r.stdout).length).toBeGreaterThan(1);
    expect(r.stderr).toMatch(/warning: could not record the findings in the findings state of .*ro/);
    rmSync(join(ro, 'findings'));
    mkdirSync(join(ro, 'findings'));
  });
});
