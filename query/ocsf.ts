/**
 * A finding as an OCSF 1.1 Detection Finding (class 2004,
 * https://schema.ocsf.io/1.1.0/classes/detection_finding): the finding's
 * stable ID as `finding_info.uid`, its count and first and last time, the
 * cloud account and Region where known, the detection's ATT&CK tags
 * (`attack.t1530`, `attack.exfiltration`) as `attacks[]`, and its evidence.
 */
import type { Detection } from './detection.js';
import type { Finding } from './finding.js';

const SEVERITY_ID: Record<string, number> = { info: 1, low: 2, medium: 3, high: 4, critical: 5 };

/** ATT&CK Enterprise tactics by the name a Sigma-style tag gives them (`attack.defense_evasion`). */
const TACTICS: Record<string, { uid: string; name: string }> = {
  reconnaissance: { uid: 'TA0043', name: 'Reconnaissance' },
  resource_development: { uid: 'TA0042', name: 'Resource Development' },
  initial_access: { uid: 'TA0001', name: 'Initial Access' },
  execution: { uid: 'TA0002', name: 'Execution' },
  persistence: { uid: 'TA0003', name: 'Persistence' },
  privilege_escalation: { uid: 'TA0004', name: 'Privilege Escalation' },
  defense_evasion: { uid: 'TA0005', name: 'Defense Evasion' },
  credential_access: { uid: 'TA0006', name: 'Credential Access' },
  discovery: { uid: 'TA0007', name: 'Discovery' },
  lateral_movement: { uid: 'TA0008', name: 'Lateral Movement' },
  collection: { uid: 'TA0009', name: 'Collection' },
  command_and_control: { uid: 'TA0011', name: 'Command and Control' },
  exfiltration: { uid: 'TA0010', name: 'Exfiltration' },
  impact: { uid: 'TA0040', name: 'Impact' },
};

/**
 * The techniques the library's tags name (ATT&CK Enterprise): name and the
 * tactics they belong to. A technique not listed (a rule of one's own) is
 * given by its ID alone.
 */
const TECHNIQUES: Record<string, { name: string; tactics: string[] }> = {
  T1048: { name: 'Exfiltration Over Alternative Protocol', tactics: ['exfiltration'] },
  T1070: { name: 'Indicator Removal', tactics: ['defense_evasion'] },
  T1078: { name: 'Valid Accounts', tactics: ['defense_evasion', 'persistence', 'privilege_escalation', 'initial_access'] },
  'T1078.004': { name: 'Cloud Accounts', tactics: ['defense_evasion', 'persistence', 'privilege_escalation', 'initial_access'] },
  T1090: { name: 'Proxy', tactics: ['command_and_control'] },
  'T1090.003': { name: 'Multi-hop Proxy', tactics: ['command_and_control'] },
  T1098: { name: 'Account Manipulation', tactics: ['persistence', 'privilege_escalation'] },
  T1222: { name: 'File and Directory Permissions Modification', tactics: ['defense_evasion'] },
  T1485: { name: 'Data Destruction', tactics: ['impact'] },
  T1486: { name: 'Data Encrypted for Impact', tactics: ['impact'] },
  T1490: { name: 'Inhibit System Recovery', tactics: ['impact'] },
  T1491: { name: 'Defacement', tactics: ['impact'] },
  'T1491.002': { name: 'External Defacement', tactics: ['impact'] },
  T1530: { name: 'Data from Cloud Storage', tactics: ['collection'] },
  T1537: { name: 'Transfer Data to Cloud Account', tactics: ['exfiltration'] },
  T1552: { name: 'Unsecured Credentials', tactics: ['credential_access'] },
  'T1552.001': { name: 'Credentials In Files', tactics: ['credential_access'] },
  T1556: { name: 'Modify Authentication Process', tactics: ['credential_access', 'defense_evasion', 'persistence'] },
  T1557: { name: 'Adversary-in-the-Middle', tactics: ['credential_access', 'collection'] },
  T1562: { name: 'Impair Defenses', tactics: ['defense_evasion'] },
  'T1562.008': { name: 'Disable or Modify Cloud Logs', tactics: ['defense_evasion'] },
  T1567: { name: 'Exfiltration Over Web Service', tactics: ['exfiltration'] },
  T1580: { name: 'Cloud Infrastructure Discovery', tactics: ['discovery'] },
  T1595: { name: 'Active Scanning', tactics: ['reconnaissance'] },
  'T1595.003': { name: 'Wordlist Scanning', tactics: ['reconnaissance'] },
  T1619: { name: 'Cloud Storage Object Discovery', tactics: ['discovery'] },
};

