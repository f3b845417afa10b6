import { describe, expect, it } from 'vitest';
import { toFindings } from '../../query/detect.js';
import { validateDetection, type Detection } from '../../query/detection.js';
import { findingId, groupMinutes, shapeFindings } from '../../query/finding-groups.js';
import type { Finding } from '../../query/finding.js';
import { attacksOf, ocsf } from '../../query/ocsf.js';
import { mergeFindings, type FindingsState } from '../../query/findings-state.js';
import { parseConfig } from '../../query/config.js';
import { suppressor } from '../../query/suppress.js';

/** A detection as a file would give it (per-record unless `aggregate`). */
function detection(extra: Record<string, unknown> = {}): Detection {
  return validateDetection({
    id: 'probe', title: 'Probe', description: 'A probe.', severity: 'medium', sources: ['access_log', 'cloudtrail'],
    sql: 'SELECT * FROM s3_requests', tests: [{ name: 'fires', records: [{ base: 'access-log' }], expect: 1 }, { name: 'quiet', records: [{ base: 'access-log' }], expect: 0 }],
    ...extra,
  }, `/rules/${String(extra.id ?? 'probe')}.yaml`);
}

const COLUMNS = ['event_time', 'source', 'bucket', 'key', 'principal', 'source_ip', 'account_id', 'region', 'request_id', 'event_id', 'source_file', 'source_line', 'operation', 'severity'];
type Row = Partial<Record<(typeof COLUMNS)[number], unknown>>;

/** A detection's rows as toFindings turns them into one finding each. */
function rows(d: Detection, rs: Row[]): Finding[] {
  const base: Row = { source: 'access_log', bucket: 'b1', key: 'k', principal: 'arn:aws:iam::111122223333:user/alice', source_ip: '192.0.2.1', source_file: 'f.log' };
  return toFindings(d, { columns: COLUMNS.map((name) => ({ name, type: 'VARCHAR' })), rows: rs.map((r, i) => ({ ...base, source_line: i + 1, ...r })) });
}

const t = (hhmm: string): string => `2025-03-10T${hhmm}:00.000Z`;

describe('finding_id', () => {
  it('is 20 hex digits from the detection and what the finding is about, not from the order of rows', () => {
    const d = detection();
    const fs = rows(d, [{ event_time: t('08:00'), request_id: 'R1' }, { event_time: t('08:01'), request_id: 'R2' }]);
    const again = rows(d, [{ event_time: t('08:01'), request_id: 'R2' }, { event_time: t('08:00'), request_id: 'R1' }]);
    expect(fs.map((f) => f.finding_id).sort()).toEqual(again.map((f) => f.finding_id).sort());
    expect(fs[0]?.finding_id).toMatch(/^[0-9a-f]{20}$/);
    expect(fs[0]?.finding_id).toBe(findingId('probe', ['request', 'R1']));
    // Another detection, the same request: another finding.
    expect(rows(detection({ id: 'other' }), [{ event_time: t('08:00'), request_id: 'R1' }])[0]?.finding_id).not.toBe(fs[0]?.finding_id);
  });

  it('of an event without request ID is its event ID, else its time, bucket, key, principal and address', () => {
    const d = detection();
    const [byEvent, byRecord, sameRecordOtherFile] = rows(d, [{ event_time: t('08:00'), event_id: 'E1' }, { event_time: t('08:00') }, { event_time: t('08:00'), source_file: 'g.log' }]);
    expect(byEvent?.finding_id).toBe(findingId('probe', ['event', 'E1']));
    // (The file is where a copy of the log sits, not what happened: the same record in another file is the same finding.)
    expect(byRecord?.finding_id).toBe(sameRecordOtherFile?.finding_id);
  });

  it('differs for two rows of one source that share a request ID (the detection told them apart), and stays the same across runs', () => {
    const d = detection();
    const twice = (): Finding[] => shapeFindings(d, rows(d, [{ event_time: t('08:00'), request_id: 'R1', key: 'a' }, { event_time: t('08:00'), request_id: 'R1', key: 'b' }]), 0);
    const [a, b] = twice();
    expect(a?.finding_id).not.toBe(b?.finding_id);
    expect(twice().map((f) => f.finding_id)).toEqual([a?.finding_id, b?.finding_id]);
  });
});

