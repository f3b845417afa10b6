/**
 * S3 bucket policies, evaluated as AWS evaluates them: a statement applies
 * to a request when its Principal, Action and Resource match (or their Not-
 * forms do not) and every Condition holds; an explicit Deny wins over any
 * Allow; nothing applicable is an implicit deny. `analyzePolicy` asks the
 * questions posture and detections need by evaluating requests, not by
 * reading the text: "may an anonymous caller read?", "is a PutObject without
 * `x-amz-server-side-encryption` denied?", "is plain HTTP denied?".
 *
 * The bucket (`arn:aws:s3:::b`) and its objects (`arn:aws:s3:::b/*`) are
 * different resources: `s3:GetObject` on `arn:aws:s3:::b` grants nothing.
 */
import { BlockList, isIP } from 'node:net';

type Json = unknown;

export interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal?: Json;
  NotPrincipal?: Json;
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, Record<string, Json>>;
}

export interface Policy {
  Version?: string;
  Statement: Statement[];
}

/** Who asks: an AWS principal (`arn:aws:iam::123456789012:user/x`, `*` for anonymous) or a service (`logging.s3.amazonaws.com`). */
export interface Caller {
  aws?: string;
  service?: string;
}

export interface Request {
  caller: Caller;
  action: string;
  resource: string;
  /** Condition keys (case-insensitive names); a key absent here is absent from the request. */
  context?: Record<string, string | string[] | boolean | number>;
}

export type Decision = 'Allow' | 'Deny' | 'NotApplicable';

const list = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

/** A policy document from CloudTrail's `bucketPolicy` (object or JSON text); null when it is not one. */
export function parsePolicy(doc: Json): Policy | null {
  let p = doc;
  if (typeof p === 'string') {
    try {
      p = JSON.parse(p) as Json;
    } catch {
      return null;
    }
  }
  if (!p || typeof p !== 'object' || !('Statement' in p)) return null;
  const statements = list((p as { Statement: unknown }).Statement).filter((s): s is Statement => !!s && typeof s === 'object' && ((s as Statement).Effect === 'Allow' || (s as Statement).Effect === 'Deny'));
  return { Version: (p as Policy).Version, Statement: statements };
}

/** IAM wildcard match: `*` any run, `?` one character; case-insensitive when asked (actions). */
export function wildcard(pattern: string, value: string, caseInsensitive = false): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, caseInsensitive ? 'is' : 's');
  return re.test(value);
}

/** Account id of an ARN or bare id, or null. */
export function accountOf(principal: string): string | null {
  if (/^\d{12}$/.test(principal)) return principal;
  const m = /^arn:aws[\w-]*:(?:iam|sts)::(\d{12}):/.exec(principal);
  return m ? (m[1] as string) : null;
}

function principalMatches(p: Json, caller: Caller): boolean {
  if (p === '*') return true;
  if (!p || typeof p !== 'object') return false;
  const o = p as Record<string, Json>;
  for (const aws of list(o.AWS as string | string[])) {
    if (aws === '*') return caller.aws !== undefined;
    if (caller.aws === undefined || caller.aws === '*') continue;
    if (aws === caller.aws) return true;
    // An account (bare id or :root) stands for every principal of that account.
    const acct = /^\d{12}$/.test(aws) ? aws : (/^arn:aws[\w-]*:iam::(\d{12}):root$/.exec(aws)?.[1] ?? null);
    if (acct && accountOf(caller.aws) === acct) return true;
  }
  for (const svc of list(o.Service as string | string[])) if (caller.service !== undefined && svc === caller.service) return true;
  return false;
}

function contextValue(ctx: Request['context'], key: string): string[] | undefined {
  if (!ctx) return undefined;
  const k = Object.keys(ctx).find((x) => x.toLowerCase() === key.toLowerCase());
  if (k === undefined) return undefined;
  return list(ctx[k] as string | string[]).map(String);
}

