/**
 * The policy evaluator against the bucket policy examples of AWS's S3
 * documentation ("Bucket policy examples", "Requiring server-side
 * encryption", "Controlling access from VPC endpoints"), and the backdoored
 * policy of the real attack run in conformance/invictus-ir.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { analyzePolicy, evaluate, parsePolicy, wildcard, type Policy } from '../../query/policy.js';
import { CONFORMANCE } from '../helpers/dataset.js';

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