describe('one request, one finding', () => {
  it('a request both sources logged is one finding: CloudTrail fields first, NULLs filled from the access log, both sources, evidence of both', () => {
    const d = detection();
    const fs = shapeFindings(d, rows(d, [
      { event_time: t('08:00'), request_id: 'R1', source: 'access_log', source_ip: '192.0.2.1', operation: 'GetObject' },
      { event_time: t('08:00'), request_id: 'R1', source: 'cloudtrail', source_ip: null, event_id: 'E1', account_id: '111122223333', region: 'eu-west-1', source_file: 'trail.json' },
      { event_time: t('08:05'), request_id: 'R2', source: 'access_log' },
    ]), 0);
    expect(fs).toHaveLength(2);
    const [both, one] = fs as [Finding, Finding];
    expect(both).toMatchObject({
      sources: ['access_log', 'cloudtrail'], source: 'cloudtrail', event_id: 'E1', account_id: '111122223333', region: 'eu-west-1', source_ip: '192.0.2.1',
      count: 1, source_file: 'trail.json', details: { operation: 'GetObject' }, finding_id: findingId('probe', ['request', 'R1']),
    });
    expect(both.evidence.map((e) => e.source)).toEqual(['access_log', 'cloudtrail']);
    expect(one).toMatchObject({ sources: ['access_log'], count: 1, request_id: 'R2' });
  });

  it('is one event: its last_time is its time, so the second source logging it a second later does not reopen it once resolved', () => {
    const d = detection();
    const al = { event_time: t('08:00'), request_id: 'R1', source: 'access_log' };
    const ct = { event_time: '2025-03-10T08:00:01.000Z', request_id: 'R1', source: 'cloudtrail', event_id: 'E1' };
    for (const minutes of [0, 60]) {
      const state: FindingsState = { version: 1, findings: {} };
      const [first] = shapeFindings(d, rows(d, [al]), minutes);
      mergeFindings(state, [first as Finding], new Date('2026-01-01T00:00:00Z'));
      Object.assign(state.findings[(first as Finding).finding_id] as object, { status: 'resolved' });
      const [both] = shapeFindings(d, rows(d, [al, ct]), minutes);
      expect(both).toMatchObject({ finding_id: first?.finding_id, count: 1, event_time: t('08:00'), last_time: t('08:00') });
      expect(mergeFindings(state, [both as Finding], new Date('2026-01-02T00:00:00Z')).reopened).toEqual([]);
    }
  });

  it('one record delivered twice (an organization trail and an account trail, one event ID in two files) is one event: one finding, count 1', () => {
    const d = detection();
    const al = { event_time: t('08:00'), request_id: 'R1', source: 'access_log' };
    const ct = { event_time: t('08:00'), request_id: 'R1', source: 'cloudtrail', event_id: 'E1', source_file: 'org-trail.json' };
    const twice = rows(d, [al, ct, { ...ct, source_file: 'account-trail.json' }]);
    const [one, ...rest] = shapeFindings(d, twice, 0);
    expect(rest).toEqual([]);
    expect(one).toMatchObject({ finding_id: findingId('probe', ['request', 'R1']), sources: ['access_log', 'cloudtrail'], count: 1 });
    expect(shapeFindings(d, twice, 60).map((f) => f.count)).toEqual([1]);
    // Two rows the detection tells apart (another key) stay two.
    expect(shapeFindings(d, rows(d, [ct, { ...ct, key: 'other' }]), 0)).toHaveLength(2);
  });

  it('takes the higher severity of the two records', () => {
    const d = detection();
    const [ct, al] = rows(d, [{ event_time: t('08:00'), request_id: 'R1', source: 'cloudtrail' }, { event_time: t('08:00'), request_id: 'R1', source: 'access_log' }]) as [Finding, Finding];
    const [f] = shapeFindings(d, [ct, { ...al, severity: 'high' }], 0);
    expect(f?.severity).toBe('high');
  });

  it('keeps apart records of one request ID that name different buckets (a copy: the source bucket\'s COPY.OBJECT_GET and the destination\'s CopyObject)', () => {
    const d = detection();
    const fs = shapeFindings(d, rows(d, [
      { event_time: t('08:00'), request_id: 'R1', source: 'access_log', bucket: 'source-bucket', key: 'secret.csv' },
      { event_time: t('08:00'), request_id: 'R1', source: 'cloudtrail', bucket: 'dest-bucket', key: 'copy.csv', event_id: 'E1' },
    ]), 0);
    expect(fs.map((f) => f.bucket).sort()).toEqual(['dest-bucket', 'source-bucket']);
    expect(new Set(fs.map((f) => f.finding_id)).size).toBe(2);
  });
});