/** The CIDRs (or lone addresses) of an IP condition, IPv4 and IPv6 apart; null if one of them is not a CIDR. */
function ipRanges(cidrs: string[]): { v4: BlockList; v6: BlockList } | null {
  const v4 = new BlockList();
  const v6 = new BlockList();
  for (const cidr of cidrs) {
    const m = /^([^/%]+)(?:\/(\d{1,3}))?$/.exec(cidr.trim()); // no zone id (`%eth0`): not in a policy
    const family = m ? isIP(m[1] as string) : 0;
    const bits = family === 4 ? 32 : 128;
    const prefix = m?.[2] === undefined ? bits : Number(m[2]);
    if (!m || family === 0 || prefix > bits) return null;
    try {
      if (family === 4) v4.addSubnet(m[1] as string, prefix, 'ipv4');
      else v6.addSubnet(m[1] as string, prefix, 'ipv6');
    } catch {
      return null; // an address isIP takes and BlockList does not
    }
  }
  return { v4, v6 };
}

/**
 * Whether `ip` lies in one of the ranges. Each family is checked against its
 * own ranges: BlockList would find every IPv4 address in `::/0`, where AWS
 * keeps them apart. An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) is in
 * the IPv4 ranges too. What is not an address (a service name) is in none.
 */
function inRanges(ip: string, r: { v4: BlockList; v6: BlockList }): boolean {
  const family = isIP(ip);
  try {
    if (family === 4) return r.v4.check(ip, 'ipv4');
    if (family === 6) return r.v6.check(ip, 'ipv6') || r.v4.check(ip, 'ipv6');
  } catch {
    // Not an address BlockList reads: in no range.
  }
  return false;
}

/** One condition operator against the request's values of one key. */
function operatorHolds(op: string, actual: string[] | undefined, expected: string[]): boolean {
  const base = op.replace(/IfExists$/, '');
  if (op.endsWith('IfExists') && actual === undefined) return true;
  if (base === 'Null') return expected.some((e) => (String(e).toLowerCase() === 'true') === (actual === undefined));
  if (actual === undefined) return base.startsWith('StringNot') || base.startsWith('ArnNot') || base === 'NotIpAddress' ? true : false;
  const any = (test: (a: string, e: string) => boolean): boolean => actual.some((a) => expected.some((e) => test(a, e)));
  switch (base) {
    case 'StringEquals':
    case 'ArnEquals':
      return any((a, e) => a === e);
    case 'StringEqualsIgnoreCase':
      return any((a, e) => a.toLowerCase() === e.toLowerCase());
    case 'StringNotEquals':
    case 'ArnNotEquals':
      return !any((a, e) => a === e);
    case 'StringNotEqualsIgnoreCase':
      return !any((a, e) => a.toLowerCase() === e.toLowerCase());
    case 'StringLike':
    case 'ArnLike':
      return any((a, e) => wildcard(e, a));
    case 'StringNotLike':
    case 'ArnNotLike':
      return !any((a, e) => wildcard(e, a));
    case 'Bool':
      return any((a, e) => a.toLowerCase() === e.toLowerCase());
    case 'IpAddress':
    case 'NotIpAddress': {
      // A value that is not a CIDR holds for nothing, like an unknown operator: no Allow on a guess.
      const ranges = ipRanges(expected);
      if (!ranges) return false;
      const inside = actual.some((a) => inRanges(a, ranges));
      return base === 'IpAddress' ? inside : !inside;
    }
    case 'NumericEquals':
      return any((a, e) => Number(a) === Number(e));
    case 'NumericNotEquals':
      return !any((a, e) => Number(a) === Number(e));
    case 'NumericLessThan':
      return any((a, e) => Number(a) < Number(e));
    case 'NumericLessThanEquals':
      return any((a, e) => Number(a) <= Number(e));
    case 'NumericGreaterThan':
      return any((a, e) => Number(a) > Number(e));
    case 'NumericGreaterThanEquals':
      return any((a, e) => Number(a) >= Number(e));
    case 'DateLessThan':
      return any((a, e) => Date.parse(a) < Date.parse(e));
    case 'DateGreaterThan':
      return any((a, e) => Date.parse(a) > Date.parse(e));
    default:
      // An operator this evaluator does not know: treated as not holding, so no Allow is granted on a guess.
      return false;
  }
}

