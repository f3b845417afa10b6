/** The human posture report, loaded by `s3sift posture` when it runs. */
import { terminalSafe } from '../common/terminal.js';
import { textTable } from '../query/format.js';
import { SETTINGS, type BucketCall, type BucketLife, type BucketPosture } from '../query/posture.js';

/** Log text as it may reach a terminal (every value the report prints comes from the logs; textTable escapes its cells itself). */
const safe = (x: unknown): string => terminalSafe(x === null || x === undefined ? '' : String(x));

/** `arn:... from 203.0.113.9` */
const who = (c: BucketCall): string => `${c.principal ?? 'unknown'}${c.source_ip ? ` from ${c.source_ip}` : ''}`;

/**
 * The human report: per bucket, whether it was deleted and its lives (when
 * the logs show it created or deleted), its settings, its exposure windows,
 * and its changes.
 */
export function renderPosture(buckets: readonly BucketPosture[], at: Date): string {
  if (buckets.length === 0) return `no bucket settings in the logs up to ${at.toISOString()} (posture is read from CloudTrail management events: ingest them)\n`;
  const out: string[] = [];
  for (const b of buckets) {
    out.push(`== ${safe(b.bucket)} at ${at.toISOString()}`, '');
    const current = b.lives[b.lives.length - 1];
    const severalLives = b.lives.length > 1;
    if (b.deleted) {
      out.push(`DELETED at ${safe(b.deleted.time)} by ${safe(who(b.deleted))}: the bucket does not exist at ${at.toISOString()}; no exposure window stays open`, '');
    }
    if (severalLives || b.lives.some((l) => l.created || l.deleted)) out.push(...renderLives(b.lives), '');
    if (current && b.deleted) out.push(`settings when it was deleted${severalLives ? ` (life ${current.life})` : ''}:`);
    else if (current && severalLives) out.push(`settings of life ${current.life}, since ${safe(current.from)} (nothing carried over from an earlier life):`);
    out.push(textTable(['setting', 'value', 'since', 'by'], SETTINGS.map((n) => {
      const s = b.settings[n];
      return { setting: n, value: s?.value ?? 'unknown (never set in these logs)', since: s?.since ?? '', by: s?.by ?? '' };
    }), 90));
    out.push('', b.windows.length ? 'exposure windows:' : 'exposure windows: none seen');
    if (b.windows.length) {
      const columns = [...(severalLives ? ['life'] : []), 'exposure', 'from', 'until', 'requests', 'opened by', 'closed by'];
      out.push(textTable(columns, b.windows.map((w) => ({ life: w.life, exposure: w.exposure, from: w.from, until: w.until ?? 'still open', requests: w.requests, 'opened by': w.opened_by, 'closed by': w.closed_by })), 90));
    }
    const lifeEvents = b.lives.some((l) => l.created || l.deleted || l.after_deletion.length);
    out.push('', `changes (${b.timeline.length})${lifeEvents ? ", with the bucket's creations and deletions" : ''}:`);
    const line = (time: string, what: string, value: string, call: string): string => `  ${safe(time)}  ${what.padEnd(20)} ${safe(value)}  (${safe(call)})`;
    for (const l of b.lives) {
      if (l.created) out.push(line(l.created.time, '(bucket created)', `life ${l.life} begins${l.account ? ` in account ${l.account}` : ''}`, `CreateBucket by ${who(l.created)}`));
      for (const c of b.timeline) if (c.life === l.life) out.push(line(c.time, c.setting, c.value, `${c.event_name} by ${c.principal ?? 'unknown'}`));
      if (l.deleted) out.push(line(l.deleted.time, '(bucket deleted)', `life ${l.life} ends; its open exposure windows close`, `DeleteBucket by ${who(l.deleted)}`));
      for (const c of l.after_deletion) out.push(line(c.time, '(after deletion)', 'not applied: the bucket was deleted', `${c.event_name} by ${who(c)}`));
    }
    out.push('');
  }
  return out.join('\n') + '\n';
}

/** The lives table, and what is odd about them. */
function renderLives(lives: readonly BucketLife[]): string[] {
  const out = [`lives (${lives.length}):`, textTable(['life', 'from', 'until', 'created by', 'deleted by', 'account'], lives.map((l) => ({
    life: l.life,
    from: l.from,
    until: l.until ?? 'exists',
    'created by': l.created ? who(l.created) : 'not in these logs',
    'deleted by': l.deleted ? who(l.deleted) : '',
    account: l.account ?? 'unknown',
  })), 90)];
  for (const l of lives) {
    if (l.previous_account) out.push(`  life ${l.life} is in another account than life ${l.life - 1}: ${safe(l.account)} (life ${l.life - 1}: ${safe(l.previous_account)})`);
    if (l.after_deletion.length) {
      out.push(`  life ${l.life}: ${l.after_deletion.length} successful call${l.after_deletion.length === 1 ? '' : 's'} on the name after its deletion and before any CreateBucket, not applied (S3 can still answer for a bucket for a while after deleting it; or a CreateBucket is missing from these logs)`);
    }
  }
  return out;
}
