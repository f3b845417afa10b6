/**
 * A bucket's security settings over time, reconstructed from the successful
 * CloudTrail management calls that set them. For each setting: the last
 * value at time T, and when and by whom it was set. A setting no call in the
 * logs has set is unknown; it is never filled in with what AWS's default
 * might have been. From the same history come exposure windows: the periods
 * a bucket was public, unversioned, without MFA Delete, without a policy
 * that enforces encryption, or without access logging, each with the count
 * of requests (access log and CloudTrail) that fell in it.
 *
 * A bucket name can have several lives: a successful DeleteBucket ends one
 * (every window still open closes then) and a later successful CreateBucket
 * of the same name starts the next, with nothing inherited, perhaps in
 * another account. Calls on the name between the two are kept aside, never
 * applied: they do not bring the deleted bucket back.
 */
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { sqlString, sqlTimestamp } from '../common/sql.js';
import type { OpenDataset as Dataset } from './dataset.js';
import { rowsOf } from './rows.js';
import { analyzePolicy, parsePolicy, type PolicyAnalysis } from './policy.js';

export const SETTINGS = [
  'versioning', 'mfa_delete', 'default_encryption', 'bucket_policy', 'acl', 'block_public_access',
  'logging', 'lifecycle_expiration', 'replication', 'object_ownership',
] as const;
export type SettingName = (typeof SETTINGS)[number];

/** One change: what a call set a setting to. */
export interface Change {
  time: string;
  bucket: string;
  setting: SettingName;
  /** Human value, e.g. `Enabled`, `SSE-KMS (arn:aws:kms:...)`, `public (s3:GetObject)`. */
  value: string;
  /** The facts behind it, for programs. */
  detail: Record<string, unknown>;
  event_name: string;
  principal: string | null;
  event_id: string | null;
  /** The bucket's life it belongs to (1, 2, ...: see BucketLife). */
  life: number;
}

export interface SettingState {
  value: string;
  detail: Record<string, unknown>;
  since: string;
  by: string | null;
  event_name: string;
  event_id: string | null;
}

export interface ExposureWindow {
  bucket: string;
  exposure: Exposure;
  from: string;
  /** Null: still open at the time asked about. */
  until: string | null;
  /** The change that opened it. */
  opened_by: string | null;
  /** The change that closed it (`DeleteBucket by ...` when the bucket was deleted); null while open. */
  closed_by: string | null;
  /** The bucket's life it belongs to. */
  life: number;
  requests: number;
}

export const EXPOSURES = ['public', 'unversioned', 'no_mfa_delete', 'no_encryption_policy', 'no_logging'] as const;
export type Exposure = (typeof EXPOSURES)[number];

/** A successful CreateBucket or DeleteBucket, or another call, as a bucket's lives record it. */
export interface BucketCall {
  time: string;
  event_name: string;
  principal: string | null;
  source_ip: string | null;
  /** The caller's account (`userIdentity.accountId`). */
  account: string | null;
  event_id: string | null;
}

/**
 * One life of a bucket name: from its CreateBucket (or the first call the
 * logs show, when its CreateBucket is not in them) to its DeleteBucket.
 */
export interface BucketLife {
  /** 1 for the first life the logs show, then 2, 3, ... */
  life: number;
  /** When it began: its CreateBucket, else its first call in the logs. */
  from: string;
  /** When it was deleted; null: the bucket exists at the time asked about. */
  until: string | null;
  /** The successful CreateBucket that began it; null when the logs do not show it. */
  created: BucketCall | null;
  /** The successful DeleteBucket that ended it; null while the bucket exists. */
  deleted: BucketCall | null;
  /** The account that owned the bucket in this life (the receiving account of its CreateBucket, else of its first call). */
  account: string | null;
  /** The previous life's account, when both are known and differ from this one's (the name went to another account). */
  previous_account: string | null;
  /**
   * Successful calls on the name after this life's DeleteBucket and before
   * the next CreateBucket: not applied to any settings and opening no window.
   */
  after_deletion: BucketCall[];
}