describe('grouping', () => {
  const d = detection();
  const shaped = (rs: Row[], minutes = 60): Finding[] => shapeFindings(d, rows(d, rs), minutes);

  it('makes one finding of one principal on one bucket within the window: count, first and last time, first 5 events as evidence', () => {
    const fs = shaped(['08:10', '08:00', '08:59', '08:30', '08:20', '08:40'].map((hhmm, i) => ({ event_time: t(hhmm), request_id: `R${i}`, key: `k${i}` })));
    expect(fs).toHaveLength(1);
    const [g] = fs as [Finding];
    expect(g).toMatchObject({ count: 6, event_time: t('08:00'), last_time: t('08:59'), request_id: 'R1', key: 'k1', sources: ['access_log'] });
    expect(g.evidence.map((e) => e.event_time)).toEqual([t('08:00'), t('08:10'), t('08:20'), t('08:30'), t('08:40')]);
    expect(g.finding_id).toBe(findingId('probe', ['group', 60, t('08:00'), 'arn:aws:iam::111122223333:user/alice', null, 'b1', 'medium']));
  });

  it('keeps apart another bucket, another principal, another severity and the next window (aligned to the clock)', () => {
    const fs = shaped([
      { event_time: t('08:00'), request_id: 'R1' },
      { event_time: t('08:30'), request_id: 'R2', bucket: 'b2' },
      { event_time: t('08:31'), request_id: 'R3', principal: 'arn:aws:iam::111122223333:user/bob' },
      { event_time: t('08:59'), request_id: 'R4' },
      { event_time: t('09:00'), request_id: 'R5' },
      { event_time: t('08:15'), request_id: 'R6', severity: 'high' },
    ]);
    expect(fs.map((f) => [f.bucket, f.principal?.split('/')[1], f.count, f.event_time])).toEqual([
      ['b1', 'alice', 2, t('08:00')], ['b2', 'alice', 1, t('08:30')], ['b1', 'bob', 1, t('08:31')], ['b1', 'alice', 1, t('09:00')], ['b1', 'alice', 1, t('08:15')],
    ]);
  });

  it('groups anonymous requests by address, and leaves a finding without a time alone', () => {
    const fs = shaped([
      { event_time: t('08:00'), request_id: 'R1', principal: null, source_ip: '198.51.100.1' },
      { event_time: t('08:01'), request_id: 'R2', principal: null, source_ip: '198.51.100.1' },
      { event_time: t('08:02'), request_id: 'R3', principal: null, source_ip: '198.51.100.2' },
      { event_time: null, request_id: 'R4' },
    ]);
    expect(fs.map((f) => [f.source_ip, f.count])).toEqual([['198.51.100.1', 2], ['198.51.100.2', 1], ['192.0.2.1', 1]]);
  });

  it('does not hide what differs inside a group: a detail with several values is the list of them (root read, then deleted a bucket policy)', () => {
    const d = detection();
    const ops = ['GetBucketVersioning', 'PutBucketVersioning', 'DeleteBucketPolicy', 'GetBucketVersioning'];
    const [g, ...rest] = shapeFindings(d, rows(d, ops.map((operation, i) => ({ event_time: t(`08:0${i}`), request_id: `R${i}`, operation }))), 60);
    expect(rest).toEqual([]);
    expect(g?.count).toBe(4);
    expect(g?.details.operation).toEqual(['GetBucketVersioning', 'PutBucketVersioning', 'DeleteBucketPolicy']);
    // One value throughout stays a value; past 10 values, the first 10 and how many more.
    const many = shapeFindings(d, rows(d, Array.from({ length: 12 }, (_, i) => ({ event_time: t(`08:${String(i).padStart(2, '0')}`), request_id: `V${i}`, operation: i < 12 ? `Op${i}` : 'x' }))), 60);
    expect(many[0]?.details.operation).toEqual([...Array.from({ length: 10 }, (_, i) => `Op${i}`), '(and 2 more values)']);
    const same = shapeFindings(d, rows(d, [{ event_time: t('08:00'), request_id: 'S1', operation: 'GetObject' }, { event_time: t('08:01'), request_id: 'S2', operation: 'GetObject' }]), 60);
    expect(same[0]?.details.operation).toBe('GetObject');
  });

  it('does not hide a second address of one principal in a group: details.source_ips lists them', () => {
    const d = detection();
    const [g] = shapeFindings(d, rows(d, [
      { event_time: t('08:00'), request_id: 'A1', source_ip: '192.0.2.1' },
      { event_time: t('08:10'), request_id: 'A2', source_ip: '203.0.113.66' },
      { event_time: t('08:20'), request_id: 'A3', source_ip: '192.0.2.1' },
    ]), 60);
    expect(g).toMatchObject({ count: 3, source_ip: '192.0.2.1' });
    expect(g?.details.source_ips).toEqual(['192.0.2.1', '203.0.113.66']);
    const [one] = shapeFindings(d, rows(d, [{ event_time: t('08:00'), request_id: 'B1' }, { event_time: t('08:10'), request_id: 'B2' }]), 60);
    expect(one?.details).not.toHaveProperty('source_ips');
  });

  it('gives a group the same ID when a later run sees more of its window', () => {
    const early = shaped([{ event_time: t('08:10'), request_id: 'R1' }]);
    const later = shaped([{ event_time: t('08:10'), request_id: 'R1' }, { event_time: t('08:05'), request_id: 'R0' }, { event_time: t('08:50'), request_id: 'R2' }]);
    expect(later).toHaveLength(1);
    expect(later[0]?.finding_id).toBe(early[0]?.finding_id);
    expect(later[0]?.count).toBe(3);
  });

  it('counts a request both sources logged once in its group', () => {
    const fs = shaped([
      { event_time: t('08:00'), request_id: 'R1', source: 'access_log' }, { event_time: t('08:00'), request_id: 'R1', source: 'cloudtrail' },
      { event_time: t('08:10'), request_id: 'R2', source: 'access_log' },
    ]);
    expect(fs.map((f) => [f.count, f.sources, f.evidence.length])).toEqual([[2, ['access_log', 'cloudtrail'], 3]]);
  });

  it('window 0 (or --ungrouped) is one finding per event; a detection that aggregates in its SQL is never regrouped', () => {
    const rs = [{ event_time: t('08:00'), request_id: 'R1' }, { event_time: t('08:01'), request_id: 'R2' }];
    expect(shaped(rs, 0)).toHaveLength(2);
    expect(groupMinutes(d, { group_minutes: 60 }, true)).toBe(0);
    expect(groupMinutes(d, { group_minutes: 15 })).toBe(15);
    expect(groupMinutes(d, { group_minutes: 0 })).toBe(0);
    const agg = detection({ aggregate: true });
    expect(groupMinutes(agg, {})).toBe(0);
    const fs = shapeFindings(agg, rows(agg, rs), groupMinutes(agg, {}));
    expect(fs.map((f) => f.count)).toEqual([1, 1]);
    expect(new Set(fs.map((f) => f.finding_id)).size).toBe(2);
  });
});

