import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DetectionError } from '../../common/errors.js';
import { ingest } from '../../ingest/ingest.js';
import { openDataset } from '../../query/dataset.js';
import { runDetections, selectDetections } from '../../query/detect.js';
import { runDetectionTest } from '../../query/detection-tests.js';
import { loadDetections, validateDetection } from '../../query/detection.js';
import { CONFORMANCE, emptyDataset, tempDir } from '../helpers/dataset.js';
import { REQUESTER_ACCOUNT_PATTERN } from '../../query/views.js';
import { sqlString } from '../../common/sql.js';

const library = await loadDetections();

describe('the detection library', () => {
  it('holds every detection the issue names, each with a test that fires and a near miss', () => {
    const ids = library.map((d) => d.id).sort();
    expect(ids).toEqual([
      'access-denied-burst', 'access-log-self-delivery', 'access-logging-disabled', 'anonymous-access', 'anonymous-or-denied-sweep', 'bucket-acl-public', 'bucket-deleted', 'bucket-enumeration',
      'bucket-policy-changed', 'bucket-policy-external-account', 'bucket-policy-public', 'bucket-website-changed', 'cloudtrail-tampering', 'copy-out-then-delete', 'credentials-file-read', 'cross-account-access',
      'default-encryption-foreign-kms-key', 'default-encryption-removed', 'first-access-to-bucket', 'foreign-kms-key-write', 'glacier-vault-lock-change', 'kms-key-disabled-or-deleted', 'kms-key-policy-external', 'large-data-egress',
      'lifecycle-expiration-added', 'log-delivery-acl-grant', 'log-source-gap', 'mass-delete', 'mfa-delete-disabled', 'new-network-for-principal', 'offensive-tool-user-agent', 'permanent-delete-without-mfa',
      'permanent-version-delete', 'plaintext-http-request', 'presigned-url-long-expiry', 'presigned-url-shared', 'public-access-block-removed', 'ransom-note-upload', 'read-volume-over-baseline', 'replication-removed',
      'replication-to-external-account', 'root-account-activity', 'sigv2-request', 'sse-c-object-write', 'threat-intel-address', 'unencrypted-object-write', 'versioning-suspended', 'vpc-endpoint-access-denied',
      'vpc-endpoint-bypass', 'weak-tls-request',
    ]);
    for (const d of library) {
      expect(d.tests.some((t) => (t.expect ?? 0) > 0 || (t.fires?.length ?? 0) > 0), d.id).toBe(true);
      expect(d.tests.some((t) => t.expect === 0 || t.fires?.length === 0), d.id).toBe(true);
    }
  });

  it('is the library docs/detections.md lists, with each severity', () => {
    const doc = readFileSync(new URL('../../docs/detections.md', import.meta.url), 'utf8');
    for (const d of library) expect(doc).toContain(`| \`${d.id}\` | ${d.severity} | ${d.sources.join(', ')} | ${d.title}`);
  });

  it("cross-account-access works out an access-log requester's account with the pattern s3_requests uses", () => {
    const d = library.find((x) => x.id === 'cross-account-access')!;
    expect(d.with?.find((w) => w.name === 'pairs')?.sql).toContain(`regexp_extract(principal, ${sqlString(REQUESTER_ACCOUNT_PATTERN)}, 1) AS principal_account`);
  });

  for (const d of library) {
    describe(d.id, () => {
      for (const t of d.tests) {
        it(t.name, async () => {
          const o = await runDetectionTest(d, t);
          expect(o.error).toBeUndefined();
          expect({ got: o.got, fired: o.fired, ok: o.ok }).toEqual({ got: t.expect ?? o.got, fired: o.expectedFires ? [...new Set(o.expectedFires)].sort() : o.fired, ok: true });
        });
      }
    });
  }
});

describe("Panther's CloudTrail rule tests", () => {
  interface Case { name: string; panther_rule: string; s3sift_detection: string; panther_expected: boolean; record: unknown }
  const cases = (JSON.parse(readFileSync(new URL('panther/cloudtrail-rule-tests.json', CONFORMANCE), 'utf8')) as { cases: Case[] }).cases;
  // Where s3sift decides otherwise on purpose, and why.
  const DIFFERENT: Record<string, string> = {
    'AWS.Root.Activity / Root Read-Only Enumeration': 's3sift reports every use of the root user, reads included (the issue asks for it); Panther skips read-only calls.',
  };
  for (const c of cases) {
    const key = `${c.panther_rule} / ${c.name}`;
    it(`${key}: ${c.panther_expected ? 'fires' : 'stays quiet'}${DIFFERENT[key] ? ' (s3sift differs on purpose)' : ''}`, async () => {
      const ids = c.s3sift_detection.split('|');
      let fired = 0;
      for (const id of ids) {
        const d = library.find((x) => x.id === id);
        expect(d, id).toBeDefined();
        const o = await runDetectionTest(d!, { name: c.name, cloudtrail: [c.record], expect: 0 });
        expect(o.error).toBeUndefined();
        fired += o.got;
      }
      const expected = DIFFERENT[key] ? !c.panther_expected : c.panther_expected;
      expect(fired > 0).toBe(expected);
    });
  }
});