export interface BucketPosture {
  bucket: string;
  /**
   * Every setting by name: its state, or null when the logs never show it.
   * Of the current (last) life; for a deleted bucket, as it was when deleted.
   */
  settings: Record<SettingName, SettingState | null>;
  timeline: Change[];
  windows: ExposureWindow[];
  /** The DeleteBucket that ended the current life: the bucket does not exist at the time asked about. Null: it exists (or no call shows it). */
  deleted: BucketCall | null;
  /** Its lives, oldest first (none when the logs show no call on the bucket). */
  lives: BucketLife[];
}

/** The calls that set settings (CreateBucket among them). */
const SETTING_EVENTS = [
  'CreateBucket', 'PutBucketVersioning', 'PutBucketEncryption', 'DeleteBucketEncryption', 'PutBucketPolicy', 'DeleteBucketPolicy', 'PutBucketAcl',
  'PutBucketPublicAccessBlock', 'DeleteBucketPublicAccessBlock', 'PutBucketLogging', 'PutBucketLifecycle', 'PutBucketLifecycleConfiguration',
  'DeleteBucketLifecycle', 'PutBucketReplication', 'DeleteBucketReplication', 'PutBucketOwnershipControls', 'DeleteBucketOwnershipControls',
];

/** SETTING_EVENTS as a SQL list. */
const SETTING_EVENTS_SQL = SETTING_EVENTS.map(sqlString).join(', ');
/** The calls read: those, and DeleteBucket, which ends a bucket's life. */
const EVENTS_SQL = [...SETTING_EVENTS, 'DeleteBucket'].map(sqlString).join(', ');

type Obj = Record<string, unknown>;

async function readRows(conn: DuckDBConnection, sql: string, params?: Record<string, DuckDBValue>): Promise<Array<Record<string, unknown>>> {
  return rowsOf(await conn.runAndReadAll(sql, params)).rows;
}
const obj = (x: unknown): Obj => (x && typeof x === 'object' && !Array.isArray(x) ? (x as Obj) : {});
const arr = (x: unknown): unknown[] => (x === undefined || x === null ? [] : Array.isArray(x) ? x : [x]);
/** A non-empty string, or the first item of a list when that is one (request parameters hold either). */
const firstText = (x: unknown): string | null => (typeof x === 'string' && x !== '' ? x : Array.isArray(x) && typeof x[0] === 'string' && x[0] !== '' ? x[0] : null);
const bool = (x: unknown): boolean => x === true || String(x).toLowerCase() === 'true';

const PUBLIC_GROUPS = /acs\.amazonaws\.com\/groups\/global\/(AllUsers|AuthenticatedUsers)/;
const LOG_DELIVERY = /acs\.amazonaws\.com\/groups\/s3\/LogDelivery/;

/** An ACL from a PutBucketAcl/CreateBucket request: canned (`x-amz-acl`), grant headers, or an AccessControlPolicy body. */
function aclChange(p: Obj): Partial | null {
  const canned = firstText(p['x-amz-acl']);
  const grants: Array<{ grantee: string; permission: string }> = [];
  for (const [k, v] of Object.entries(p)) {
    const m = /^x-amz-grant-([a-z-]+)$/.exec(k);
    if (m) for (const g of String(firstText(v) ?? '').split(',')) if (g.trim()) grants.push({ grantee: g.trim(), permission: m[1] as string });
  }
  for (const g of arr(obj(obj(p.AccessControlPolicy).AccessControlList).Grant)) {
    const grantee = obj(obj(g).Grantee);
    grants.push({ grantee: String(grantee.URI ?? grantee.ID ?? grantee.EmailAddress ?? '?'), permission: String(obj(g).Permission ?? '?') });
  }
  if (!canned && grants.length === 0) return null;
  const publicGrants = grants.filter((g) => PUBLIC_GROUPS.test(g.grantee)).map((g) => `${g.grantee.replace(/.*\//, '')}:${g.permission}`);
  if (canned === 'public-read' || canned === 'public-read-write') publicGrants.push(`AllUsers:${canned === 'public-read' ? 'READ' : 'READ,WRITE'}`);
  if (canned === 'authenticated-read') publicGrants.push('AuthenticatedUsers:READ');
  const logDelivery = canned === 'log-delivery-write' || grants.some((g) => LOG_DELIVERY.test(g.grantee));
  const value = [publicGrants.length ? `public (${publicGrants.join(', ')})` : 'not public', logDelivery ? 'log delivery group may write' : null, canned ? `canned ${canned}` : null].filter(Boolean).join('; ');
  return { setting: 'acl', value, detail: { canned, public: publicGrants.length > 0, publicGrants, logDelivery } };
}