const named = (uid: string): { uid: string; name?: string } => (TECHNIQUES[uid] ? { uid, name: TECHNIQUES[uid].name } : { uid });

/**
 * OCSF `attacks[]` from a detection's tags: one entry per technique tag
 * (a sub-technique under its technique), with each tactic the detection's
 * tags name that the technique belongs to (none named: the technique alone).
 * Tactic tags with no technique tag come as tactic-only entries.
 */
export function attacksOf(tags: readonly string[]): Array<Record<string, unknown>> {
  const attack = tags.filter((t) => t.toLowerCase().startsWith('attack.')).map((t) => t.slice('attack.'.length).toLowerCase().replaceAll('-', '_'));
  const tactics = attack.filter((t) => t in TACTICS);
  const techniques = attack.filter((t) => /^t\d{4}(\.\d{3})?$/.test(t)).map((t) => t.toUpperCase());
  const out: Array<Record<string, unknown>> = [];
  for (const uid of techniques) {
    const parent = uid.split('.')[0] as string;
    const technique = uid.includes('.') ? { technique: named(parent), sub_technique: named(uid) } : { technique: named(uid) };
    const known = TECHNIQUES[uid]?.tactics;
    const mine = tactics.filter((t) => known === undefined || known.includes(t));
    if (mine.length === 0) out.push(technique);
    for (const t of mine) out.push({ ...technique, tactic: TACTICS[t] });
  }
  const paired = new Set(out.map((a) => (a.tactic as { uid?: string } | undefined)?.uid));
  for (const t of tactics) if (!paired.has(TACTICS[t]?.uid)) out.push({ tactic: TACTICS[t] });
  return out;
}

/** An OCSF 1.1 Detection Finding (class 2004) for a finding. */
export function ocsf(f: Finding, d: Detection | undefined, version: string): Record<string, unknown> {
  const time = f.event_time ? Date.parse(f.event_time) : Date.now();
  const last = f.last_time ? Date.parse(f.last_time) : time;
  const attacks = attacksOf(d?.tags ?? []);
  return {
    class_uid: 2004, class_name: 'Detection Finding', category_uid: 2, category_name: 'Findings',
    activity_id: 1, activity_name: 'Create', type_uid: 200401, type_name: 'Detection Finding: Create',
    severity_id: SEVERITY_ID[f.severity], severity: f.severity[0]?.toUpperCase() + f.severity.slice(1), status_id: 1, status: 'New',
    time, start_time: time, end_time: last, count: f.count, message: f.title,
    metadata: { version: '1.1.0', product: { name: 's3sift', vendor_name: 's3sift', version }, log_name: f.sources.join(',') || undefined },
    finding_info: {
      uid: f.finding_id, title: f.title, desc: d?.description.trim(),
      analytic: { uid: f.detection_id, name: f.detection_id, type_id: 1, type: 'Rule' }, types: d?.tags ?? [],
      first_seen_time: time, last_seen_time: last, src_url: d?.references[0],
    },
    attacks: attacks.length ? attacks : undefined,
    cloud: { provider: 'AWS', ...(f.account_id ? { account: { uid: f.account_id, type: 'AWS Account', type_id: 10 } } : {}), ...(f.region ? { region: f.region } : {}) },
    resources: f.bucket ? [{ type: 'AWS::S3::Bucket', name: f.bucket, uid: `arn:aws:s3:::${f.bucket}` }, ...(f.key ? [{ type: 'AWS::S3::Object', name: f.key }] : [])] : [],
    actor: f.principal ? { user: { uid: f.principal, name: f.principal } } : undefined,
    src_endpoint: f.source_ip ? { ip: f.source_ip } : undefined,
    evidences: f.evidence.map((e) => ({ data: e })),
    unmapped: f.details,
  };
}
