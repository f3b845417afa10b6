import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Finding } from '../../query/finding.js';
import { findEntry, findingCount, findingLastTime, loadState, mergeFindings, setStatus, statePath, updateState, type FindingsState } from '../../query/findings-state.js';
import { tempDir } from '../helpers/dataset.js';

const finding = (id: string, over: Partial<Finding> = {}): Finding => ({
  finding_id: id, detection_id: 'mass-delete', severity: 'high', title: 'Mass deletion', event_time: '2025-03-11T02:30:00.000Z', last_time: null, count: 1,
  sources: ['access_log'], source: 'access_log', bucket: 'prod-data', key: null, principal: 'arn:aws:iam::111122223333:user/ci', source_ip: '192.0.2.1',
  account_id: null, region: null, request_id: 'R1', event_id: null, source_file: 'f.log', source_line: 1, evidence: [], details: {},
  ...over,
});

const empty = (): FindingsState => ({ version: 1, findings: {} });
const T1 = new Date('2026-01-01T00:00:00Z');
const T2 = new Date('2026-01-02T00:00:00Z');

describe('findEntry', () => {
  it('knows only the recorded findings: __proto__, constructor and toString are no finding (and the status goes nowhere)', () => {
    const s = empty();
    mergeFindings(s, [finding('abcdef0123')], T1);
    for (const id of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) expect(() => findEntry(s, id)).toThrow(/no finding/);
    expect(findEntry(s, 'abcdef').finding_id).toBe('abcdef0123');
  });
});

describe('mergeFindings', () => {
  it('records a new finding as open, with run times and event times, and says it is fresh', () => {
    const s = empty();
    const m = mergeFindings(s, [finding('a')], T1);
    expect(m.fresh.map((f) => f.finding_id)).toEqual(['a']);
    expect(s.findings.a).toMatchObject({ status: 'open', first_seen: T1.toISOString(), last_seen: T1.toISOString(), first_event: '2025-03-11T02:30:00.000Z', last_event: '2025-03-11T02:30:00.000Z', count: 1, alerted_at: null });
  });

  it('a finding seen before is not fresh: last_seen and count move, first_seen stays', () => {
    const s = empty();
    mergeFindings(s, [finding('a')], T1);
    const m = mergeFindings(s, [finding('a', { count: 7, last_time: '2025-03-11T02:40:00.000Z' })], T2);
    expect(m).toEqual({ fresh: [], reopened: [] });
    expect(s.findings.a).toMatchObject({ first_seen: T1.toISOString(), last_seen: T2.toISOString(), count: 7, last_event: '2025-03-11T02:40:00.000Z' });
  });

  it('reopens a resolved finding only when it comes back with newer events; an acknowledged one stays acknowledged', () => {
    const s = empty();
    mergeFindings(s, [finding('a'), finding('b')], T1);
    Object.assign(s.findings.a as object, { status: 'resolved', alerted_at: T1.toISOString() });
    Object.assign(s.findings.b as object, { status: 'acknowledged' });
    // The same events again: still resolved.
    expect(mergeFindings(s, [finding('a')], T2).reopened).toEqual([]);
    expect(s.findings.a?.status).toBe('resolved');
    const later = { last_time: '2025-03-11T03:00:00.000Z', count: 3 } as Partial<Finding>;
    const m = mergeFindings(s, [finding('a', later), finding('b', later)], T2);
    expect(m.reopened.map((f) => f.finding_id)).toEqual(['a']);
    expect(s.findings.a).toMatchObject({ status: 'open', status_by: 's3sift', reopened: 1, alerted_at: null });
    expect(s.findings.b?.status).toBe('acknowledged');
  });

  it('reads count and last_time only when the finding has them', () => {
    expect(findingCount(finding('a'))).toBe(1);
    expect(findingCount(finding('a', { count: 4 }))).toBe(4);
    expect(findingLastTime(finding('a', { event_time: null }))).toBeNull();
    expect(findingLastTime(finding('a', { last_time: '2025-03-12T00:00:00.000Z' }))).toBe('2025-03-12T00:00:00.000Z');
  });
});

