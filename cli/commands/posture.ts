import { UsageError } from '../../common/errors.js';
import { openDataset } from '../../query/dataset.js';
import { textTable } from '../../query/format.js';
import { posture, SETTINGS, type BucketPosture } from '../../query/posture.js';
import { oneOf, timeFlag, type Command } from '../command.js';
import { DEFAULT_DATA } from './ingest.js';

/** The human report: per bucket, its settings, its exposure windows, and its changes. */
export function renderPosture(buckets: readonly BucketPosture[], at: Date): string {
  if (buckets.length === 0) return `no bucket settings in the logs up to ${at.toISOString()} (posture is read from CloudTrail management events: ingest them)\n`;
  const out: string[] = [];
  for (const b of buckets) {
    out.push(`== ${b.bucket} at ${at.toISOString()}`, '');
    out.push(textTable(['setting', 'value', 'since', 'by'], SETTINGS.map((n) => {
      const s = b.settings[n];
      return { setting: n, value: s?.value ?? 'unknown (never set in these logs)', since: s?.since ?? '', by: s?.by ?? '' };
    }), 90));
    out.push('', b.windows.length ? 'exposure windows:' : 'exposure windows: none seen');
    if (b.windows.length) out.push(textTable(['exposure', 'from', 'until', 'requests', 'opened by'], b.windows.map((w) => ({ exposure: w.exposure, from: w.from, until: w.until ?? 'still open', requests: w.requests, 'opened by': w.opened_by })), 90));
    out.push('', `changes (${b.timeline.length}):`);
    for (const c of b.timeline) out.push(`  ${c.time}  ${c.setting.padEnd(20)} ${c.value}  (${c.event_name} by ${c.principal ?? 'unknown'})`);
    out.push('');
  }
  return out.join('\n') + '\n';
}

export const postureCommand: Command = {
  name: 'posture',
  summary: "each bucket's security settings at a time, who changed them, and exposure windows",
  help: `Usage: s3sift posture [--data DIR] [--bucket B] [--at T] [--format table|json]

Reconstruct each bucket's security settings from the successful CloudTrail
management calls that set them: versioning, MFA Delete, default encryption,
bucket policy (public or not; whether it denies uploads without
x-amz-server-side-encryption or with another algorithm; whether it denies
plain HTTP; whether it restricts to a VPC endpoint; other accounts it lets
in), ACL (public grants, log delivery group), Block Public Access, server
access logging (and whether it logs into the bucket itself), lifecycle
expiration, replication, Object Ownership. For each: its value at T, when and
by whom it was set. A setting no call in the logs has set is "unknown", never
a guess at AWS's default. Policies are judged by evaluating requests against
their statements (Principal, Action, Resource, Condition), not by matching
text.

Exposure windows: the periods a bucket was public, unversioned, without MFA
Delete, without a policy that enforces encryption, or without access logging,
with the number of requests (access log and CloudTrail, each request once)
that fell in each.

Options:
  --data DIR      dataset folder (default ${DEFAULT_DATA})
  --bucket B      one bucket (default: every bucket the logs show settings for)
  --at T          the time asked about (ISO 8601; default now): later calls are not considered
  --format F      table (default) or json
  -h, --help      show this help

Examples:
  s3sift posture
  s3sift posture --bucket prod-data --at 2025-03-11T12:00:00Z
  s3sift posture --format json | jq '.buckets[].windows'`,
  options: {
    data: { type: 'string', default: DEFAULT_DATA },
    bucket: { type: 'string' },
    at: { type: 'string' },
    format: { type: 'string', default: 'table' },
  },
  async run(values, positionals, io) {
    if (positionals.length) throw new UsageError(`posture takes no arguments (got ${positionals.join(' ')}); use --bucket`);
    const format = oneOf('format', values.format, ['table', 'json'] as const);
    const at = timeFlag('at', values.at) ?? new Date();
    const ds = await openDataset(values.data as string);
    try {
      const buckets = await posture(ds, { bucket: values.bucket as string | undefined, at });
      io.stdout.write(format === 'json' ? JSON.stringify({ at: at.toISOString(), buckets }, null, 1) + '\n' : renderPosture(buckets, at));
    } finally {
      ds.close();
    }
    return 0;
  },
};
