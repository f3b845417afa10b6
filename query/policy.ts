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
 *
 * Policies are written by whoever could call PutBucketPolicy, an attacker
 * included, so nothing here builds a regular expression from policy text:
 * wildcards are matched segment by segment without backtracking, a policy
 * too large for S3 to accept is not read, and the search for a public
 * request has a fixed budget of work.
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

/**
 * The largest policy read, as JSON text: S3 takes bucket policies of up to
 * 20 KB, so a larger one is not a policy S3 accepted (a log built to make
 * the evaluator slow, say).
 */
export const MAX_POLICY_CHARS = 64 * 1024;

/**
 * A policy document from CloudTrail's `bucketPolicy`: an object (as
 * CloudTrail logs it), JSON text, JSON text of JSON text (a tool that
 * encoded it twice), or a one-item list of text; null when it is not one
 * (a statement of a shape S3 refuses: an Effect but Allow or Deny, an Action
 * that is not text, ...), or is larger than MAX_POLICY_CHARS.
 */
export function parsePolicy(doc: Json): Policy | null {
  let p = doc;
  for (let depth = 0; depth < 3; depth++) {
    if (Array.isArray(p) && p.length === 1 && typeof p[0] === 'string') p = p[0];
    if (typeof p !== 'string') break;
    if (p.length > MAX_POLICY_CHARS) return null;
    try {
      p = JSON.parse(p) as Json;
    } catch {
      return null;
    }
  }
  if (!p || typeof p !== 'object' || Array.isArray(p) || !('Statement' in p)) return null;
  if (typeof doc !== 'string' && JSON.stringify(p).length > MAX_POLICY_CHARS) return null;
  const statements = list((p as { Statement: unknown }).Statement);
  // S3 refuses a policy with a statement of another shape: one in the log is not a policy S3 took, and is not guessed at.
  if (!statements.every(wellFormed)) return null;
  return { Version: (p as Policy).Version, Statement: statements };
}

const isText = (x: unknown): x is string => typeof x === 'string';
const isObject = (x: unknown): x is Record<string, unknown> => !!x && typeof x === 'object' && !Array.isArray(x);
/** Text, or a list of text (an Action, a Resource, a principal's accounts). */
const textOrList = (x: unknown): boolean => isText(x) || (Array.isArray(x) && x.every(isText));
/** A condition value: text, a number or a boolean, or a list of them. */
const conditionValue = (x: unknown): boolean => {
  const scalar = (v: unknown): boolean => isText(v) || typeof v === 'number' || typeof v === 'boolean';
  return scalar(x) || (Array.isArray(x) && x.every(scalar));
};

/** A statement of the shape IAM takes: Effect Allow or Deny, and every element of its type. */
function wellFormed(s: unknown): s is Statement {
  if (!isObject(s) || (s.Effect !== 'Allow' && s.Effect !== 'Deny')) return false;
  if (s.Sid !== undefined && !isText(s.Sid)) return false;
  for (const k of ['Action', 'NotAction', 'Resource', 'NotResource'] as const) if (s[k] !== undefined && !textOrList(s[k])) return false;
  for (const k of ['Principal', 'NotPrincipal'] as const) {
    const v = s[k];
    if (v !== undefined && v !== '*' && !(isObject(v) && Object.values(v).every(textOrList))) return false;
  }
  if (s.Condition !== undefined) {
    if (!isObject(s.Condition)) return false;
    for (const clause of Object.values(s.Condition)) if (!isObject(clause) || !Object.values(clause).every(conditionValue)) return false;
  }
  return true;
}

/**
 * Work left before a policy is judged too complex to evaluate: wildcard
 * matching spends it, analyzePolicy sets it. Outside analyzePolicy there is
 * no limit.
 */
let budget = Infinity;
class TooComplex extends Error {}
const spend = (n: number): void => {
  budget -= n;
  if (budget < 0) throw new TooComplex('policy too complex to evaluate');
};

/** Whether `seg` (whose `?` stands for any one character) matches `value` at `at`. */
function segmentAt(seg: string, value: string, at: number): boolean {
  if (at < 0 || at + seg.length > value.length) return false;
  spend(seg.length);
  for (let i = 0; i < seg.length; i++) if (seg[i] !== '?' && seg[i] !== value[at + i]) return false;
  return true;
}

/** The first place at or after `from` where `seg` matches and ends by `end`, or -1. */
function findSegment(seg: string, value: string, from: number, end: number): number {
  if (!seg.includes('?')) {
    spend(end - from + seg.length);
    const at = value.indexOf(seg, from);
    return at >= 0 && at + seg.length <= end ? at : -1;
  }
  for (let at = from; at + seg.length <= end; at++) if (segmentAt(seg, value, at)) return at;
  return -1;
}

