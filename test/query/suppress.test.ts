import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../query/config.js';
import type { Finding } from '../../query/finding.js';
import { formatFindings } from '../../query/format.js';
import { runsAfter, suppressFindings, suppressionJson, suppressionLine, suppressionSection } from '../../query/suppress.js';

/** A finding with the fields that differ. */
function finding(over: Partial<Finding> = {}): Finding {
  return {
    finding_id: 'f1', detection_id: 'anonymous-access', severity: 'low', title: 'Successful unauthenticated request', event_time: '2025-03-10T06:00:00.000Z', last_time: null, count: 1,
    sources: ['access_log'], source: 'access_log', bucket: 'web-assets', key: 'img/banner-0.png', principal: null, source_ip: '203.0.113.100', account_id: null, region: null,
    request_id: 'R1', event_id: null, source_file: 'samples/access-logs/web-assets/2025-03-10.log', source_line: 1, evidence: [], details: { operation: 'GetObject', user_agent: 'Mozilla/5.0' }, ...over,
  };
}

/** The rules of one `suppress:` rule written as YAML lines (without the reason). */
const rules = (lines: string): ReturnType<typeof parseConfig>['suppress'] => parseConfig(`suppress:\n  - reason: test\n${lines.split('\n').map((l) => `    ${l}`).join('\n')}\n`, 's3sift.yaml').suppress;

/** True when the one rule silences `f`. */
const silences = (lines: string, f: Finding, now?: Date): boolean => suppressFindings([f], rules(lines), now).suppression.suppressed.length === 1;