describe('group_minutes and aggregate in a detection file', () => {
  it('every per-record detection has group_minutes (default 60); one that aggregates has none', () => {
    expect(detection().params.group_minutes?.default).toBe(60);
    expect(detection({ params: { group_minutes: { default: 15, description: 'a quarter' } } }).params.group_minutes?.default).toBe(15);
    expect(detection({ aggregate: true }).params.group_minutes).toBeUndefined();
  });

  it('aggregate may name the columns of its count and last time: the finding takes them, details keep them', () => {
    const d = detection({ aggregate: { count: 'requests', last_time: 'last_read' } });
    expect([d.aggregate, d.aggregateColumns, d.params.group_minutes]).toEqual([true, { count: 'requests', last_time: 'last_read' }, undefined]);
    const rows = { columns: ['event_time', 'bucket', 'requests', 'last_read'].map((name) => ({ name, type: 'VARCHAR' })), rows: [{ event_time: t('08:00'), bucket: 'b', requests: 12, last_read: t('08:44') }] };
    expect(toFindings(d, rows)[0]).toMatchObject({ count: 12, event_time: t('08:00'), last_time: t('08:44'), details: { requests: 12, last_read: t('08:44') } });
    const missing = detection({ aggregate: { count: 'calls' } });
    expect(() => toFindings(missing, rows)).toThrow(/probe\.yaml: aggregate count names the column calls, which the SQL does not select/);
    expect(() => detection({ aggregate: { total: 'requests' } })).toThrow(/aggregate: unknown key total/);
  });

  it('refuses aggregate that is not true or false, and group_minutes on a detection that aggregates or in its SQL', () => {
    expect(() => detection({ aggregate: 'yes' })).toThrow(/probe\.yaml: aggregate must be true/);
    expect(() => detection({ aggregate: true, params: { group_minutes: { default: 15, description: 'x' } } })).toThrow(/param group_minutes: the runner's grouping window/);
    expect(() => detection({ sql: 'SELECT * FROM s3_requests WHERE $group_minutes > 0', params: { group_minutes: { default: 15, description: 'x' } } })).toThrow(/its SQL may not read it/);
  });
});

describe('OCSF', () => {
  it('maps ATT&CK tags into attacks[]: techniques with the tactics they belong to, sub-techniques under their technique', () => {
    expect(attacksOf(['attack.exfiltration', 'attack.t1530', 'attack.collection', 'attack.t1562.008', 'attack.defense_evasion', 'cloud'])).toEqual([
      { technique: { uid: 'T1530', name: 'Data from Cloud Storage' }, tactic: { uid: 'TA0009', name: 'Collection' } },
      { technique: { uid: 'T1562', name: 'Impair Defenses' }, sub_technique: { uid: 'T1562.008', name: 'Disable or Modify Cloud Logs' }, tactic: { uid: 'TA0005', name: 'Defense Evasion' } },
      { tactic: { uid: 'TA0010', name: 'Exfiltration' } },
    ]);
    expect(attacksOf(['attack.t9999', 'attack.initial-access'])).toEqual([{ technique: { uid: 'T9999' }, tactic: { uid: 'TA0001', name: 'Initial Access' } }]);
  });

  it('gives the finding ID as finding_info.uid, its count, times, account and Region, and its evidence', () => {
    const d = detection({ tags: ['attack.t1530', 'attack.collection'] });
    const [f] = shapeFindings(d, rows(d, [
      { event_time: t('08:00'), request_id: 'R1', source: 'cloudtrail', account_id: '111122223333', region: 'eu-west-1' },
      { event_time: t('08:20'), request_id: 'R2', source: 'cloudtrail', account_id: '111122223333', region: 'eu-west-1' },
    ]), 60) as [Finding];
    const o = ocsf(f, d, '0.0.0') as { evidences: Array<{ data: { request_id: string } }> };
    expect(o).toMatchObject({
      count: 2, start_time: Date.parse(t('08:00')), end_time: Date.parse(t('08:20')),
      finding_info: { uid: f.finding_id, first_seen_time: Date.parse(t('08:00')), last_seen_time: Date.parse(t('08:20')) },
      cloud: { provider: 'AWS', account: { uid: '111122223333' }, region: 'eu-west-1' },
      attacks: [{ technique: { uid: 'T1530' }, tactic: { uid: 'TA0009' } }],
    });
    expect(o.evidences.map((e) => e.data.request_id)).toEqual(['R1', 'R2']);
  });
});

describe('suppress rules judge events, not groups', () => {
  const rule = (lines: string): ReturnType<typeof parseConfig>['suppress'] => parseConfig(`suppress:\n  - reason: test\n${lines.split('\n').map((l) => `    ${l}`).join('\n')}\n`, 's3sift.yaml').suppress;

  it("keeps the events a rule does not match, though the group's first event matches it (a probe among an allowed prefix's reads)", () => {
    const d = detection();
    const fs = rows(d, [
      { event_time: t('08:00'), key: 'img/a.png', request_id: 'R1' },
      { event_time: t('08:05'), key: 'admin/.env', request_id: 'R2' },
      { event_time: t('08:10'), key: 'img/b.png', request_id: 'R3' },
    ]);
    const s = suppressor(rule('detection: probe\nkey: "img/*"'));
    const out = shapeFindings(d, fs, 60, s.filter);
    expect(out.map((f) => [f.key, f.count])).toEqual([['admin/.env', 1]]);
    expect(s.suppression.suppressed.map((x) => x.finding.key)).toEqual(['img/a.png', 'img/b.png']);
    // Without the rule, the three are one group that starts with an image.
    expect(shapeFindings(d, fs, 60).map((f) => [f.key, f.count])).toEqual([['img/a.png', 3]]);
  });

  it('judges a request both sources logged once, after the merge, and the rows of a detection that aggregates as they are', () => {
    const d = detection();
    const fs = rows(d, [
      { event_time: t('08:00'), source: 'cloudtrail', key: 'img/a.png', request_id: 'R1' },
      { event_time: t('08:00'), source: 'access_log', key: 'img/a.png', request_id: 'R1' },
    ]);
    const s = suppressor(rule('detection: probe\nkey: "img/*"'));
    expect(shapeFindings(d, fs, 60, s.filter)).toEqual([]);
    expect(s.suppression.suppressed.map((x) => x.finding.sources)).toEqual([['access_log', 'cloudtrail']]);
    const agg = detection({ aggregate: true });
    const s2 = suppressor(rule('detection: probe\nbucket: b1'));
    expect(shapeFindings(agg, rows(agg, [{ event_time: t('08:00') }, { event_time: t('08:01'), bucket: 'b2' }]), 0, s2.filter).map((f) => f.bucket)).toEqual(['b2']);
  });
});