type Partial = Omit<Change, 'time' | 'bucket' | 'event_name' | 'principal' | 'event_id' | 'life'>;

/** What one successful call set (several settings for some calls). */
export function changesOf(eventName: string, params: Obj, bucket: string, owner: string | null): Partial[] {
  switch (eventName) {
    case 'CreateBucket': {
      const acl = aclChange(params);
      const ownership = firstText(params['x-amz-object-ownership']);
      return [...(acl ? [acl] : []), ...(ownership ? [{ setting: 'object_ownership' as const, value: ownershipValue(ownership), detail: { ownership, aclsEnabled: ownership !== 'BucketOwnerEnforced' } }] : [])];
    }
    case 'PutBucketVersioning': {
      const c = obj(params.VersioningConfiguration);
      const out: Partial[] = [];
      const status = firstText(c.Status);
      if (status) out.push({ setting: 'versioning', value: status, detail: { status } });
      const mfa = firstText(c.MfaDelete);
      if (mfa) out.push({ setting: 'mfa_delete', value: mfa, detail: { mfaDelete: mfa } });
      return out;
    }
    case 'PutBucketEncryption': {
      const rules = arr(obj(params.ServerSideEncryptionConfiguration).Rule);
      const by = obj(obj(rules[0]).ApplyServerSideEncryptionByDefault);
      const alg = firstText(by.SSEAlgorithm) ?? '?';
      const key = firstText(by.KMSMasterKeyID);
      const name = alg === 'AES256' ? 'SSE-S3' : alg === 'aws:kms' ? 'SSE-KMS' : alg === 'aws:kms:dsse' ? 'DSSE-KMS' : alg;
      return [{ setting: 'default_encryption', value: key ? `${name} (${key})` : name, detail: { algorithm: alg, kmsKey: key, bucketKey: obj(rules[0]).BucketKeyEnabled ?? null } }];
    }
    case 'DeleteBucketEncryption':
      // Since 2023-01-05 every bucket encrypts new objects with SSE-S3 at least; deleting the configuration returns to that.
      return [{ setting: 'default_encryption', value: 'SSE-S3 (configuration deleted; S3 default)', detail: { algorithm: 'AES256', kmsKey: null, deleted: true } }];
    case 'PutBucketPolicy': {
      const policy = parsePolicy(params.bucketPolicy ?? params.policy);
      if (!policy) return [{ setting: 'bucket_policy', value: 'set (not readable in the log)', detail: { readable: false } }];
      const a = analyzePolicy(policy, bucket, owner);
      return [{ setting: 'bucket_policy', value: policyValue(a), detail: { ...a, readable: true } }];
    }
    case 'DeleteBucketPolicy':
      return [{ setting: 'bucket_policy', value: 'none', detail: { none: true, public: false, deniesUnencryptedUploads: false, deniesInsecureTransport: false, vpcEndpoints: [], externalAccounts: [] } }];
    case 'PutBucketAcl': {
      const acl = aclChange(params);
      return acl ? [acl] : [];
    }
    case 'PutBucketPublicAccessBlock': {
      const c = obj(params.PublicAccessBlockConfiguration);
      const flags = { BlockPublicAcls: bool(c.BlockPublicAcls), IgnorePublicAcls: bool(c.IgnorePublicAcls), BlockPublicPolicy: bool(c.BlockPublicPolicy), RestrictPublicBuckets: bool(c.RestrictPublicBuckets) };
      const on = Object.entries(flags).filter(([, v]) => v).map(([k]) => k);
      return [{ setting: 'block_public_access', value: on.length === 4 ? 'all on' : on.length === 0 ? 'all off' : `on: ${on.join(', ')}`, detail: flags }];
    }
    case 'DeleteBucketPublicAccessBlock':
      return [{ setting: 'block_public_access', value: 'none (configuration deleted)', detail: { BlockPublicAcls: false, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: false } }];
    case 'PutBucketLogging': {
      const status = params.BucketLoggingStatus;
      if (status === undefined) return [];
      const enabled = obj(obj(status).LoggingEnabled);
      const target = firstText(enabled.TargetBucket);
      if (!target) return [{ setting: 'logging', value: 'disabled', detail: { enabled: false } }];
      const self = target === bucket;
      return [{ setting: 'logging', value: `to ${target}/${firstText(enabled.TargetPrefix) ?? ''}${self ? ' (the bucket itself)' : ''}`, detail: { enabled: true, target, prefix: firstText(enabled.TargetPrefix), self } }];
    }
    case 'PutBucketLifecycle':
    case 'PutBucketLifecycleConfiguration': {
      const rules = arr(obj(params.LifecycleConfiguration).Rule).map(obj).filter((r) => firstText(r.Status) !== 'Disabled');
      const exp = rules.flatMap((r) => [
        ...(r.Expiration ? [`current versions after ${firstText(obj(r.Expiration).Days) ?? obj(r.Expiration).Days ?? firstText(obj(r.Expiration).Date) ?? '?'} days`] : []),
        ...(r.NoncurrentVersionExpiration ? [`noncurrent versions after ${obj(r.NoncurrentVersionExpiration).NoncurrentDays ?? '?'} days`] : []),
      ]);
      return [{ setting: 'lifecycle_expiration', value: exp.length ? `expires ${exp.join('; ')}` : 'no expiration', detail: { expires: exp.length > 0, rules: exp } }];
    }
    case 'DeleteBucketLifecycle':
      return [{ setting: 'lifecycle_expiration', value: 'no lifecycle', detail: { expires: false, rules: [] } }];
    case 'PutBucketReplication': {
      const rules = arr(obj(params.ReplicationConfiguration).Rule).map(obj);
      const dests = rules.map((r) => obj(r.Destination));
      const accounts = [...new Set(dests.map((d) => firstText(d.Account)).filter((a): a is string => !!a))];
      const buckets = dests.map((d) => firstText(d.Bucket)).filter(Boolean);
      const external = accounts.filter((a) => a !== owner);
      return [{ setting: 'replication', value: `to ${buckets.join(', ') || '?'}${accounts.length ? ` (account ${accounts.join(', ')}${external.length ? ', another account' : ''})` : ''}`, detail: { buckets, accounts, externalAccounts: external } }];
    }
    case 'DeleteBucketReplication':
      return [{ setting: 'replication', value: 'none', detail: { buckets: [], accounts: [], externalAccounts: [] } }];
    case 'PutBucketOwnershipControls': {
      const ownership = firstText(obj(arr(obj(params.OwnershipControls).Rule)[0]).ObjectOwnership);
      return ownership ? [{ setting: 'object_ownership', value: ownershipValue(ownership), detail: { ownership, aclsEnabled: ownership !== 'BucketOwnerEnforced' } }] : [];
    }
    case 'DeleteBucketOwnershipControls':
      return [{ setting: 'object_ownership', value: ownershipValue('ObjectWriter') + ' (controls deleted)', detail: { ownership: 'ObjectWriter', aclsEnabled: true } }];
    default:
      return [];
  }
}