describe('suppression rules: each field', () => {
  it('detection: an id, a list, or * (with a field)', () => {
    expect(silences('detection: anonymous-access', finding())).toBe(true);
    expect(silences('detection: mass-delete', finding())).toBe(false);
    expect(silences('detection: [mass-delete, anonymous-access]', finding())).toBe(true);
    expect(silences('detection: "*"\nbucket: web-assets', finding())).toBe(true);
  });

  it('bucket: a glob; a finding without a bucket never matches one', () => {
    expect(silences('detection: "*"\nbucket: web-*', finding())).toBe(true);
    expect(silences('detection: "*"\nbucket: web', finding())).toBe(false);
    expect(silences('detection: "*"\nbucket: "*"', finding({ bucket: null }))).toBe(false);
  });

  it('key: exact, a prefix written with *, or a glob', () => {
    expect(silences('detection: "*"\nkey: img/banner-0.png', finding())).toBe(true);
    expect(silences('detection: "*"\nkey: img/*', finding())).toBe(true);
    expect(silences('detection: "*"\nkey: img/', finding())).toBe(false);
    expect(silences('detection: "*"\nkey: "*/banner-?.png"', finding())).toBe(true);
    expect(silences('detection: "*"\nkey: img/*', finding({ key: 'index.html' }))).toBe(false);
  });

  it('principal: a glob over the ARN', () => {
    const etl = finding({ principal: 'arn:aws:sts::111122223333:assumed-role/etl-role/i-0a1b2c3d4e5f67890' });
    expect(silences('detection: "*"\nprincipal: "arn:aws:sts::111122223333:assumed-role/etl-role/*"', etl)).toBe(true);
    expect(silences('detection: "*"\nprincipal: "arn:aws:sts::111122223333:assumed-role/etl-role/*"', finding({ principal: 'arn:aws:sts::111122223333:assumed-role/etl-role-admin/x' }))).toBe(false);
    expect(silences('detection: "*"\nprincipal: "*"', finding({ principal: null }))).toBe(false);
  });

  it('operation: a glob over details.operation, so that a rule for reads does not silence writes; a finding without one never matches', () => {
    const put = finding({ details: { operation: 'PutObject', user_agent: 'curl/8.0' } });
    expect(silences('detection: anonymous-access\nkey: img/*\noperation: [GetObject, HeadObject]', finding())).toBe(true);
    expect(silences('detection: anonymous-access\nkey: img/*\noperation: [GetObject, HeadObject]', put)).toBe(false);
    expect(silences('detection: "*"\noperation: "Get*"', finding({ details: {} }))).toBe(false);
  });

  it('a reason written on several lines (|) is one line in the report, not \\u000a escapes', () => {
    const r = parseConfig('suppress:\n  - detection: anonymous-access\n    reason: |\n      the website\n      images\n', 's3sift.yaml').suppress;
    expect(r[0]?.reason).toBe('the website images');
  });

  it('source_ip: an address or a CIDR, IPv4 and IPv6; a malformed address in the log never matches', () => {
    expect(silences('detection: "*"\nsource_ip: 203.0.113.100', finding())).toBe(true);
    expect(silences('detection: "*"\nsource_ip: 203.0.113.0/24', finding())).toBe(true);
    expect(silences('detection: "*"\nsource_ip: 203.0.114.0/24', finding())).toBe(false);
    expect(silences('detection: "*"\nsource_ip: ["10.0.0.0/8", "2001:db8::/32"]', finding({ source_ip: '2001:db8:85a3::8a2e:370:7334' }))).toBe(true);
    expect(silences('detection: "*"\nsource_ip: "2001:db8::/32"', finding({ source_ip: '2001:db9::1' }))).toBe(false);
    expect(silences('detection: "*"\nsource_ip: 0.0.0.0/0', finding({ source_ip: '203.0.113.100/evil' }))).toBe(false);
    expect(silences('detection: "*"\nsource_ip: 0.0.0.0/0', finding({ source_ip: null }))).toBe(false);
  });

  it("user_agent: a glob over details.user_agent (CloudTrail's [brackets] included); a finding without one never matches", () => {
    expect(silences('detection: "*"\nuser_agent: Mozilla/*', finding())).toBe(true);
    expect(silences('detection: "*"\nuser_agent: "*boto/2.*"', finding({ details: { user_agent: '[boto/2.49.0 Python/2.7.18]' } }))).toBe(true);
    expect(silences('detection: "*"\nuser_agent: "*"', finding({ details: {} }))).toBe(false);
    expect(silences('detection: "*"\nuser_agent: "*"', finding({ details: { user_agent: 42 } }))).toBe(false);
  });

  it('every field a rule gives must match', () => {
    expect(silences('detection: anonymous-access\nbucket: web-assets\nkey: img/*\nsource_ip: 203.0.113.0/24', finding())).toBe(true);
    expect(silences('detection: anonymous-access\nbucket: web-assets\nkey: img/*\nsource_ip: 198.51.100.0/24', finding())).toBe(false);
  });

  it('matches a hostile 1 MB key, principal and user agent in linear time', () => {
    const huge = 'a'.repeat(1 << 20);
    const f = finding({ key: huge, principal: huge, details: { user_agent: huge } });
    const start = performance.now();
    for (let i = 0; i < 5; i++) expect(silences('detection: "*"\nkey: "*a*a*a*a*a*a*a*a*a*a*b"\nprincipal: "*a?a*"\nuser_agent: "*a*"', f)).toBe(false);
    expect(performance.now() - start).toBeLessThan(2000);
  });
});

describe('expiry', () => {
  const rule = 'detection: anonymous-access\nuntil: 2026-03-31';
  it('a rule applies through its until date (a date alone: the whole day, UTC), then silences nothing and is listed as expired', () => {
    expect(silences(rule, finding(), new Date('2026-03-31T23:59:59Z'))).toBe(true);
    const after = suppressFindings([finding()], rules(rule), new Date('2026-04-01T00:00:00Z'));
    expect(after.kept).toHaveLength(1);
    expect(after.suppression.expired).toHaveLength(1);
    expect(suppressionJson(after.suppression, false)).toMatchObject({ count: 0, expired: [{ rule: 's3sift.yaml:2:5', until: '2026-03-31' }] });
  });

  it('an until with a time stops at that instant', () => {
    expect(silences('detection: anonymous-access\nuntil: 2026-03-31T12:00:00Z', finding(), new Date('2026-03-31T11:59:59Z'))).toBe(true);
    expect(silences('detection: anonymous-access\nuntil: 2026-03-31T12:00:00Z', finding(), new Date('2026-03-31T12:00:00Z'))).toBe(false);
  });
});