describe('detection files are validated on load', () => {
  const good = library.find((d) => d.id === 'default-encryption-removed')!;
  // The tests as written in the file (the loaded ones are parsed).
  const tests = (parseYaml(readFileSync(good.file, 'utf8')) as { tests: Array<Record<string, unknown>> }).tests;
  const doc = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
    id: good.id, title: good.title, description: good.description, severity: good.severity, sources: good.sources,
    sql: good.sql, tests, ...over,
  });
  const withCase = (c: Record<string, unknown>): Record<string, unknown> => doc({ tests: [...tests, { name: 'extra', ...c }] });
  const file = '/rules/default-encryption-removed.yaml';
  const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ['an unknown key', doc({ sevrity: 'high' }), file, /unknown key sevrity/],
    ['a missing field', doc({ title: undefined }), file, /missing title/],
    ['an id that differs from the file name', doc(), '/rules/other-name.yaml', /differs from the file name "other-name"/],
    ['a source the SQL does not read', doc({ sources: ['cloudtrail', 'access_log'] }), file, /sources lists access_log but the SQL does not read it/],
    ['a parameter the SQL uses but does not declare', doc({ sql: good.sql + ' AND 1 < $limit' }), file, /uses \$limit but params does not declare it/],
    ['tests without a near miss', doc({ tests: tests.filter((t) => (t.fires as unknown[]).length > 0) }), file, /at least one case that fires and one near miss/],
    ['a record with an unknown base', withCase({ records: [{ base: 's3-event' }], fires: [] }), file, /record 1: base must be one of s3-data-event, s3-management-event, access-log/],
    ['an access-log record with a field the log does not have', withCase({ records: [{ base: 'access-log', requestor: 'x' }], fires: [] }), file, /unknown access-log field requestor/],
    ['fires naming no record', withCase({ records: [{ base: 'access-log', label: 'a' }], fires: ['b'] }), file, /fires names "b", which is no record's label or number/],
    ['fires counting past the records', withCase({ records: [{ base: 'access-log' }], fires: [2] }), file, /fires names 2/],
    ['a case that says neither what fires nor how many', withCase({ records: [{ base: 'access-log' }] }), file, /say what fires \(fires: \[\.\.\.\]\) or how many findings/],
    ['a raw line with fields', withCase({ records: [{ line: 'x', bucket: 'b' }], fires: [] }), file, /a raw line takes no base, fields or unset/],
    ['a repeat of zero', withCase({ records: [{ base: 'access-log', repeat: 0 }], fires: [] }), file, /repeat must be a whole number from 1 to 10000/],
    ['a bad severity', doc({ severity: 'urgent' }), file, /severity must be one of/],
  ];
  for (const [what, d, f, msg] of cases) {
    it(`refuses ${what}, naming the file`, () => {
      expect(() => validateDetection(d, f)).toThrow(DetectionError);
      expect(() => validateDetection(d, f)).toThrow(new RegExp(f.replace(/[/.]/g, '\\$&') + ': '));
      expect(() => validateDetection(d, f)).toThrow(msg);
    });
  }

  let tmp: { dir: string; cleanup: () => void };
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.cleanup());

  it('refuses SQL naming an unknown column before reading any data, naming the file', async () => {
    const rules = join(tmp.dir, 'rules');
    mkdirSync(rules);
    const yaml = readFileSync(good.file, 'utf8').replace("event_name = 'DeleteBucketEncryption'", "evnt_name = 'DeleteBucketEncryption'");
    writeFileSync(join(rules, 'default-encryption-removed.yaml'), yaml);
    const detections = selectDetections(await loadDetections([rules]), ['default-encryption-removed']);
    const ds = await openDataset(await emptyDataset(join(tmp.dir, 'empty')));
    try {
      await expect(runDetections(ds, detections)).rejects.toThrow(/default-encryption-removed\.yaml: the SQL does not run on the dataset's tables: .*evnt_name/);
    } finally {
      ds.close();
    }
  });

  it('refuses a file that is not YAML, naming it', async () => {
    const rules = join(tmp.dir, 'rules');
    mkdirSync(rules);
    writeFileSync(join(rules, 'broken.yaml'), 'id: [unclosed\n');
    await expect(loadDetections([rules])).rejects.toThrow(/broken\.yaml: not valid YAML/);
  });
});