function ownershipValue(o: string): string {
  return o === 'BucketOwnerEnforced' ? 'BucketOwnerEnforced (ACLs disabled)' : `${o} (ACLs enabled)`;
}

function policyValue(a: PolicyAnalysis): string {
  const parts = [a.public ? `public (${a.publicActions.join(', ')})` : 'not public'];
  if (a.allowedEncryption.length) parts.push(`uploads must use ${a.allowedEncryption.join(' or ')}`);
  else if (a.deniesUnencryptedUploads) parts.push('uploads denied, whatever their encryption');
  else parts.push('does not enforce encryption');
  parts.push(a.deniesInsecureTransport ? 'denies plain HTTP' : 'allows plain HTTP');
  if (a.vpcEndpoints.length) parts.push(`only through ${a.vpcEndpoints.join(', ')}`);
  if (a.externalAccounts.length) parts.push(`grants accounts ${a.externalAccounts.join(', ')}`);
  return parts.join('; ');
}

/** Is the bucket exposed in this way, given its settings? null: not known. */
function exposed(e: Exposure, s: Record<SettingName, SettingState | null>): boolean | null {
  switch (e) {
    case 'public': {
      const bpa = s.block_public_access?.detail as Record<string, boolean> | undefined;
      const policyPublic = s.bucket_policy ? s.bucket_policy.detail.public === true && !bpa?.RestrictPublicBuckets : null;
      const aclPublic = s.acl ? s.acl.detail.public === true && !bpa?.IgnorePublicAcls : null;
      if (policyPublic || aclPublic) return true;
      return policyPublic === null && aclPublic === null ? null : false;
    }
    case 'unversioned':
      return s.versioning ? s.versioning.value !== 'Enabled' : null;
    case 'no_mfa_delete':
      return s.mfa_delete ? s.mfa_delete.value !== 'Enabled' : null;
    case 'no_encryption_policy':
      return s.bucket_policy ? !(s.bucket_policy.detail.deniesUnencryptedUploads === true) : null;
    case 'no_logging':
      return s.logging ? s.logging.detail.enabled !== true : null;
  }
}