describe('the state file', () => {
  let tmp: { dir: string; cleanup: () => void };
  beforeEach(() => (tmp = tempDir()));
  afterEach(() => tmp.cleanup());

  it('finds a finding by its id or a unique prefix of 6+ characters; an unknown one is a usage error', () => {
    const s = empty();
    mergeFindings(s, [finding('abcdef123'), finding('abcdef456')], T1);
    expect(findEntry(s, 'abcdef123').finding_id).toBe('abcdef123');
    expect(findEntry(s, 'abcdef4').finding_id).toBe('abcdef456');
    expect(() => findEntry(s, 'abcdef')).toThrow(/ambiguous/);
    expect(() => findEntry(s, 'zzz')).toThrow(expect.objectContaining({ code: 'usage', message: expect.stringMatching(/no finding "zzz"/) }));
  });

  it('ack and resolve record who, why and when; the state is written owner-only', async () => {
    await updateState(tmp.dir, (s) => mergeFindings(s, [finding('abcdef123')], T1));
    const e = await setStatus(tmp.dir, 'abcdef', 'acknowledged', 'alice', 'known job', T2);
    expect(e).toMatchObject({ status: 'acknowledged', status_by: 'alice', status_reason: 'known job', status_at: T2.toISOString() });
    expect((await loadState(tmp.dir)).findings.abcdef123?.status).toBe('acknowledged');
    await expect(setStatus(tmp.dir, 'abcdef', 'resolved', 'bob', '  ')).rejects.toThrow(/--reason/);
    await expect(setStatus(tmp.dir, 'nope00', 'resolved', 'bob', 'x')).rejects.toThrow(/no finding/);
    const { statSync } = await import('node:fs');
    expect(statSync(statePath(tmp.dir)).mode & 0o777).toBe(0o600);
  });

  it('a write killed before its rename leaves the old state readable, and the next update removes its leftover', async () => {
    await updateState(tmp.dir, (s) => mergeFindings(s, [finding('a')], T1));
    const before = readFileSync(statePath(tmp.dir), 'utf8');
    // What a crash mid-write leaves: a half-written temporary file beside the state.
    writeFileSync(`${statePath(tmp.dir)}.tmp-99999`, before.slice(0, 40));
    expect(Object.keys((await loadState(tmp.dir)).findings)).toEqual(['a']);
    await updateState(tmp.dir, (s) => mergeFindings(s, [finding('b')], T2));
    expect(readdirSync(join(tmp.dir, 'findings'))).toEqual(['state.json']);
    expect(Object.keys((await loadState(tmp.dir)).findings).sort()).toEqual(['a', 'b']);
  });

  it('a process killed while it rewrites the state in a loop leaves a whole state behind', async () => {
    mkdirSync(join(tmp.dir, 'findings'));
    const mod = new URL('../../dist/query/findings-state.js', import.meta.url).href;
    const script = `
      const { updateState, mergeFindings } = await import(${JSON.stringify(mod)});
      const big = Array.from({ length: 3000 }, (_, i) => ({ finding_id: 'f' + i, detection_id: 'd', severity: 'low', title: 't'.repeat(200), event_time: null, source: null, bucket: null, key: null, principal: null, source_ip: null, request_id: null, event_id: null, source_file: null, source_line: null, details: {} }));
      for (let n = 0; ; n++) { await updateState(${JSON.stringify(tmp.dir)}, (s) => { mergeFindings(s, big.slice(0, 1000 + (n % 2000)), new Date()); }); if (n === 0) process.stdout.write('ready\\n'); }`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const s = await loadState(tmp.dir);
    expect(Object.keys(s.findings).length).toBeGreaterThanOrEqual(1000);
    // The lock the killed writer held is taken over (its process is gone).
    await updateState(tmp.dir, (st) => mergeFindings(st, [finding('after')], T2));
    expect(existsSync(statePath(tmp.dir))).toBe(true);
    expect((await loadState(tmp.dir)).findings.after).toBeDefined();
  });
});
