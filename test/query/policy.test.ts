/**
 * The policy evaluator against the bucket policy examples of AWS's S3
 * documentation ("Bucket policy examples", "Requiring server-side
 * encryption", "Controlling access from VPC endpoints"), and the backdoored
 * policy of the real attack run in conformance/invictus-ir.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ingest } from '../../ingest/ingest.js';
import { openDataset } from '../../query/dataset.js';
import { runDetections, selectDetections } from '../../query/detect.js';
import { loadDetections } from '../../query/detection.js';
import { analyzePolicy, evaluate, parsePolicy, wildcard, type Policy } from '../../query/policy.js';
import { posture } from '../../query/posture.js';
import { CONFORMANCE, tempDir } from '../helpers/dataset.js';

const B = 'amzn-s3-demo-bucket';
const policy = (doc: unknown): Policy => parsePolicy(doc) as Policy;
const anon = { aws: '*' };
const alice = { aws: 'arn:aws:iam::111122223333:user/alice' };

describe('evaluation', () => {
  // "Granting read-only permission to a public anonymous user"
  const publicRead = policy({ Version: '2012-10-17', Statement: [{ Sid: 'PublicRead', Effect: 'Allow', Principal: '*', Action: ['s3:GetObject', 's3:GetObjectVersion'], Resource: [`arn:aws:s3:::${B}/*`] }] });

  it('allows what a statement grants, to the principals and resources it names, and nothing else', () => {
    expect(evaluate(publicRead, { caller: anon, action: 's3:GetObject', resource: `arn:aws:s3:::${B}/photo.jpg` })).toBe('Allow');
    expect(evaluate(publicRead, { caller: anon, action: 's3:PutObject', resource: `arn:aws:s3:::${B}/photo.jpg` })).toBe('NotApplicable');
    // The bucket and its objects are different resources.
    expect(evaluate(publicRead, { caller: anon, action: 's3:GetObject', resource: `arn:aws:s3:::${B}` })).toBe('NotApplicable');
    const onBucketOnly = policy({ Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}` }] });
    expect(analyzePolicy(onBucketOnly, B, '111122223333').public).toBe(false);
    expect(analyzePolicy(publicRead, B, '111122223333')).toMatchObject({ public: true, publicActions: ['s3:GetObject'] });
  });

  it('matches action wildcards case-insensitively, resources case-sensitively', () => {
    expect(wildcard('s3:Get*', 's3:getobject', true)).toBe(true);
    expect(wildcard('s3:*Object', 's3:DeleteObject', true)).toBe(true);
    expect(wildcard('s3:Get?bject', 's3:GetObject', true)).toBe(true);
    expect(wildcard(`arn:aws:s3:::${B}/*`, `arn:aws:s3:::${B.toUpperCase()}/x`)).toBe(false);
  });

  it('lets an explicit Deny win, and reads NotPrincipal and NotAction', () => {
    const p = policy({
      Statement: [
        { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 's3:*', Resource: [`arn:aws:s3:::${B}`, `arn:aws:s3:::${B}/*`] },
        { Effect: 'Deny', NotPrincipal: { AWS: 'arn:aws:iam::111122223333:user/alice' }, NotAction: 's3:Get*', Resource: `arn:aws:s3:::${B}/*` },
      ],
    });
    expect(evaluate(p, { caller: alice, action: 's3:PutObject', resource: `arn:aws:s3:::${B}/k` })).toBe('Allow');
    expect(evaluate(p, { caller: { aws: 'arn:aws:iam::111122223333:user/bob' }, action: 's3:PutObject', resource: `arn:aws:s3:::${B}/k` })).toBe('Deny');
    expect(evaluate(p, { caller: { aws: 'arn:aws:iam::111122223333:user/bob' }, action: 's3:GetObject', resource: `arn:aws:s3:::${B}/k` })).toBe('Allow');
  });

  // "Restricting access to specific IP addresses"
  it('evaluates IP conditions', () => {
    const p = policy({ Statement: [{ Sid: 'IPAllow', Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: [`arn:aws:s3:::${B}`, `arn:aws:s3:::${B}/*`], Condition: { NotIpAddress: { 'aws:SourceIp': '192.0.2.0/24' } } }] });
    expect(evaluate(p, { caller: alice, action: 's3:GetObject', resource: `arn:aws:s3:::${B}/k`, context: { 'aws:SourceIp': '192.0.2.77' } })).toBe('NotApplicable');
    expect(evaluate(p, { caller: alice, action: 's3:GetObject', resource: `arn:aws:s3:::${B}/k`, context: { 'aws:SourceIp': '203.0.113.1' } })).toBe('Deny');
  });

  // "Allowing IPv6 addresses": IpAddress and NotIpAddress with IPv4 and IPv6 CIDRs side by side.
  describe('IP conditions over IPv4 and IPv6', () => {
    const onlyFrom = (op: string, cidrs: string | string[]): Policy =>
      policy({ Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { [op]: { 'aws:SourceIp': cidrs } } }] });
    const from = (p: Policy, ip: string): string => evaluate(p, { caller: anon, action: 's3:GetObject', resource: `arn:aws:s3:::${B}/k`, context: { 'aws:SourceIp': ip } });

    it('finds an IPv6 address in an IPv6 CIDR, in any spelling, and not outside it', () => {
      const p = onlyFrom('IpAddress', '2001:DB8:1234:5678::/64');
      expect(from(p, '2001:db8:1234:5678::1')).toBe('Allow');
      expect(from(p, '2001:0db8:1234:5678:ffff:ffff:ffff:ffff')).toBe('Allow');
      expect(from(p, '2001:db8:1234:5679::1')).toBe('NotApplicable');
      expect(from(onlyFrom('IpAddress', '2001:db8::7'), '2001:db8:0:0:0:0:0:7')).toBe('Allow');
    });

    it('finds an IPv4 address in an IPv4 CIDR (host bits set or not, lone address = /32)', () => {
      expect(from(onlyFrom('IpAddress', '192.0.2.77/24'), '192.0.2.200')).toBe('Allow');
      expect(from(onlyFrom('IpAddress', '192.0.2.0/24'), '192.0.3.1')).toBe('NotApplicable');
      expect(from(onlyFrom('IpAddress', '192.0.2.7'), '192.0.2.7')).toBe('Allow');
      expect(from(onlyFrom('IpAddress', '192.0.2.7'), '192.0.2.8')).toBe('NotApplicable');
      expect(from(onlyFrom('IpAddress', '0.0.0.0/0'), '203.0.113.9')).toBe('Allow');
    });

    it('keeps the families apart: an IPv4 address is in no IPv6 CIDR (not even ::/0), an IPv6 one in no IPv4 CIDR', () => {
      expect(from(onlyFrom('IpAddress', '::/0'), '192.0.2.1')).toBe('NotApplicable');
      expect(from(onlyFrom('IpAddress', '0.0.0.0/0'), '2001:db8::1')).toBe('NotApplicable');
      const both = onlyFrom('IpAddress', ['192.0.2.0/24', '2001:db8::/32']);
      expect(from(both, '192.0.2.1')).toBe('Allow');
      expect(from(both, '2001:db8::1')).toBe('Allow');
      // The IPv4-mapped form of an IPv4 address is that address.
      expect(from(onlyFrom('IpAddress', '192.0.2.0/24'), '::ffff:192.0.2.1')).toBe('Allow');
    });

    it('reads NotIpAddress over both families', () => {
      const p = onlyFrom('NotIpAddress', ['192.0.2.0/24', '2001:db8::/32']);
      expect(from(p, '192.0.2.1')).toBe('NotApplicable');
      expect(from(p, '2001:db8::1')).toBe('NotApplicable');
      expect(from(p, '198.51.100.1')).toBe('Allow');
      expect(from(p, '2001:db9::1')).toBe('Allow');
      // A source that is not an address (a service calling) is in no range.
      expect(from(p, 's3.amazonaws.com')).toBe('Allow');
      expect(from(onlyFrom('IpAddress', '192.0.2.0/24'), 's3.amazonaws.com')).toBe('NotApplicable');
    });

    it('grants nothing on a value that is not a CIDR, with either operator, and never throws', () => {
      for (const bad of ['192.0.2.0/33', '2001:db8::/129', '192.0.2.0/', '192.0.2.0/24/8', '192.0.2.256', 'not-an-ip', '', '10.0.0.0/-1', 'fe80::1%eth0/64']) {
        for (const op of ['IpAddress', 'NotIpAddress']) {
          for (const ip of ['192.0.2.1', '2001:db8::1', 'nonsense', '']) expect([bad, op, ip, from(onlyFrom(op, bad), ip)]).toEqual([bad, op, ip, 'NotApplicable']);
          // One unreadable value among good ones: still nothing granted.
          expect(from(onlyFrom(op, ['192.0.2.0/24', bad]), op === 'IpAddress' ? '192.0.2.1' : '198.51.100.1')).toBe('NotApplicable');
        }
      }
    });
  });
});

describe('analysis', () => {
  it('sees a policy that denies uploads without SSE-KMS ("Requiring SSE-KMS for all objects")', () => {
    const p = policy({ Version: '2012-10-17', Id: 'PutObjPolicy', Statement: [{ Sid: 'DenyObjectsThatAreNotSSEKMS', Principal: '*', Effect: 'Deny', Action: 's3:PutObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { StringNotEquals: { 's3:x-amz-server-side-encryption': 'aws:kms' } } }] });
    expect(analyzePolicy(p, B, '111122223333')).toMatchObject({ deniesUnencryptedUploads: true, allowedEncryption: ['aws:kms'], public: false });
  });

  it('sees the older pair of statements: wrong header denied, missing header denied', () => {
    const p = policy({
      Statement: [
        { Sid: 'DenyIncorrectEncryptionHeader', Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { StringNotEquals: { 's3:x-amz-server-side-encryption': 'AES256' } } },
        { Sid: 'DenyUnEncryptedObjectUploads', Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { Null: { 's3:x-amz-server-side-encryption': 'true' } } },
      ],
    });
    expect(analyzePolicy(p, B, '111122223333')).toMatchObject({ deniesUnencryptedUploads: true, allowedEncryption: ['AES256'] });
  });

  it('sees a policy that denies plain HTTP (aws:SecureTransport false)', () => {
    const p = policy({ Statement: [{ Sid: 'RestrictToTLSRequestsOnly', Action: 's3:*', Effect: 'Deny', Resource: [`arn:aws:s3:::${B}`, `arn:aws:s3:::${B}/*`], Condition: { Bool: { 'aws:SecureTransport': 'false' } }, Principal: '*' }] });
    expect(analyzePolicy(p, B, '111122223333')).toMatchObject({ deniesInsecureTransport: true, deniesUnencryptedUploads: false, allowedEncryption: [] });
  });

  it('sees a restriction to one VPC endpoint ("Restricting access to a specific VPC endpoint")', () => {
    const p = policy({ Version: '2012-10-17', Id: 'Policy1415115909152', Statement: [{ Sid: 'Access-to-specific-VPCE-only', Principal: '*', Action: 's3:*', Effect: 'Deny', Resource: [`arn:aws:s3:::${B}`, `arn:aws:s3:::${B}/*`], Condition: { StringNotEquals: { 'aws:SourceVpce': 'vpce-1a2b3c4d' } } }] });
    expect(analyzePolicy(p, B, '111122223333').vpcEndpoints).toEqual(['vpce-1a2b3c4d']);
  });

  it('names the other accounts a policy lets in, by ARN, bare id or account condition, and not AWS services', () => {
    const p = policy({
      Statement: [
        { Sid: 'crossaccount', Effect: 'Allow', Principal: { AWS: ['arn:aws:iam::111122223333:root', 'arn:aws:iam::444455556666:user/carol', '777788889999'] }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*` },
        { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { StringEquals: { 'aws:PrincipalAccount': ['222233334444'] } } },
        { Effect: 'Allow', Principal: { Service: 'logging.s3.amazonaws.com' }, Action: 's3:PutObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { StringEquals: { 'aws:SourceAccount': '999999999999' } } },
      ],
    });
    const a = analyzePolicy(p, B, '111122223333');
    expect(a.externalAccounts).toEqual(['222233334444', '444455556666', '777788889999']);
    // An account condition on Principal "*" is not public: an anonymous caller has no account.
    expect(a.public).toBe(false);
  });

  it('finds the backdoor in the real attack run (invictus-ir): account 193672423079 let into the bucket', () => {
    const dir = new URL('invictus-ir/', CONFORMANCE);
    const puts = readdirSync(dir).filter((f) => f.endsWith('.json'))
      .flatMap((f) => (JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as { Records: Array<Record<string, any>> }).Records)
      .filter((r) => r.eventName === 'PutBucketPolicy' && !r.errorCode);
    const found = puts.map((r) => ({ bucket: r.requestParameters.bucketName as string, external: analyzePolicy(policy(r.requestParameters.bucketPolicy), r.requestParameters.bucketName, r.recipientAccountId).externalAccounts }));
    expect(found.filter((f) => f.external.length)).toEqual([{ bucket: 'stratus-red-team-bdbp-lhfzvgcamn', external: ['193672423079'] }]);
    // The CloudTrail delivery policies of the same run (service principals) are not backdoors.
    expect(found.length).toBeGreaterThan(1);
  });
});

/** A one-statement policy on bucket B. */
const one = (stmt: Record<string, unknown>): Policy => policy({ Version: '2012-10-17', Statement: [{ Resource: `arn:aws:s3:::${B}/*`, Action: 's3:GetObject', ...stmt }] });
const sids = (p: Policy): Array<string | null> => analyzePolicy(p, B, '111122223333').publicStatements.map((s) => s.sid);