export interface PostureOptions {
  bucket?: string;
  /** The time asked about (default: now); later calls are not considered. */
  at?: Date;
}

function emptySettings(): Record<SettingName, SettingState | null> {
  return Object.fromEntries(SETTINGS.map((n) => [n, null])) as Record<SettingName, SettingState | null>;
}

/**
 * Posture of every bucket the logs show calls that set its settings, create
 * or delete it (or of one), at `at`.
 */
export async function posture(ds: Pick<Dataset, 'conn'>, opts: PostureOptions = {}): Promise<BucketPosture[]> {
  const at = opts.at ?? new Date();
  const params: Record<string, DuckDBValue> = { at: at.toISOString() };
  if (opts.bucket) params.bucket = opts.bucket;
  // Within one second (CloudTrail's precision) a CreateBucket comes first and a DeleteBucket last.
  const events = await readRows(ds.conn, `
    SELECT event_time, event_name, bucket, coalesce(user_arn, principal_id, user_account_id) AS principal, recipient_account_id AS owner,
           user_account_id AS account, source_ip, CAST(request_parameters AS VARCHAR) AS params, event_id
    FROM cloudtrail
    WHERE event_source = 's3.amazonaws.com' AND error_code IS NULL AND management_event IS NOT FALSE
      AND event_name IN (${EVENTS_SQL}) AND bucket IS NOT NULL
      AND event_time <= CAST($at AS TIMESTAMP) ${opts.bucket ? 'AND bucket = $bucket' : ''}
    ORDER BY bucket, event_time, CASE event_name WHEN 'CreateBucket' THEN 0 WHEN 'DeleteBucket' THEN 2 ELSE 1 END, event_id`, params);
  const byBucket = new Map<string, Array<Record<string, unknown>>>();
  for (const e of events) {
    const list = byBucket.get(e.bucket as string) ?? [];
    list.push(e);
    byBucket.set(e.bucket as string, list);
  }
  if (opts.bucket && !byBucket.has(opts.bucket)) byBucket.set(opts.bucket, []);
  const out = [...byBucket].sort(([a], [b]) => a.localeCompare(b)).map(([bucket, calls]) => replay(bucket, calls));
  await countRequests(ds, out, at);
  return out;
}

const text = (x: unknown): string | null => (typeof x === 'string' && x !== '' ? x : null);

/**
 * Replays one bucket's successful calls, oldest first: each setting's last
 * value, each exposure's windows, and the bucket's lives. A DeleteBucket
 * ends the current life and closes its open windows; the next CreateBucket
 * begins a life with every setting unknown again. Calls in between are put
 * aside (`after_deletion`): S3 takes a while to forget a deleted bucket
 * everywhere, so a late call can still succeed, and it proves no new bucket.
 * A CreateBucket while the bucket exists (us-east-1 answers its owner 200)
 * begins no new life; what it sets is applied as usual.
 */