function conditionsHold(cond: Statement['Condition'], ctx: Request['context']): boolean {
  if (!cond) return true;
  for (const [rawOp, keys] of Object.entries(cond)) {
    for (const [key, want] of Object.entries(keys ?? {})) {
      const expected = list(want as string | string[]).map(String);
      const actual = contextValue(ctx, key);
      const setOp = /^(ForAnyValue|ForAllValues):(.*)$/.exec(rawOp);
      let holds: boolean;
      if (setOp?.[1] === 'ForAllValues') holds = actual === undefined || actual.every((a) => operatorHolds(setOp[2] as string, [a], expected));
      else if (setOp?.[1] === 'ForAnyValue') holds = actual !== undefined && actual.some((a) => operatorHolds(setOp[2] as string, [a], expected));
      else holds = operatorHolds(rawOp, actual, expected);
      if (!holds) return false;
    }
  }
  return true;
}

/** Whether a statement applies to a request. */
export function statementApplies(s: Statement, r: Request): boolean {
  if (s.Principal !== undefined && !principalMatches(s.Principal, r.caller)) return false;
  if (s.NotPrincipal !== undefined && principalMatches(s.NotPrincipal, r.caller)) return false;
  if (s.Principal === undefined && s.NotPrincipal === undefined) return false;
  if (s.Action !== undefined && !list(s.Action).some((a) => wildcard(a, r.action, true))) return false;
  if (s.NotAction !== undefined && list(s.NotAction).some((a) => wildcard(a, r.action, true))) return false;
  if (s.Action === undefined && s.NotAction === undefined) return false;
  if (s.Resource !== undefined && !list(s.Resource).some((x) => wildcard(x, r.resource))) return false;
  if (s.NotResource !== undefined && list(s.NotResource).some((x) => wildcard(x, r.resource))) return false;
  return conditionsHold(s.Condition, r.context);
}

/** The policy's decision for one request: an explicit Deny wins, then an Allow, else not applicable. */
export function evaluate(policy: Policy, r: Request): Decision {
  let allowed = false;
  for (const s of policy.Statement) {
    if (!statementApplies(s, r)) continue;
    if (s.Effect === 'Deny') return 'Deny';
    allowed = true;
  }
  return allowed ? 'Allow' : 'NotApplicable';
}

export interface PolicyAnalysis {
  /** An anonymous caller from anywhere, over HTTPS, is allowed one of these actions. */
  public: boolean;
  publicActions: string[];
  /** A PutObject without `x-amz-server-side-encryption` is denied to a caller the policy otherwise lets in. */
  deniesUnencryptedUploads: boolean;
  /** Algorithms a PutObject may name without being denied (empty: the policy says nothing about encryption). */
  allowedEncryption: string[];
  /** Requests over plain HTTP (`aws:SecureTransport` false) are denied. */
  deniesInsecureTransport: boolean;
  /** VPC endpoints outside of which requests are denied (empty: no such restriction). */
  vpcEndpoints: string[];
  /** Accounts other than the owner that the policy lets in (by ARN, account id, or an account condition). */
  externalAccounts: string[];
}

const ALGORITHMS = ['AES256', 'aws:kms', 'aws:kms:dsse'];
const PROBE_ACTIONS = ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:ListBucket', 's3:GetBucketAcl', 's3:PutBucketPolicy', 's3:PutObjectAcl'];
const ANYWHERE = { 'aws:SecureTransport': 'true', 'aws:SourceIp': '198.51.100.200' };

/** A principal of AWS services only (their account conditions say on whose behalf they act, not who gets in). */
function onlyServices(p: Json): boolean {
  return !!p && typeof p === 'object' && Object.keys(p).length > 0 && Object.keys(p).every((k) => k === 'Service');
}