/**
 * Public-ness, as posture and bucket-policy-public decide it: can anyone
 * (anonymous or of any account, from the internet, setting the request's
 * own keys as it likes) make a request the policy allows?
 */
const PUBLIC_CASES: Array<[name: string, doc: Record<string, unknown>, isPublic: boolean]> = [
  ['Principal "*"', { Statement: [{ Sid: 'A', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*` }] }, true],
  ['Principal {"AWS": "*"}', { Statement: { Sid: 'A', Effect: 'Allow', Principal: { AWS: '*' }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*` } }, true],
  ['Principal {"AWS": ["*"]} among accounts', { Statement: [{ Sid: 'A', Effect: 'Allow', Principal: { AWS: ['arn:aws:iam::444455556666:root', '*'] }, Action: 's3:*', Resource: '*' }] }, true],
  ['Allow with NotPrincipal', { Statement: [{ Sid: 'A', Effect: 'Allow', NotPrincipal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*` }] }, true],
  ['NotAction leaving reads', { Statement: [{ Sid: 'A', Effect: 'Allow', Principal: '*', NotAction: ['s3:Delete*', 's3:Put*'], Resource: [`arn:aws:s3:::${B}`, `arn:aws:s3:::${B}/*`] }] }, true],
  ['aws:SecureTransport true (anyone can use HTTPS)', { Statement: [{ Sid: 'A', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { Bool: { 'aws:SecureTransport': 'true' } } }] }, true],
  ['aws:SecureTransport as a JSON boolean', { Statement: [{ Sid: 'A', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { Bool: { 'aws:SecureTransport': true } } }] }, true],
  ['aws:UserAgent (the caller sets it)', { Statement: [{ Sid: 'A', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { StringLike: { 'aws:UserAgent': '*Mozilla*' } } }] }, true],
  ['aws:Referer (the caller sets it)', { Statement: [{ Sid: 'A', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { StringLike: { 'aws:Referer': ['https://www.example.com/*'] } } }] }, true],
  ['aws:SourceIp 0.0.0.0/0', { Statement: [{ Sid: 'A', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { IpAddress: { 'aws:SourceIp': '0.0.0.0/0' } } }] }, true],
  ['aws:SourceIp ::/0', { Statement: [{ Sid: 'A', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { IpAddress: { 'aws:SourceIp': '::/0' } } }] }, true],
  ['aws:SourceIp the internet in two halves', { Statement: [{ Sid: 'A', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { IpAddress: { 'aws:SourceIp': ['0.0.0.0/1', '128.0.0.0/1'] } } }] }, true],
  ['aws:SourceIp the internet split over statements', { Statement: Array.from({ length: 4 }, (_, i) => ({ Sid: `A${i}`, Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { IpAddress: { 'aws:SourceIp': `${i * 64}.0.0.0/2` } } })) }, true],
  ['NotIpAddress of the owner\'s range (everyone else)', { Statement: [{ Sid: 'A', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { NotIpAddress: { 'aws:SourceIp': '192.0.2.0/24' } } }] }, true],
  ['aws:SourceVpce with a wildcard (anyone has an endpoint)', { Statement: [{ Sid: 'A', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { StringLike: { 'aws:SourceVpce': 'vpce-*' } } }] }, true],
  ['aws:PrincipalArn in any account', { Statement: [{ Sid: 'A', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/reader' } } }] }, true],
  ['aws:PrincipalOrgID not ours (everyone else)', { Statement: [{ Sid: 'A', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { StringNotEquals: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' } } }] }, true],
  ['ForAllValues over a key anyone leaves out', { Statement: [{ Sid: 'A', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { 'ForAllValues:StringEquals': { 'aws:PrincipalOrgPaths': ['o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/'] } } }] }, true],
  ['only a less common action (GetObjectVersion)', { Statement: [{ Sid: 'A', Effect: 'Allow', Principal: '*', Action: 's3:GetObjectVersion', Resource: `arn:aws:s3:::${B}/*` }] }, true],
  ['objects under one prefix', { Statement: [{ Sid: 'A', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/public/*` }] }, true],
  ['an HTTPS-only Deny beside it', { Statement: [{ Sid: 'A', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*` }, { Sid: 'TLS', Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: `arn:aws:s3:::${B}/*`, Condition: { Bool: { 'aws:SecureTransport': 'false' } } }] }, true],
  ['a Deny unless a referer anyone can send', { Statement: [{ Sid: 'A', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*` }, { Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { StringNotLike: { 'aws:Referer': 'https://example.com/*' } } }] }, true],
  ['aws:PrincipalTag (an outsider tags its own role)', { Statement: [{ Sid: 'A', Effect: 'Allow', Principal: { AWS: '*' }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { StringEquals: { 'aws:PrincipalTag/team': 'data' } } }] }, true],
  ['a Deny unless from the internet in /8s', { Statement: [{ Sid: 'A', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*` }, { Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: `arn:aws:s3:::${B}/*`, Condition: { NotIpAddress: { 'aws:SourceIp': Array.from({ length: 223 }, (_, i) => `${i + 1}.0.0.0/8`) } } }] }, true],
  ['a Deny of writes only', { Statement: [{ Sid: 'A', Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: `arn:aws:s3:::${B}/*` }, { Effect: 'Deny', Principal: '*', Action: ['s3:PutObject', 's3:DeleteObject'], Resource: `arn:aws:s3:::${B}/*` }] }, true],

  ['a named account', { Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::444455556666:root' }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*` }] }, false],
  ['a service', { Statement: [{ Effect: 'Allow', Principal: { Service: 'logging.s3.amazonaws.com' }, Action: 's3:PutObject', Resource: `arn:aws:s3:::${B}/*` }] }, false],
  ['a Deny only', { Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: `arn:aws:s3:::${B}/*` }] }, false],
  ['NotPrincipal "*" (nobody)', { Statement: [{ Effect: 'Allow', NotPrincipal: { AWS: '*' }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*` }] }, false],
  ['aws:PrincipalOrgID', { Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { StringEquals: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' } } }] }, false],
  ['aws:SourceVpce', { Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { StringEquals: { 'aws:SourceVpce': 'vpce-1a2b3c4d' } } }] }, false],
  ['aws:SourceVpc, key in odd case', { Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { StringEquals: { 'AWS:sourcevpc': 'vpc-111bbb22' } } }] }, false],
  ['aws:SourceAccount', { Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { StringEquals: { 'aws:SourceAccount': '111122223333' } } }] }, false],
  ['aws:PrincipalArn of the owner\'s roles', { Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::111122223333:role/*' } } }] }, false],
  ['aws:SourceIp 10.0.0.0/8', { Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } }] }, false],
  ['aws:SourceIp an office range', { Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { IpAddress: { 'aws:SourceIp': ['198.51.100.0/24', '2001:db8:1234::/48'] } } }] }, false],
  ['UserAgent and an organisation', { Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { StringLike: { 'aws:UserAgent': '*' }, StringEquals: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' } } }] }, false],
  ['a Deny outside the organisation', { Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*` }, { Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: `arn:aws:s3:::${B}/*`, Condition: { StringNotEquals: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' } } }] }, false],
  ['a Deny outside the VPC endpoint', { Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*` }, { Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: [`arn:aws:s3:::${B}`, `arn:aws:s3:::${B}/*`], Condition: { StringNotEquals: { 'aws:SourceVpce': 'vpce-1a2b3c4d' } } }] }, false],
  ['a Deny of the same user agent the Allow needs', { Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { StringEquals: { 'aws:UserAgent': 'app/1' } } }, { Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: `arn:aws:s3:::${B}/*`, Condition: { StringEquals: { 'aws:UserAgent': 'app/1' } } }] }, false],
  ['aws:PrincipalOrgPaths under our organisation', { Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { 'ForAnyValue:StringLike': { 'aws:PrincipalOrgPaths': 'o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/*' } } }] }, false],
  ['a Deny unless from our office', { Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*` }, { Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: `arn:aws:s3:::${B}/*`, Condition: { NotIpAddress: { 'aws:SourceIp': ['198.51.100.0/24', '2001:db8:1234::/48'] } } }] }, false],
  ['only another bucket', { Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::other-bucket/*' }] }, false],
  ['an unknown operator', { Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { StringSortaEquals: { 'aws:UserAgent': 'x' } } }] }, false],
];

describe('public: who is anyone', () => {
  for (const [name, doc, isPublic] of PUBLIC_CASES) {
    it(`${isPublic ? 'public' : 'not public'}: ${name}`, () => {
      const a = analyzePolicy(policy(doc), B, '111122223333');
      expect(a.public).toBe(isPublic);
      expect(a.publicStatements.length > 0).toBe(isPublic);
      expect(a.tooComplex).toBe(false);
    });
  }

  it('names the statements that make a policy public, and what each grants', () => {
    const p = policy({
      Statement: [
        { Sid: 'Owner', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 's3:*', Resource: `arn:aws:s3:::${B}/*` },
        { Sid: 'Read', Effect: 'Allow', Principal: '*', Action: ['s3:GetObject', 's3:GetObjectVersion'], Resource: `arn:aws:s3:::${B}/*`, Condition: { Bool: { 'aws:SecureTransport': 'true' } } },
        { Sid: 'List', Effect: 'Allow', Principal: { AWS: '*' }, Action: 's3:ListBucket', Resource: `arn:aws:s3:::${B}` },
      ],
    });
    const a = analyzePolicy(p, B, '111122223333');
    expect(a.publicStatements.map((s) => [s.index, s.sid, s.actions])).toEqual([[1, 'Read', ['s3:GetObject']], [2, 'List', ['s3:ListBucket']]]);
    expect(a.publicActions).toEqual(['s3:GetObject', 's3:ListBucket']);
    expect(a.publicStatements[0]?.statement).toBe(p.Statement[1]);
    // Less common actions are named when they are all there is.
    expect(analyzePolicy(one({ Sid: 'V', Effect: 'Allow', Principal: '*', Action: 's3:GetObjectVersion' }), B, null).publicActions).toEqual(['s3:GetObjectVersion']);
  });

  it('keeps an Allow with a Deny that stops only some of what it grants', () => {
    expect(sids(policy({ Statement: [{ Sid: 'All', Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: [`arn:aws:s3:::${B}`, `arn:aws:s3:::${B}/*`] }, { Effect: 'Deny', Principal: '*', Action: 's3:Get*', Resource: `arn:aws:s3:::${B}/*` }] }))).toEqual(['All']);
  });
});

describe('hostile policies', () => {
  it('matches wildcards without backtracking: a pattern that takes a regular expression minutes takes milliseconds', () => {
    // As a regular expression (^.*a.*a...c.*b$), each .* would be tried at every place: 20,000^200 ways to fail.
    const value = `${'a'.repeat(20_000)}b`;
    const t0 = performance.now();
    expect(wildcard(`${'*a'.repeat(200)}*c*b`, value)).toBe(false);
    expect(wildcard(`${'*a'.repeat(200)}*b`, value)).toBe(true);
    expect(wildcard(`${'*?'.repeat(200)}*c`, value)).toBe(false);
    expect(wildcard(`*${'a'.repeat(5000)}c*`, value)).toBe(false);
    expect(wildcard(`*${'?'.repeat(300)}c*`, value)).toBe(false);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('matches wildcards as a reference matcher does', () => {
    // Dynamic programming over (pattern, value) positions: slow and plain, for checking.
    const reference = (p: string, v: string): boolean => {
      let row = Array<boolean>(v.length + 1).fill(false);
      row[0] = true;
      for (const ch of p) {
        const next = Array<boolean>(v.length + 1).fill(false);
        for (let j = 0; j <= v.length; j++) {
          if (ch === '*') next[j] = row[j] || (j > 0 && next[j - 1]) || false;
          else if (j > 0) next[j] = !!row[j - 1] && (ch === '?' || ch === v[j - 1]);
        }
        row = next;
      }
      return !!row[v.length];
    };
    const alphabet = 'ab*?';
    let seed = 7;
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let i = 0; i < 3000; i++) {
      const p = Array.from({ length: rnd(8) }, () => alphabet[rnd(4)]).join('');
      const v = Array.from({ length: rnd(9) }, () => 'ab'[rnd(2)]).join('');
      expect([p, v, wildcard(p, v)]).toEqual([p, v, reference(p, v)]);
    }
  });

  it('matches ARNs part by part: a wildcard does not run across a colon', () => {
    const p = one({ Effect: 'Allow', Principal: '*', Condition: { ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::111122223333:role/*' } } });
    const req = (arn: string): string => evaluate(p, { caller: { aws: arn }, action: 's3:GetObject', resource: `arn:aws:s3:::${B}/k`, context: { 'aws:PrincipalArn': arn } });
    expect(req('arn:aws:iam::111122223333:role/etl')).toBe('Allow');
    expect(req('arn:aws:iam::444455556666:role/etl')).toBe('NotApplicable');
    const anyAccount = one({ Effect: 'Allow', Principal: '*', Condition: { ArnEquals: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/etl' } } });
    expect(evaluate(anyAccount, { caller: { aws: 'x' }, action: 's3:GetObject', resource: `arn:aws:s3:::${B}/k`, context: { 'aws:PrincipalArn': 'arn:aws:iam::444455556666:role/etl' } })).toBe('Allow');
    expect(evaluate(anyAccount, { caller: { aws: 'x' }, action: 's3:GetObject', resource: `arn:aws:s3:::${B}/k`, context: { 'aws:PrincipalArn': 'arn:aws:iam::4444:5555:role/etl' } })).toBe('NotApplicable');
  });

  it('does not read a policy larger than S3 accepts, and ends in bounded time on one built to be slow', () => {
    const big = { Statement: Array.from({ length: 2000 }, (_, i) => ({ Sid: `S${i}`, Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/p${i}/*` })) };
    expect(parsePolicy(big)).toBeNull();
    expect(parsePolicy(JSON.stringify(big))).toBeNull();
    // Within the size limit: many statements, many condition values, Denies that all need checking.
    const slow = {
      Statement: [
        ...Array.from({ length: 60 }, (_, i) => ({ Effect: 'Allow', Principal: '*', Action: ['s3:Get*', 's3:List*', `s3:Get${'?'.repeat(i)}*`], Resource: `arn:aws:s3:::${B}/${'*?'.repeat(20)}${i}`, Condition: { StringLike: { 'aws:UserAgent': Array.from({ length: 12 }, (_, j) => `*${j}*${i}*`), 'aws:Referer': `${'*a'.repeat(20)}*` } } })),
        ...Array.from({ length: 60 }, (_, i) => ({ Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: '*', Condition: { StringLike: { 'aws:UserAgent': `*${i}*` }, StringNotLike: { 'aws:Referer': `*${'?'.repeat(i)}` } } })),
      ],
    };
    const p = parsePolicy(JSON.stringify(slow));
    expect(p).not.toBeNull();
    const t0 = performance.now();
    const a = analyzePolicy(p as Policy, B, '111122223333');
    expect(performance.now() - t0).toBeLessThan(5000);
    // Whatever it concluded, a policy with Allows that take in anyone is not called private because it was hard.
    expect(a.public).toBe(true);
  }, 20_000);

  it('never throws on odd values where strings belong', () => {
    const odd = [
      { Effect: 'Allow', Principal: 5, Action: [1, null], Resource: {} },
      { Effect: 'Allow', Principal: { AWS: { x: 1 } }, Action: 's3:*', Resource: ['*', 7] },
      { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: '*', Condition: { StringLike: { 'aws:UserAgent': [null, { a: 1 }, 3] }, IpAddress: { 'aws:SourceIp': [{}] } } },
      { Effect: 'Deny', Principal: '*', NotAction: [null], Resource: '*', Condition: { Bool: [] } },
      { Sid: 42, Effect: 'Allow', Principal: { AWS: ['*'] }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::*' } } },
    ];
    // S3 refuses such a policy: one in the log is not read (the detections list it as not checked, posture as not readable)...
    expect(parsePolicy({ Statement: odd })).toBeNull();
    for (const s of odd) expect(parsePolicy({ Statement: [s] }), JSON.stringify(s)).toBeNull();
    // ...and the evaluator, handed one anyway, still never throws.
    const raw = { Statement: odd } as unknown as Policy;
    expect(() => analyzePolicy(raw, B, '111122223333')).not.toThrow();
    expect(analyzePolicy(raw, B, '111122223333').publicStatements.map((p) => [p.index, p.sid])).toEqual([[4, null]]);
  });

  it('reads every element of the types IAM takes, and refuses the others', () => {
    const ok = { Effect: 'Allow', Principal: { AWS: ['arn:aws:iam::111122223333:root'], Service: 'logging.s3.amazonaws.com' }, Action: ['s3:GetObject'], Resource: '*',
      Condition: { Bool: { 'aws:SecureTransport': false }, NumericLessThan: { 's3:max-keys': 10 }, StringEquals: { 'aws:SourceVpce': ['vpce-1', 'vpce-2'] } } };
    expect(parsePolicy({ Statement: [ok, { ...ok, Principal: '*', Action: 's3:*' }] })?.Statement).toHaveLength(2);
    for (const bad of [{ ...ok, Effect: 'allow' }, { ...ok, Action: [1] }, { ...ok, NotAction: [[]] }, { ...ok, Resource: { x: 1 } }, { ...ok, Principal: 'anyone' },
      { ...ok, Principal: { AWS: [null] } }, { ...ok, Condition: 'true' }, { ...ok, Condition: { Bool: [] } }, { ...ok, Condition: { StringLike: { 'aws:Referer': [{ a: 2 }] } } }, 'Allow']) {
      expect(parsePolicy({ Statement: [ok, bad] }), JSON.stringify(bad)).toBeNull();
    }
  });

  it("ends quickly on the review's planted policy (13 '*' in a StringNotLike against 30- and 40-character values), and still judges it", () => {
    // A backtracking regular expression took 18 s for the policy and 77 s per comparison at 40 characters; bench/policy.ts measures it.
    for (const len of [30, 40]) {
      const refs = Array.from({ length: 6 }, (_, i) => `${String(i).padStart(4, '0')}${'a'.repeat(len - 4)}`);
      const p = policy({ Statement: [
        { Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: '*', Condition: { StringNotLike: { 'aws:UserAgent': `${'*a'.repeat(13)}*b`, 'aws:Referer': refs } } },
        { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*` },
      ] });
      const a = analyzePolicy(p, B, '111122223333');
      // Anyone may send a user agent and referer the Deny spares: public, and judged, not given up on.
      expect([a.public, a.tooComplex]).toEqual([true, false]);
    }
  });

  it('reads the policy as CloudTrail logs it (an object) and as text, once or twice encoded, with one statement or a list', () => {
    const doc = { Version: '2012-10-17', Statement: { Sid: 'A', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*` } };
    for (const shape of [doc, JSON.stringify(doc), JSON.stringify(JSON.stringify(doc)), [JSON.stringify(doc)]]) expect(sids(policy(shape))).toEqual(['A']);
    for (const bad of ['', [''], 'not json', '"text"', 42, null, [], { Version: '2012-10-17' }]) expect(parsePolicy(bad)).toBeNull();
    // A statement that is not an Allow or Deny, or a Condition that is not a mapping: not a policy S3 took, not read.
    expect(parsePolicy({ Statement: [{ Effect: 'allow', Principal: '*', Action: 's3:*', Resource: '*' }] })).toBeNull();
    expect(parsePolicy({ Statement: [{ Sid: 'C', Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: '*', Condition: 'true' }] })).toBeNull();
  });
});

describe('other accounts', () => {
  const accounts = (stmt: Record<string, unknown>): string[] => analyzePolicy(one({ Effect: 'Allow', ...stmt }), B, '111122223333').externalAccounts;

  it('reads accounts from ARNs in Arn* and String* conditions, and from account conditions', () => {
    expect(accounts({ Principal: '*', Condition: { ArnEquals: { 'aws:PrincipalArn': 'arn:aws:iam::444455556666:role/reader' } } })).toEqual(['444455556666']);
    expect(accounts({ Principal: '*', Condition: { ArnLike: { 'aws:PrincipalArn': ['arn:aws:iam::444455556666:role/*', 'arn:aws:iam::111122223333:role/etl'] } } })).toEqual(['444455556666']);
    expect(accounts({ Principal: '*', Condition: { StringLike: { 'AWS:PrincipalArn': 'arn:aws:sts::777788889999:assumed-role/r/*' } } })).toEqual(['777788889999']);
    expect(accounts({ Principal: '*', Condition: { ArnLike: { 'aws:SourceArn': 'arn:aws:lambda:us-east-1:222233334444:function:f' } } })).toEqual(['222233334444']);
    expect(accounts({ Principal: '*', Condition: { StringEquals: { 'aws:SourceOwner': '555566667777' } } })).toEqual(['555566667777']);
    expect(accounts({ Principal: '*', Condition: { StringEquals: { 'aws:SourceAccount': ['555566667777'] } } })).toEqual(['555566667777']);
    expect(accounts({ Principal: '*', Condition: { 'ForAnyValue:StringEquals': { 'aws:PrincipalAccount': ['888899990000', '111122223333'] } } })).toEqual(['888899990000']);
    expect(accounts({ Principal: { AWS: 'arn:aws:sts::666677778888:assumed-role/r/s' } })).toEqual(['666677778888']);
    // A KMS key policy's caller account (kms-key-policy-external).
    expect(accounts({ Principal: { AWS: '*' }, Condition: { StringEquals: { 'kms:CallerAccount': ['999988887777', '111122223333'], 'kms:ViaService': 's3.us-east-1.amazonaws.com' } } })).toEqual(['999988887777']);
  });

  it('reports an account wildcard as the pattern (any account it matches), and the owner\'s own account alone as nothing', () => {
    expect(accounts({ Principal: '*', Condition: { ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/reader' } } })).toEqual(['*']);
    expect(accounts({ Principal: '*', Condition: { StringLike: { 'aws:PrincipalAccount': '4444*' } } })).toEqual(['4444*']);
    expect(accounts({ Principal: '*', Condition: { StringLike: { 'aws:PrincipalAccount': '111122223333*' } } })).toEqual([]);
    expect(accounts({ Principal: '*', Condition: { ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::111122223333:role/*' } } })).toEqual([]);
  });

  it('leaves out negative conditions, ARNs without an account, resource-account conditions and service principals', () => {
    expect(accounts({ Principal: '*', Condition: { StringNotEquals: { 'aws:PrincipalAccount': '444455556666' } } })).toEqual([]);
    expect(accounts({ Principal: '*', Condition: { ArnNotLike: { 'aws:PrincipalArn': 'arn:aws:iam::444455556666:role/*' } } })).toEqual([]);
    expect(accounts({ Principal: '*', Condition: { ArnLike: { 'aws:SourceArn': 'arn:aws:s3:::source-bucket' } } })).toEqual([]);
    expect(accounts({ Principal: '*', Condition: { StringEquals: { 'aws:ResourceAccount': '444455556666' } } })).toEqual([]);
    expect(accounts({ Principal: { Service: 'cloudtrail.amazonaws.com' }, Condition: { ArnLike: { 'aws:SourceArn': 'arn:aws:cloudtrail:us-east-1:444455556666:trail/t' } } })).toEqual([]);
  });
});

describe('VPC restrictions', () => {
  const deny = (cond: Record<string, unknown>): Policy => policy({ Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: [`arn:aws:s3:::${B}`, `arn:aws:s3:::${B}/*`], Condition: cond }] });
  it('sees a restriction to VPCs (aws:SourceVpc) as well as to endpoints', () => {
    expect(analyzePolicy(deny({ StringNotEquals: { 'aws:SourceVpc': 'vpc-111bbb22' } }), B, null)).toMatchObject({ vpcs: ['vpc-111bbb22'], vpcEndpoints: [] });
    expect(analyzePolicy(deny({ StringNotEquals: { 'aws:SourceVpce': ['vpce-1a2b3c4d', 'vpce-5e6f7a8b'] } }), B, null)).toMatchObject({ vpcs: [], vpcEndpoints: ['vpce-1a2b3c4d', 'vpce-5e6f7a8b'] });
    // Either an endpoint or a VPC: a request must miss both to be denied.
    expect(analyzePolicy(deny({ StringNotEquals: { 'aws:SourceVpce': 'vpce-1a2b3c4d', 'aws:SourceVpc': 'vpc-111bbb22' } }), B, null)).toMatchObject({ vpcs: ['vpc-111bbb22'], vpcEndpoints: ['vpce-1a2b3c4d'] });
  });

  it('is no restriction when requests from the internet get through, or when only an Allow names the endpoint', () => {
    expect(analyzePolicy(deny({ StringNotEquals: { 'aws:SourceVpce': 'vpce-1a2b3c4d' }, Null: { 'aws:SourceVpce': 'false' } }), B, null).vpcEndpoints).toEqual([]);
    expect(analyzePolicy(one({ Effect: 'Allow', Principal: '*', Condition: { StringEquals: { 'aws:SourceVpce': 'vpce-1a2b3c4d' } } }), B, null).vpcEndpoints).toEqual([]);
  });
});

describe('posture and the detections agree', () => {
  it('on every policy of the table: the buckets posture calls public are those bucket-policy-public fires on, the accounts it names those bucket-policy-external-account reports', async () => {
    const tmp = tempDir();
    try {
      // One bucket per policy, the policy logged as an object (as CloudTrail logs it) or as JSON text, alternately.
      const EXTRA: Array<[string, Record<string, unknown>]> = [
        ['backdoor', { Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::444455556666:role/*' } } }] }],
        ['any-account-role', { Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*`, Condition: { ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/x' } } }] }],
      ];
      const cases = [...PUBLIC_CASES.map(([name, doc]) => [name, doc] as [string, Record<string, unknown>]), ...EXTRA];
      const records = cases.map(([, doc], i) => {
        const bucket = `policy-case-${i}`;
        const policyDoc = JSON.parse(JSON.stringify(doc).replaceAll(B, bucket)) as Record<string, unknown>;
        return {
          eventVersion: '1.09', userIdentity: { type: 'IAMUser', principalId: 'AIDAALICE', arn: 'arn:aws:iam::111122223333:user/alice', accountId: '111122223333', userName: 'alice' },
          eventTime: '2025-03-10T08:00:00Z', eventSource: 's3.amazonaws.com', eventName: 'PutBucketPolicy', awsRegion: 'us-east-1', sourceIPAddress: '203.0.113.9', userAgent: 'aws-cli/2',
          requestParameters: { bucketName: bucket, Host: `${bucket}.s3.us-east-1.amazonaws.com`, bucketPolicy: i % 2 ? JSON.stringify(policyDoc) : policyDoc, policy: [''] },
          responseElements: null, requestID: `R${i}`, eventID: `E${i}`, readOnly: false, eventType: 'AwsApiCall', managementEvent: true, recipientAccountId: '111122223333', eventCategory: 'Management',
        };
      });
      const file = join(tmp.dir, 'policies.ndjson');
      writeFileSync(file, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
      const data = join(tmp.dir, 'data');
      await ingest([file], { data, format: 'auto', force: false, strict: false });
      const ds = await openDataset(data);
      try {
        const buckets = await posture(ds, { at: new Date('2025-03-11T00:00:00Z') });
        expect(buckets).toHaveLength(cases.length);
        const postureSays = (f: (d: Record<string, unknown>) => boolean): string[] => buckets.filter((b) => f(b.settings.bucket_policy?.detail ?? {})).map((b) => b.bucket).sort();
        // One finding per policy put (ungrouped): the test compares policy by policy.
        const { findings } = await runDetections(ds, selectDetections(await loadDetections(), ['bucket-policy-public', 'bucket-policy-external-account']), {}, undefined, { ungrouped: true });
        const fired = (id: string): string[] => [...new Set(findings.filter((f) => f.detection_id === id).map((f) => f.bucket as string))].sort();
        expect(fired('bucket-policy-public')).toEqual(postureSays((d) => d.public === true));
        expect(fired('bucket-policy-external-account')).toEqual(postureSays((d) => (d.externalAccounts as string[]).length > 0));
        // And both say what the table says.
        const expected = cases.flatMap(([name], i) => ((PUBLIC_CASES[i]?.[2] ?? name === 'any-account-role') ? [`policy-case-${i}`] : [])).sort();
        expect(fired('bucket-policy-public')).toEqual(expected);
        expect(fired('bucket-policy-external-account')).toEqual(expect.arrayContaining([`policy-case-${cases.length - 2}`, `policy-case-${cases.length - 1}`]));
        // One finding per statement that opens the bucket, with the statement and what it grants.
        const split = findings.filter((f) => f.detection_id === 'bucket-policy-public' && f.bucket === `policy-case-${PUBLIC_CASES.findIndex(([n]) => n === 'aws:SourceIp the internet split over statements')}`);
        expect(split.map((f) => f.details.sid).sort()).toEqual(['A0', 'A1', 'A2', 'A3']);
        expect(split[0]?.details).toMatchObject({ public_actions: ['s3:GetObject'], statement: { Effect: 'Allow', Principal: '*' } });
      } finally {
        ds.close();
      }
    } finally {
      tmp.cleanup();
    }
  }, 60_000);
});