function replay(bucket: string, calls: ReadonlyArray<Record<string, unknown>>): BucketPosture {
  const lives: BucketLife[] = [];
  const timeline: Change[] = [];
  const windows: ExposureWindow[] = [];
  let life: BucketLife | null = null;
  let settings = emptySettings();
  let open = new Map<Exposure, ExposureWindow>();
  for (const e of calls) {
    const time = e.event_time as string;
    const eventName = e.event_name as string;
    const call: BucketCall = { time, event_name: eventName, principal: text(e.principal), source_ip: text(e.source_ip), account: text(e.account), event_id: text(e.event_id) };
    const by = `${eventName} by ${call.principal ?? 'unknown'}`;
    if (life?.deleted && eventName !== 'CreateBucket') {
      life.after_deletion.push(call);
      continue;
    }
    if (!life || life.deleted) {
      const account = text(e.owner) ?? call.account;
      const before = lives[lives.length - 1];
      life = {
        life: lives.length + 1, from: time, until: null, created: eventName === 'CreateBucket' ? call : null, deleted: null, account,
        previous_account: before?.account && account && before.account !== account ? before.account : null, after_deletion: [],
      };
      lives.push(life);
      settings = emptySettings();
      open = new Map();
    }
    if (eventName === 'DeleteBucket') {
      life.deleted = call;
      life.until = time;
      for (const w of open.values()) {
        w.until = time;
        w.closed_by = by;
      }
      open = new Map();
      continue;
    }
    let parsed: Obj = {};
    try {
      parsed = obj(JSON.parse(String(e.params ?? '{}')));
    } catch {
      // Kept whole at ingest; a value that is not JSON sets nothing.
    }
    for (const p of changesOf(eventName, parsed, bucket, text(e.owner))) {
      const c: Change = { ...p, time, bucket, event_name: eventName, principal: call.principal, event_id: call.event_id, life: life.life };
      timeline.push(c);
      settings[c.setting] = { value: c.value, detail: c.detail, since: c.time, by: c.principal, event_name: c.event_name, event_id: c.event_id };
      // Track each exposure's open window.
      for (const x of EXPOSURES) {
        const now = exposed(x, settings);
        const w = open.get(x);
        if (now === true && !w) {
          const nw: ExposureWindow = { bucket, exposure: x, from: c.time, until: null, opened_by: by, closed_by: null, life: life.life, requests: 0 };
          open.set(x, nw);
          windows.push(nw);
        } else if (now !== true && w) {
          w.until = c.time;
          w.closed_by = by;
          open.delete(x);
        }
      }
    }
  }
  return { bucket, settings, timeline, windows, deleted: life?.deleted ?? null, lives };
}

/**
 * Requests to each window's bucket within the window, from either source,
 * a request logged by both counted once (same request ID); the calls that
 * change settings are the timeline's, not counted here.
 */
async function countRequests(ds: Pick<Dataset, 'conn'>, buckets: BucketPosture[], at: Date): Promise<void> {
  const windows = buckets.flatMap((b) => b.windows);
  if (windows.length === 0) return;
  const values = windows.map((w, i) => `(${i}, ${sqlString(w.bucket)}, ${sqlTimestamp(new Date(w.from))}, ${sqlTimestamp(w.until === null ? at : new Date(w.until))})`).join(', ');
  const rows = await readRows(ds.conn, `
    WITH w(i, bucket, t0, t1) AS (VALUES ${values})
    SELECT w.i, count(DISTINCT coalesce(r.request_id, r.event_id, CAST(r.event_time AS VARCHAR) || r.source))::BIGINT AS n
    FROM w LEFT JOIN s3_requests r ON r.bucket = w.bucket AND r.event_time >= w.t0 AND r.event_time < w.t1
      AND r.operation NOT IN (${SETTING_EVENTS_SQL})
    GROUP BY w.i`);
  for (const r of rows) (windows[Number(r.i)] as ExposureWindow).requests = Number(r.n);
}