describe('what suppression reports', () => {
  const config = parseConfig(`suppress:
  - detection: anonymous-access
    key: img/*
    reason: the public site
  - detection: anonymous-access
    reason: never reached for img/ (the first rule that matches takes the finding)
    source_ip: 203.0.113.0/24
  - detection: mass-delete
    bucket: x
    reason: matches nothing
`, 's3sift.yaml');
  const findings = [finding(), finding({ key: 'img/b.png', request_id: 'R2' }), finding({ key: 'index.html', request_id: 'R3' }), finding({ key: 'index.html', source_ip: '45.146.164.110', request_id: 'R4' })];
  const { kept, suppression } = suppressFindings(findings, config.suppress, new Date('2026-01-01'));

  it('counts by rule, the first matching rule taking a finding; the kept ones stay in order', () => {
    expect(kept.map((f) => f.request_id)).toEqual(['R4']);
    expect(suppressionLine(suppression)).toBe('3 findings suppressed by 2 rules of s3sift.yaml');
    expect(suppressionJson(suppression, false)).toEqual({
      count: 3, expired: [],
      rules: [
        { rule: 's3sift.yaml:2:5', index: 0, detection: ['anonymous-access'], reason: 'the public site', until: null, count: 2 },
        { rule: 's3sift.yaml:5:5', index: 1, detection: ['anonymous-access'], reason: 'never reached for img/ (the first rule that matches takes the finding)', until: null, count: 1 },
      ],
    });
    expect(runsAfter([{ id: 'anonymous-access', findings: 4, ms: 1 }], kept)).toEqual([{ id: 'anonymous-access', findings: 1, ms: 1 }]);
  });

  it('--show-suppressed lists each suppressed finding with its rule and reason, in JSON and in the report', () => {
    const json = suppressionJson(suppression, true) as { findings: Array<Finding & { suppressed_by: unknown }> };
    expect(json.findings.map((f) => [f.request_id, f.suppressed_by])).toEqual([
      ['R1', { rule: 's3sift.yaml:2:5', reason: 'the public site' }], ['R2', { rule: 's3sift.yaml:2:5', reason: 'the public site' }],
      ['R3', { rule: 's3sift.yaml:5:5', reason: 'never reached for img/ (the first rule that matches takes the finding)' }],
    ]);
    const shown = suppressionSection(suppression, true);
    expect(shown).toContain('suppress[0] (s3sift.yaml:2) anonymous-access: 2 findings\n  reason: the public site\n  - [anonymous-access] 2025-03-10T06:00:00.000Z  web-assets/img/banner-0.png  anonymous from 203.0.113.100  at samples/access-logs/web-assets/2025-03-10.log:1');
    expect(suppressionSection(suppression, false)).not.toContain('- [anonymous-access]');
    expect(suppressionSection(suppression, false)).toContain('(--show-suppressed lists them)');
  });

  it('the report says under its first line how many were suppressed, and JSON carries "suppressed"', () => {
    const ctx = { detections: [], runs: runsAfter([{ id: 'anonymous-access', findings: 4, ms: 1 }], kept), coverage: [], version: 't',
      suppressed: { json: suppressionJson(suppression, false), line: suppressionLine(suppression), section: suppressionSection(suppression, false) } };
    const table = formatFindings(kept, 'table', ctx);
    expect(table.split('\n').slice(0, 2)).toEqual(['1 finding from 1 of 1 detections (1 low)', '3 findings suppressed by 2 rules of s3sift.yaml: see SUPPRESSED at the end']);
    expect(table).toContain('\n== SUPPRESSED ==\n');
    const json = JSON.parse(formatFindings(kept, 'json', ctx)) as { summary: { findings: number }; suppressed: { count: number } };
    expect(json.summary.findings).toBe(1);
    expect(json.suppressed.count).toBe(3);
  });

  it('escapes log content in the report: a key cannot move the cursor', () => {
    const evil = suppressFindings([finding({ key: 'img/\u001b[2Jx' })], config.suppress, new Date('2026-01-01')).suppression;
    expect(suppressionSection(evil, true)).not.toContain('\u001b');
  });
});