/**
 * IAM wildcard match: `*` any run, `?` one character; case-insensitive when
 * asked (actions). The pattern is cut at its `*`s: the first piece must
 * start the value, the last end it, and each piece between is taken at its
 * first place after the one before. That first place is always right (a
 * `*` takes whatever lies between), so nothing is tried twice: no
 * backtracking, whatever the pattern.
 */
export function wildcard(pattern: string, value: string, caseInsensitive = false): boolean {
  if (caseInsensitive) {
    pattern = pattern.toLowerCase();
    value = value.toLowerCase();
  }
  const segs = pattern.split('*');
  const first = segs[0] as string;
  if (segs.length === 1) return pattern.length === value.length && segmentAt(pattern, value, 0);
  const last = segs[segs.length - 1] as string;
  if (first.length + last.length > value.length) return false;
  if (!segmentAt(first, value, 0) || !segmentAt(last, value, value.length - last.length)) return false;
  let pos = first.length;
  const end = value.length - last.length;
  for (let i = 1; i < segs.length - 1; i++) {
    const seg = segs[i] as string;
    if (seg === '') continue;
    const at = findSegment(seg, value, pos, end);
    if (at < 0) return false;
    pos = at + seg.length;
  }
  return true;
}

/** The six colon-separated parts of an ARN (the last keeps its colons), or null. */
function arnParts(arn: string): string[] | null {
  const parts = arn.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return null;
  return [...parts.slice(0, 5), parts.slice(5).join(':')];
}

/** ArnLike: each of the ARN's six parts matched on its own, so a wildcard never runs across a colon. */
export function arnLike(pattern: string, value: string): boolean {
  const p = arnParts(pattern);
  const v = arnParts(value);
  if (!p || !v) return wildcard(pattern, value);
  return p.every((part, i) => wildcard(part, v[i] as string));
}