/** Every account a statement's principal or account conditions name. */
function accountsNamed(s: Statement): string[] {
  const out: string[] = [];
  const p = s.Principal;
  if (p && typeof p === 'object') for (const a of list((p as Record<string, Json>).AWS as string | string[])) {
    const acct = accountOf(a);
    if (acct) out.push(acct);
  }
  for (const [op, keys] of Object.entries(s.Condition ?? {})) {
    if (!/^(ForAnyValue:)?String(Equals|Like)/.test(op)) continue;
    for (const [key, want] of Object.entries(keys ?? {})) {
      const k = key.toLowerCase();
      if (k === 'aws:principalaccount' || k === 'aws:sourceaccount' || k === 'aws:resourceaccount') out.push(...list(want as string | string[]).map(String).filter((v) => /^\d{12}$/.test(v)));
      if (k === 'aws:principalarn' || k === 'aws:sourcearn') out.push(...list(want as string | string[]).map((v) => accountOf(String(v)) ?? '').filter(Boolean));
    }
  }
  return out;
}

/**
 * What a bucket's policy means for its security posture, by evaluating
 * representative requests. `owner` is the bucket owner's account id.
 */
export function analyzePolicy(policy: Policy, bucket: string, owner: string | null): PolicyAnalysis {
  const obj = `arn:aws:s3:::${bucket}/posture-probe`;
  const bkt = `arn:aws:s3:::${bucket}`;
  const resourceFor = (action: string): string => (/^s3:(ListBucket|GetBucket|PutBucket)/.test(action) ? bkt : obj);
  const anonymous: Caller = { aws: '*' };
  const publicActions = PROBE_ACTIONS.filter((a) => evaluate(policy, { caller: anonymous, action: a, resource: resourceFor(a), context: ANYWHERE }) === 'Allow');

  // A caller of the owner's account, otherwise let in: what does the policy deny it?
  const insider: Caller = { aws: `arn:aws:iam::${owner ?? '000000000000'}:user/posture-probe` };
  const put = (ctx: Record<string, string>): Decision => evaluate(policy, { caller: insider, action: 's3:PutObject', resource: obj, context: { ...ANYWHERE, ...ctx } });
  const deniesUnencryptedUploads = put({}) === 'Deny';
  const deniedAlgorithms = ALGORITHMS.filter((alg) => put({ 's3:x-amz-server-side-encryption': alg }) === 'Deny');
  const allowedEncryption = deniesUnencryptedUploads || deniedAlgorithms.length ? ALGORITHMS.filter((a) => !deniedAlgorithms.includes(a)) : [];
  const get = (ctx: Record<string, string>): Decision => evaluate(policy, { caller: insider, action: 's3:GetObject', resource: obj, context: { ...ANYWHERE, ...ctx } });
  const deniesInsecureTransport = get({ 'aws:SecureTransport': 'false' }) === 'Deny' && get({}) !== 'Deny';

  // VPC endpoints named in Deny statements' conditions, kept if requests through them are not denied and others are.
  const named = new Set<string>();
  for (const s of policy.Statement) {
    if (s.Effect !== 'Deny') continue;
    for (const keys of Object.values(s.Condition ?? {})) for (const [k, v] of Object.entries(keys ?? {})) if (k.toLowerCase() === 'aws:sourcevpce') for (const x of list(v as string | string[])) named.add(String(x));
  }
  const outside = get({ 'aws:SourceVpce': 'vpce-00000000posture' }) === 'Deny';
  const vpcEndpoints = outside ? [...named].filter((v) => get({ 'aws:SourceVpce': v }) !== 'Deny') : [];

  const external = new Set<string>();
  for (const s of policy.Statement) {
    if (s.Effect !== 'Allow' || onlyServices(s.Principal)) continue;
    for (const acct of accountsNamed(s)) if (acct !== owner) external.add(acct);
  }
  return {
    public: publicActions.length > 0, publicActions, deniesUnencryptedUploads, allowedEncryption, deniesInsecureTransport, vpcEndpoints,
    externalAccounts: [...external].sort(),
  };
}
