/** The human posture report, loaded by `s3sift posture` when it runs. */
import { textTable } from '../query/format.js';
import { SETTINGS, type BucketPosture } from '../query/posture.js';

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