/** Account id of an ARN or bare id, or null. */
export function accountOf(principal: string): string | null {
  if (/^\d{12}$/.test(principal)) return principal;
  const account = arnParts(principal)?.[4];
  return account !== undefined && /^\d{12}$/.test(account) ? account : null;
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
      return any((a, e) => a === e);
    case 'StringEqualsIgnoreCase':
      return any((a, e) => a.toLowerCase() === e.toLowerCase());
    case 'StringNotEquals':
      return !any((a, e) => a === e);
    case 'StringNotEqualsIgnoreCase':
      return !any((a, e) => a.toLowerCase() === e.toLowerCase());
    case 'StringLike':
      return any((a, e) => wildcard(e, a));
    case 'StringNotLike':
      return !any((a, e) => wildcard(e, a));
    // ArnEquals and ArnLike are the same test: each ARN part on its own, wildcards allowed in both.
    case 'ArnEquals':
    case 'ArnLike':
      return any((a, e) => arnLike(e, a));
    case 'ArnNotEquals':
    case 'ArnNotLike':
      return !any((a, e) => arnLike(e, a));
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

/** One test of a Condition block: an operator (as written, `ForAnyValue:` and `IfExists` included), a key and its values. */
interface Clause {
  op: string;
  key: string;
  /** The key in lower case: condition keys are case-insensitive. */
  lkey: string;
  values: string[];
}

/** The tests of a Condition block; one that is not a mapping is a test nothing passes. */
function clausesOf(cond: Statement['Condition']): Clause[] {
  const out: Clause[] = [];
  if (cond === undefined || cond === null) return out;
  if (typeof cond !== 'object' || Array.isArray(cond)) return [{ op: '', key: '', lkey: '', values: [] }];
  for (const [op, keys] of Object.entries(cond)) {
    if (!keys || typeof keys !== 'object' || Array.isArray(keys)) {
      out.push({ op: '', key: '', lkey: '', values: [] });
      continue;
    }
    for (const [key, want] of Object.entries(keys)) out.push({ op, key, lkey: key.toLowerCase(), values: list(want as string | string[]).map(String) });
  }
  return out;
}

function clauseHolds(c: Clause, ctx: Request['context']): boolean {
  spend(1 + c.values.length);
  const actual = contextValue(ctx, c.key);
  const setOp = /^(ForAnyValue|ForAllValues):(.*)$/.exec(c.op);
  if (setOp?.[1] === 'ForAllValues') return actual === undefined || actual.every((a) => operatorHolds(setOp[2] as string, [a], c.values));
  if (setOp?.[1] === 'ForAnyValue') return actual !== undefined && actual.some((a) => operatorHolds(setOp[2] as string, [a], c.values));
  return operatorHolds(c.op, actual, c.values);
}

function conditionsHold(cond: Statement['Condition'], ctx: Request['context']): boolean {
  return clausesOf(cond).every((c) => clauseHolds(c, ctx));
}

/** Whether a statement applies to a request. */
export function statementApplies(s: Statement, r: Request): boolean {
  if (s.Principal !== undefined && !principalMatches(s.Principal, r.caller)) return false;
  if (s.NotPrincipal !== undefined && principalMatches(s.NotPrincipal, r.caller)) return false;
  if (s.Principal === undefined && s.NotPrincipal === undefined) return false;
  return matchesRequest(s, r.action, r.resource) && conditionsHold(s.Condition, r.context);
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
  /** Someone outside the owner's control, anonymous or of any AWS account, may do one of the actions below: see publicGrants. */
  public: boolean;
  /** Of the common actions (GetObject, PutObject, DeleteObject, ListBucket, ...), those the public may do; when none of them, the other S3 actions it may. */
  publicActions: string[];
  /** The Allow statements that let the public in, with the actions each grants it. */
  publicStatements: PublicStatement[];
  /** The policy was too complex to evaluate within the budget: Allow statements whose principal takes in anyone were taken as public. */
  tooComplex: boolean;
  /** A PutObject without `x-amz-server-side-encryption` is denied to a caller the policy otherwise lets in. */
  deniesUnencryptedUploads: boolean;
  /** Algorithms a PutObject may name without being denied (empty: the policy says nothing about encryption). */
  allowedEncryption: string[];
  /** Requests over plain HTTP (`aws:SecureTransport` false) are denied. */
  deniesInsecureTransport: boolean;
  /** VPC endpoints outside of which requests are denied (empty: no such restriction). */
  vpcEndpoints: string[];
  /** VPCs (`aws:SourceVpc`) outside of which requests are denied (empty: no such restriction). */
  vpcs: string[];
  /**
   * Accounts other than the owner that the policy lets in (by ARN, account
   * id, or an account condition); a pattern (`*`, `1111*`) where an ARN or
   * account condition has a wildcard in the account: any account it matches.
   */
  externalAccounts: string[];
}

export interface PublicStatement {
  /** Position in the policy's Statement list, from 0. */
  index: number;
  sid: string | null;
  actions: string[];
  statement: Statement;
}

/** The common actions a public grant is described by (posture shows these). */
const PROBE_ACTIONS = ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:ListBucket', 's3:GetBucketAcl', 's3:PutBucketPolicy', 's3:PutObjectAcl'];
/**
 * The other actions AWS counts when it calls a policy public ("bad
 * actions": s3:Get*, s3:List*, s3:Put*, s3:Delete*, s3:AbortMultipartUpload,
 * s3:RestoreObject), a policy that grants one of them and none of the
 * common ones included. Actions a policy names are tried too.
 */
const MORE_ACTIONS = [
  's3:GetObjectVersion', 's3:GetObjectAcl', 's3:GetObjectTagging', 's3:GetObjectAttributes', 's3:PutObjectTagging', 's3:DeleteObjectVersion',
  's3:RestoreObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts', 's3:ListBucketVersions', 's3:ListBucketMultipartUploads',
  's3:GetBucketPolicy', 's3:GetBucketLocation', 's3:PutBucketAcl', 's3:DeleteBucketPolicy', 's3:PutBucketPublicAccessBlock', 's3:DeleteBucket',
];
const OBJECT_ACTION = /^s3:(GetObject|PutObject|DeleteObject|RestoreObject|AbortMultipartUpload|ListMultipartUploadParts|Replicate|BypassGovernanceRetention)/i;
const BUCKET_ACTION = /^s3:(ListBucket|GetBucket|PutBucket|DeleteBucket|GetEncryption|PutEncryption|GetLifecycle|PutLifecycle|GetReplication|PutReplication)/i;

const ALGORITHMS = ['AES256', 'aws:kms', 'aws:kms:dsse'];
const ANYWHERE = { 'aws:SecureTransport': 'true', 'aws:SourceIp': '198.51.100.200' };
/** Work allowed for one policy's analysis (characters compared in wildcards, values in condition tests): about a second at most. */
const BUDGET = 10_000_000;

/**
 * Condition keys whose value says who or where the caller is, not chosen by
 * the caller: a fixed value of one keeps a statement from being public (as
 * AWS decides it: https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html#access-control-block-public-access-policy-status).
 * Anyone has their own account, organisation, VPC and endpoint, so these
 * take no value the policy names, but do take what a wildcard in it lets in.
 * Every other key the caller sets as it likes: the request's own
 * (aws:SecureTransport, aws:UserAgent, aws:Referer, s3:prefix, headers), and
 * what an outsider sets in its own account (aws:PrincipalTag/..., aws:username,
 * aws:PrincipalType) or gets by using a service (aws:ViaAWSService, aws:CalledVia).
 */
const IDENTITY_KEYS = new Set([
  'aws:principalorgid', 'aws:principalorgpaths', 'aws:principalaccount', 'aws:principalarn', 'aws:principalisawsservice', 'aws:principalservicename',
  'aws:principalservicenameslist', 'aws:userid', 'aws:sourcevpc', 'aws:sourcevpce', 'aws:sourcevpcarn', 'aws:vpcsourceip',
  'aws:sourceaccount', 'aws:sourcearn', 'aws:sourceowner', 'aws:sourceorgid', 'aws:sourceorgpaths', 'aws:ec2instancesourcevpc', 'aws:ec2instancesourceprivateipv4',
  's3:dataaccesspointarn', 's3:dataaccesspointaccount', 's3:accesspointnetworkorigin', 's3:x-amz-server-side-encryption-aws-kms-key-id',
]);
const isIdentityKey = (lkey: string): boolean => IDENTITY_KEYS.has(lkey);
/** Values of identity keys that anyone has (an anonymous caller's user id, say). */
const ANYONE_HAS: Record<string, string[]> = {
  'aws:userid': ['anonymous'],
  'aws:principalisawsservice': ['false'],
};
/** Keys every S3 request has: never absent. */
const ALWAYS_PRESENT = new Set(['aws:securetransport', 'aws:sourceip', 'aws:currenttime', 'aws:epochtime']);
/** A value of a key nobody named: an outsider's own account, organisation, user agent, ... */
const OUTSIDER = 's3sift-outsider';

/** The value a wildcard pattern takes with `*` as `fill` and `?` as `x`. */
const instance = (pattern: string, fill: string): string => pattern.replaceAll('*', fill).replaceAll('?', 'x');
const hasWildcard = (v: string): boolean => v.includes('*') || v.includes('?');

/**
 * Whether anyone can have a value the wildcard pattern of an identity key
 * matches: a pattern whose wildcard is in an ARN's account part (or in an
 * ARN without an account, a bucket's), in a user id's unique id (not in
 * `AROAEXAMPLE:*`, a role's sessions), in an organisation path's
 * organisation (not in `o-a1b2c3d4e5/*`, its units), or anywhere in an id
 * (`vpc-*`).
 */
function anyoneMatches(lkey: string, pattern: string): boolean {
  if (!hasWildcard(pattern)) return false;
  const arn = arnParts(pattern);
  if (arn) return hasWildcard(arn[4] as string) || ((arn[4] as string) === '' && hasWildcard(pattern));
  if (lkey === 'aws:userid') return hasWildcard(pattern.split(':')[0] as string);
  if (lkey.endsWith('orgpaths')) return hasWildcard(pattern.split('/')[0] as string);
  return true;
}

// ---- Addresses: who is "anyone on the internet" for aws:SourceIp ----

interface Cidr {
  family: 4 | 6;
  start: bigint;
  prefix: number;
}

function ipToBigInt(ip: string): { family: 4 | 6; n: bigint } | null {
  const family = isIP(ip);
  if (family === 4) return { family: 4, n: ip.split('.').reduce((n, o) => (n << 8n) + BigInt(Number(o)), 0n) };
  if (family !== 6) return null;
  let text = ip;
  const v4tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4tail) {
    const n = ipToBigInt(v4tail[1] as string)?.n ?? 0n;
    text = `${text.slice(0, -(v4tail[1] as string).length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return { family: 6, n: groups.reduce((n, g) => (n << 16n) + BigInt(parseInt(g, 16)), 0n) };
}

function bigIntToIp(family: 4 | 6, n: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 255n)).join('.');
  return Array.from({ length: 8 }, (_, i) => ((n >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(':');
}

/** The CIDRs of an IP condition's values, or null if one is not a CIDR (the condition then holds for nothing). */
function cidrsOf(values: string[]): Cidr[] | null {
  const out: Cidr[] = [];
  for (const v of values) {
    const m = /^([^/%]+)(?:\/(\d{1,3}))?$/.exec(v.trim());
    const ip = m ? ipToBigInt(m[1] as string) : null;
    if (!m || !ip) return null;
    const bits = ip.family === 4 ? 32 : 128;
    const prefix = m[2] === undefined ? bits : Number(m[2]);
    if (prefix > bits) return null;
    const host = (1n << BigInt(bits - prefix)) - 1n;
    out.push({ family: ip.family, start: ip.n & ~host, prefix });
  }
  return out;
}

/** Addresses no caller on the internet has (private, loopback, link-local, this-network, shared). */
const NOT_INTERNET = ipRanges(['0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.168.0.0/16', '::/128', '::1/128', 'fc00::/7', 'fe80::/10']) as { v4: BlockList; v6: BlockList };
/** A public address of each family: where anyone calls from, unless the policy names it. */
const ANY_V4 = '198.51.100.200';
const ANY_V6 = '2001:db8:5ec::200';
const MAX_ADDRESSES = 128;

/**
 * Whether an IP condition's ranges take in the internet at large, rather
 * than the owner's own networks: more public addresses than a /7 holds
 * (IPv4: 0.0.0.0/0, or 0.0.0.0/1 with 128.0.0.0/1, or a long list of /8s;
 * IPv6 likewise). Ranges of a /8 or less, and private ones, are the
 * owner's: a grant to them is not public, as AWS decides it.
 */
function wideRanges(cidrs: Cidr[]): boolean {
  let v4 = 0n;
  let v6 = 0n;
  for (const c of cidrs) {
    if (inRanges(bigIntToIp(c.family, c.start), NOT_INTERNET) && c.prefix >= (c.family === 4 ? 8 : 7)) continue;
    if (c.family === 4) v4 += 1n << BigInt(32 - c.prefix);
    else v6 += 1n << BigInt(128 - c.prefix);
  }
  return v4 >= 1n << 25n || v6 >= 1n << 121n;
}

/**
 * The addresses "anyone on the internet" may call from, for a policy's
 * aws:SourceIp tests: a public address of each family and the edges of each
 * range named. When the ranges its Allows take in are wide (see wideRanges,
 * counted over the whole policy, so a range split over many statements is
 * still seen), they are the internet and anyone may be in them; otherwise
 * they are the owner's networks and nobody outside is in any range named.
 * At most MAX_ADDRESSES addresses are tried.
 */
function internetAddresses(policy: Policy): string[] {
  const clauses = policy.Statement.flatMap((s) => clausesOf(s.Condition)).filter((c) => c.lkey === 'aws:sourceip');
  // The ranges requests are let in from: an Allow's IpAddress, a Deny's NotIpAddress ("deny unless from").
  const granted = policy.Statement.filter((s) => takesAnyone(s)).flatMap((s) => clausesOf(s.Condition).filter((c) =>
    c.lkey === 'aws:sourceip' && (s.Effect === 'Allow' ? /^(ForAnyValue:)?IpAddress(IfExists)?$/ : /^(ForAnyValue:)?NotIpAddress(IfExists)?$/).test(c.op)));
  const wide = wideRanges(granted.flatMap((c) => cidrsOf(c.values) ?? []));
  const candidates = new Set([ANY_V4, ANY_V6]);
  const named: Array<{ v4: BlockList; v6: BlockList }> = [];
  for (const c of clauses.slice(0, 256)) {
    const cidrs = cidrsOf(c.values);
    if (!cidrs) continue;
    const ranges = ipRanges(c.values);
    if (!ranges) continue;
    if (!wide) named.push(ranges);
    for (const r of cidrs.slice(0, 256)) {
      const bits = r.family === 4 ? 32 : 128;
      const top = (1n << BigInt(bits)) - 1n;
      const end = r.start + ((1n << BigInt(bits - r.prefix)) - 1n);
      for (const n of [r.start - 1n, r.start + 1n, end - 1n, end + 1n]) if (n >= 0n && n <= top && candidates.size < MAX_ADDRESSES) candidates.add(bigIntToIp(r.family, n));
    }
  }
  return [...candidates].filter((ip) => !inRanges(ip, NOT_INTERNET) && !named.some((r) => inRanges(ip, r)));
}

// ---- Who is "the public": a search over the requests anyone can make ----

type Context = Record<string, string[]>;

/**
 * The values anyone can give one condition key, as far as the policy's
 * tests of it can tell apart (undefined: the key absent): for a key the
 * caller sets, each value named, what each wildcard takes, a value none
 * names, the numbers and dates on either side of each named; for an
 * identity key, only what an outsider has.
 */
function valuesOfKey(lkey: string, clauses: Clause[], addresses: string[]): Array<string[] | undefined> {
  if (lkey === 'aws:sourceip') return addresses.map((ip) => [ip]);
  const identity = isIdentityKey(lkey);
  const values = new Set<string>(ANYONE_HAS[lkey] ?? []);
  for (const c of clauses) {
    const base = c.op.replace(/^(ForAnyValue|ForAllValues):/, '').replace(/IfExists$/, '');
    for (const v of c.values.slice(0, 256)) {
      if (/Like$|^Arn/.test(base) && hasWildcard(v) && (!identity || anyoneMatches(lkey, v))) {
        values.add(instance(v, ''));
        values.add(instance(v, 's3sift'));
      }
      if (identity) continue;
      values.add(v);
      if (base.startsWith('Numeric') && Number.isFinite(Number(v))) for (const d of [-1, 1]) values.add(String(Number(v) + d));
      if (base.startsWith('Date') && Number.isFinite(Date.parse(v))) for (const d of [-1, 1]) values.add(new Date(Date.parse(v) + d * 86_400_000).toISOString());
      if (base === 'Bool') for (const b of ['true', 'false']) values.add(b);
    }
  }
  values.add(OUTSIDER);
  const out: Array<string[] | undefined> = [...values].map((v) => [v]);
  return ALWAYS_PRESENT.has(lkey) ? out : [undefined, ...out];
}

const withKey = (ctx: Context, lkey: string, v: string[] | undefined): Context => {
  const next = { ...ctx };
  if (v === undefined) delete next[lkey];
  else next[lkey] = v;
  return next;
};

/** The largest number of contexts tried one by one for a statement; beyond it, a greedy search. */
const MAX_CONTEXTS = 512;

/**
 * A context (condition key values anyone can give) in which `allow`'s
 * conditions hold and no Deny's do, or null. The statements are those whose
 * principal, action and resource already match.
 */
function publicContext(allow: Statement, denies: Statement[], addresses: string[]): Context | null {
  const allowClauses = clausesOf(allow.Condition);
  const denyClauses = denies.map((d) => clausesOf(d.Condition));
  const byKey = new Map<string, Clause[]>();
  for (const c of [...allowClauses, ...denyClauses.flat()]) {
    const same = byKey.get(c.lkey);
    if (same) same.push(c);
    else byKey.set(c.lkey, [c]);
  }
  // Each key's values, less those that fail the Allow's own tests of it.
  const domains: Array<[string, Array<string[] | undefined>]> = [];
  for (const [lkey, clauses] of byKey) {
    const own = allowClauses.filter((c) => c.lkey === lkey);
    const values = valuesOfKey(lkey, clauses, addresses).filter((v) => own.every((c) => clauseHolds(c, v === undefined ? {} : { [lkey]: v })));
    if (values.length === 0) return null;
    domains.push([lkey, values]);
  }
  const denied = (ctx: Context): number => denyClauses.filter((cs) => cs.every((c) => clauseHolds(c, ctx))).length;
  const size = domains.reduce((n, [, d]) => n * d.length, 1);
  if (size <= MAX_CONTEXTS) {
    // Every combination.
    let found: Context | null = null;
    const walk = (i: number, ctx: Context): void => {
      if (found) return;
      if (i === domains.length) {
        if (denied(ctx) === 0) found = ctx;
        return;
      }
      const [lkey, values] = domains[i] as [string, Array<string[] | undefined>];
      for (const v of values) walk(i + 1, withKey(ctx, lkey, v));
    };
    walk(0, {});
    return found;
  }
  // Too many: start from each key's first value and change one key at a time while fewer Denies apply.
  let ctx: Context = {};
  for (const [lkey, values] of domains) ctx = withKey(ctx, lkey, values[0]);
  let n = denied(ctx);
  for (let round = 0; n > 0 && round < 2 * domains.length + 2; round++) {
    let better = false;
    for (const [lkey, values] of domains) {
      for (const v of values) {
        const next = withKey(ctx, lkey, v);
        const m = denied(next);
        if (m < n) {
          [ctx, n, better] = [next, m, true];
          if (n === 0) return ctx;
        }
      }
    }
    if (!better) break;
  }
  return n === 0 ? ctx : null;
}

/** Whether a statement's principal takes in anyone (the anonymous caller stands for all). */
const ANYONE: Caller = { aws: '*' };
function takesAnyone(s: Statement): boolean {
  if (s.Principal !== undefined && !principalMatches(s.Principal, ANYONE)) return false;
  if (s.NotPrincipal !== undefined && principalMatches(s.NotPrincipal, ANYONE)) return false;
  return s.Principal !== undefined || s.NotPrincipal !== undefined;
}

function matchesRequest(s: Statement, action: string, resource: string): boolean {
  if (s.Action !== undefined && !list(s.Action).some((a) => wildcard(String(a), action, true))) return false;
  if (s.NotAction !== undefined && list(s.NotAction).some((a) => wildcard(String(a), action, true))) return false;
  if (s.Action === undefined && s.NotAction === undefined) return false;
  if (s.Resource !== undefined && !list(s.Resource).some((x) => wildcard(String(x), resource))) return false;
  if (s.NotResource !== undefined && list(s.NotResource).some((x) => wildcard(String(x), resource))) return false;
  return true;
}

/**
 * The Allow statements that let the public into the bucket, each with the
 * actions it grants: anyone (anonymous, or of any AWS account, from any
 * address on the internet, setting the request's own keys as it likes) can
 * make such a request and no Deny stops it. The requests tried are the
 * common and other "bad" S3 actions and those the policy names, on the
 * bucket and on objects under each prefix the policy grants.
 */
export function publicGrants(policy: Policy, bucket: string): PublicStatement[] {
  const open = policy.Statement.map((s, i) => [s, i] as const).filter(([s]) => s.Effect === 'Allow' && takesAnyone(s));
  if (open.length === 0) return [];
  const denies = policy.Statement.filter((s) => s.Effect === 'Deny' && takesAnyone(s));
  const named = open.flatMap(([s]) => list(s.Action).map(String)).filter((a) => /^s3:[A-Za-z0-9]+$/.test(a));
  const actions = [...new Set([...PROBE_ACTIONS, ...MORE_ACTIONS, ...named.slice(0, 64)])];
  const bkt = `arn:aws:s3:::${bucket}`;
  const keys = new Set([`${bkt}/posture-probe`]);
  for (const [s] of open) for (const r of list(s.Resource).map(String)) if (r.startsWith(`${bkt}/`) && keys.size < 32) keys.add(instance(r, 's3sift'));
  const addresses = internetAddresses(policy);
  const found = new Map<number, Set<string>>();
  // Whether an Allow gets past a set of Denies does not depend on the action: asked once per Allow and set.
  const asked = new Map<string, boolean>();
  for (const action of actions) {
    const resources = OBJECT_ACTION.test(action) ? [...keys] : BUCKET_ACTION.test(action) ? [bkt] : [bkt, ...keys];
    for (const resource of resources) {
      const applying = denies.map((d, j) => [d, j] as const).filter(([d]) => matchesRequest(d, action, resource));
      const set = applying.map(([, j]) => j).join(',');
      for (const [s, i] of open) {
        if (found.get(i)?.has(action) || !matchesRequest(s, action, resource)) continue;
        const key = `${i}:${set}`;
        let gets = asked.get(key);
        if (gets === undefined) asked.set(key, (gets = publicContext(s, applying.map(([d]) => d), addresses) !== null));
        if (gets) found.set(i, (found.get(i) ?? new Set()).add(action));
      }
    }
  }
  return [...found].sort(([a], [b]) => a - b).map(([i, acts]) => {
    const s = policy.Statement[i] as Statement;
    return { index: i, sid: typeof s.Sid === 'string' ? s.Sid : null, actions: describeActions(actions.filter((a) => acts.has(a))), statement: s };
  });
}

/** The common actions of a list, or all of it when it has none. */
function describeActions(actions: string[]): string[] {
  const common = actions.filter((a) => PROBE_ACTIONS.includes(a));
  return common.length ? common : actions;
}

// ---- Other accounts ----

/** A principal of AWS services only (their account conditions say on whose behalf they act, not who gets in). */
function onlyServices(p: Json): boolean {
  return !!p && typeof p === 'object' && Object.keys(p).length > 0 && Object.keys(p).every((k) => k === 'Service');
}

/**
 * Condition keys whose values are accounts, and those whose values are ARNs that name one.
 * kms:CallerAccount is KMS's (a key policy's Principal "*" narrowed to an account):
 * https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-caller-account
 */
const ACCOUNT_KEYS = new Set(['aws:principalaccount', 'aws:sourceaccount', 'aws:sourceowner', 's3:dataaccesspointaccount', 'kms:calleraccount']);
const ARN_KEYS = new Set(['aws:principalarn', 'aws:sourcearn', 's3:dataaccesspointarn']);

/**
 * The account a value names: a 12-digit id, the account part of an ARN, or,
 * where that has a wildcard, the pattern (`*`, `1111*`), which stands for
 * every account it matches.
 */
function accountIn(v: string, isArn: boolean): string | null {
  const account = isArn ? arnParts(v)?.[4] : v;
  if (account === undefined || account === '') return null;
  if (/^\d{12}$/.test(account)) return account;
  return hasWildcard(account) && /^[\d*?]+$/.test(account) ? account : null;
}

/** Every account a statement's principal or its positive account conditions name. */
function accountsNamed(s: Statement): string[] {
  const out: string[] = [];
  const p = s.Principal;
  if (p && typeof p === 'object') for (const a of list((p as Record<string, Json>).AWS as string | string[])) {
    const acct = accountOf(String(a));
    if (acct) out.push(acct);
  }
  for (const c of clausesOf(s.Condition)) {
    const base = c.op.replace(/^(ForAnyValue|ForAllValues):/, '').replace(/IfExists$/, '');
    if (!/^(StringEquals|StringEqualsIgnoreCase|StringLike|ArnEquals|ArnLike)$/.test(base)) continue;
    const isArn = ARN_KEYS.has(c.lkey);
    if (!isArn && !ACCOUNT_KEYS.has(c.lkey)) continue;
    for (const v of c.values) {
      const acct = accountIn(v, isArn);
      if (acct) out.push(acct);
    }
  }
  return out;
}

/** Whether an account (or account pattern) named is the owner alone. */
function isOwner(acct: string, owner: string | null): boolean {
  return owner !== null && (acct === owner || (!acct.includes('?') && acct.replaceAll('*', '') === owner));
}

function withBudget<T>(f: () => T, onTooComplex: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof TooComplex) return onTooComplex();
    throw e;
  }
}

/**
 * What a bucket's policy means for its security posture, by evaluating
 * representative requests. `owner` is the bucket owner's account id.
 */
export function analyzePolicy(policy: Policy, bucket: string, owner: string | null): PolicyAnalysis {
  budget = BUDGET;
  try {
    return analyze(policy, bucket, owner);
  } finally {
    budget = Infinity;
  }
}

function analyze(policy: Policy, bucket: string, owner: string | null): PolicyAnalysis {
  const obj = `arn:aws:s3:::${bucket}/posture-probe`;
  let tooComplex = false;
  const publicStatements = withBudget(
    () => publicGrants(policy, bucket),
    () => {
      // Too much work to tell: every Allow that takes in anyone counts, so a policy cannot hide a public grant behind bulk.
      tooComplex = true;
      budget = BUDGET;
      const actions = (s: Statement): string[] => (s.Action !== undefined ? list(s.Action).map(String) : list(s.NotAction).map((a) => `all but ${String(a)}`)).slice(0, 16);
      return policy.Statement.flatMap((s, i) => (s.Effect === 'Allow' && takesAnyone(s) ? [{ index: i, sid: typeof s.Sid === 'string' ? s.Sid : null, actions: actions(s), statement: s }] : []));
    },
  );
  const publicActions = describeActions([...PROBE_ACTIONS, ...MORE_ACTIONS, ...new Set(publicStatements.flatMap((p) => p.actions))].filter((a, i, all) => all.indexOf(a) === i && publicStatements.some((p) => p.actions.includes(a))));

  // A caller of the owner's account, otherwise let in: what does the policy deny it?
  const insider: Caller = { aws: `arn:aws:iam::${owner ?? '000000000000'}:user/posture-probe` };
  const probe = (action: string, ctx: Record<string, string>): Decision => withBudget(() => evaluate(policy, { caller: insider, action, resource: obj, context: { ...ANYWHERE, ...ctx } }), () => 'NotApplicable');
  const put = (ctx: Record<string, string>): Decision => probe('s3:PutObject', ctx);
  const deniesUnencryptedUploads = put({}) === 'Deny';
  const deniedAlgorithms = ALGORITHMS.filter((alg) => put({ 's3:x-amz-server-side-encryption': alg }) === 'Deny');
  const allowedEncryption = deniesUnencryptedUploads || deniedAlgorithms.length ? ALGORITHMS.filter((a) => !deniedAlgorithms.includes(a)) : [];
  const get = (ctx: Record<string, string>): Decision => probe('s3:GetObject', ctx);
  const deniesInsecureTransport = get({ 'aws:SecureTransport': 'false' }) === 'Deny' && get({}) !== 'Deny';

  // VPC endpoints and VPCs named in Deny statements' conditions, kept if requests from the internet and through
  // another endpoint are denied and requests through them are not.
  const namedVpce = new Set<string>();
  const namedVpc = new Set<string>();
  for (const s of policy.Statement) {
    if (s.Effect !== 'Deny') continue;
    for (const c of clausesOf(s.Condition)) {
      if (c.lkey === 'aws:sourcevpce') for (const v of c.values.slice(0, 256)) namedVpce.add(v);
      if (c.lkey === 'aws:sourcevpc') for (const v of c.values.slice(0, 256)) namedVpc.add(v);
    }
  }
  const OTHER_VPCE = 'vpce-00000000posture';
  const OTHER_VPC = 'vpc-00000000posture';
  const viaEndpoint = (vpce: string, vpc: string): Decision => get({ 'aws:SourceVpce': vpce, 'aws:SourceVpc': vpc, 'aws:SourceIp': '10.0.0.1' });
  const endpointOnly = (namedVpce.size > 0 || namedVpc.size > 0) && get({}) === 'Deny' && viaEndpoint(OTHER_VPCE, OTHER_VPC) === 'Deny';
  const vpcEndpoints = endpointOnly ? [...namedVpce].filter((v) => viaEndpoint(v, OTHER_VPC) !== 'Deny') : [];
  const vpcs = endpointOnly ? [...namedVpc].filter((v) => viaEndpoint(OTHER_VPCE, v) !== 'Deny') : [];

  const external = new Set<string>();
  for (const s of policy.Statement) {
    if (s.Effect !== 'Allow' || onlyServices(s.Principal)) continue;
    for (const acct of accountsNamed(s)) if (!isOwner(acct, owner)) external.add(acct);
  }
  return {
    public: publicStatements.length > 0, publicActions, publicStatements, tooComplex, deniesUnencryptedUploads, allowedEncryption, deniesInsecureTransport,
    vpcEndpoints, vpcs, externalAccounts: [...external].sort(),
  };
}