describe('running detections', () => {
  let tmp: { dir: string; cleanup: () => void };
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.cleanup());

  it('binds parameters as values: text meant to break the SQL is only a value', async () => {
    // (Account lists take 12-digit IDs only, so a list of text: the principals a detection lets through.)
    const d = library.find((x) => x.id === 'offensive-tool-user-agent')!;
    const ds = await openDataset(await emptyDataset(join(tmp.dir, 'empty')));
    try {
      const r = await runDetections(ds, [d], { allowed_principals: "1'); DROP TABLE x; --,2" });
      expect(r.findings).toEqual([]);
    } finally {
      ds.close();
    }
  });

  it('runs the whole library over an empty dataset without an error', async () => {
    const ds = await openDataset(await emptyDataset(join(tmp.dir, 'nothing-here')));
    try {
      const r = await runDetections(ds, library);
      expect(r.findings).toEqual([]);
      expect(r.runs).toHaveLength(library.length);
    } finally {
      ds.close();
    }
  });

  it('sees only the --since/--until window', async () => {
    const file = join(tmp.dir, 'ct.ndjson');
    const rec = (t: string): string => JSON.stringify({ eventVersion: '1.09', eventTime: t, eventSource: 's3.amazonaws.com', eventName: 'DeleteBucketEncryption', requestParameters: { bucketName: 'b' }, userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::1:user/a' } });
    writeFileSync(file, [rec('2025-03-10T10:00:00Z'), rec('2025-03-11T10:00:00Z'), rec('2025-03-12T10:00:00Z')].join('\n'));
    await ingest([file], { data: join(tmp.dir, 'data'), format: 'auto', force: false, strict: false });
    const d = selectDetections(library, ['default-encryption-removed']);
    const ds = await openDataset(join(tmp.dir, 'data'), { since: new Date('2025-03-11T00:00:00Z'), until: new Date('2025-03-12T10:00:00Z') });
    try {
      const r = await runDetections(ds, d);
      expect(r.findings.map((f) => f.event_time)).toEqual(['2025-03-11T10:00:00.000Z']);
    } finally {
      ds.close();
    }
  });
});

describe('s3_requests', () => {
  let tmp: { dir: string; cleanup: () => void };
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.cleanup());

  it('puts both sources in one shape, access-log operations under their CloudTrail names', async () => {
    const owner = '79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be';
    const line = (op: string, key: string, requester = 'arn:aws:iam::111122223333:user/alice'): string =>
      `${owner} b [10/Mar/2025:08:00:01 +0000] 192.0.2.1 ${requester} R${op.length}${key.length} ${op} ${key} "GET /b HTTP/1.1" 200 - 1 1 1 1 "-" "ua" - h SigV4 c AuthHeader b.s3.amazonaws.com TLSv1.2 - - -`;
    writeFileSync(join(tmp.dir, 'a.log'), [line('REST.GET.OBJECT', 'k'), line('BATCH.DELETE.OBJECT', 'k'), line('REST.PUT.ACL', 'k'), line('REST.PUT.ACL', '-'), line('REST.DELETE.OBJECT', 'k'), line('REST.GET.NEWTHING', '-', '-')].join('\n'));
    writeFileSync(join(tmp.dir, 'c.ndjson'), [
      JSON.stringify({ eventTime: '2025-03-10T08:00:02Z', eventName: 'GetObject', eventSource: 's3.amazonaws.com', requestParameters: { bucketName: 'b', key: 'k' }, userIdentity: { type: 'AWSAccount', principalId: '', accountId: 'ANONYMOUS_PRINCIPAL' } }),
      JSON.stringify({ eventTime: '2025-03-10T08:00:03Z', eventName: 'Decrypt', eventSource: 'kms.amazonaws.com' }),
    ].join('\n'));
    await ingest([tmp.dir], { data: join(tmp.dir, 'data'), format: 'auto', force: false, strict: false });
    const ds = await openDataset(join(tmp.dir, 'data'));
    try {
      const rows = (await ds.conn.runAndReadAll('SELECT source, operation, principal, principal_account FROM s3_requests ORDER BY source, source_line')).getRowsJson();
      expect(rows).toEqual([
        ['access_log', 'GetObject', 'arn:aws:iam::111122223333:user/alice', '111122223333'],
        ['access_log', 'DeleteObjects', 'arn:aws:iam::111122223333:user/alice', '111122223333'],
        ['access_log', 'PutObjectAcl', 'arn:aws:iam::111122223333:user/alice', '111122223333'],
        ['access_log', 'PutBucketAcl', 'arn:aws:iam::111122223333:user/alice', '111122223333'],
        ['access_log', 'DeleteObject', 'arn:aws:iam::111122223333:user/alice', '111122223333'],
        ['access_log', 'REST.GET.NEWTHING', null, null],
        // Anonymous in CloudTrail has no principal, like an unsigned access-log request; KMS is not an S3 request.
        ['cloudtrail', 'GetObject', null, null],
      ]);
    } finally {
      ds.close();
    }
  });

  it('is an empty view, never an error, when nothing was ingested', async () => {
    const ds = await openDataset(await emptyDataset(join(tmp.dir, 'none')));
    try {
      expect((await ds.conn.runAndReadAll('SELECT count(*)::INTEGER FROM s3_requests')).getRows()).toEqual([[0]]);
    } finally {
      ds.close();
    }
  });
});
