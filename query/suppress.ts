/**
 * Suppression: the config's `suppress:` rules (query/config.ts) applied to
 * findings. A suppressed finding is never dropped silently: it is counted
 * by rule, listed with `--show-suppressed`, and carried in JSON; a rule past
 * its `until` date no longer applies and is reported as expired.
 *
 * Matching reads today's finding fields only (`detection_id`, `bucket`,
 * `key`, `principal`, `source_ip`, `details.user_agent`, `details.operation`), each test linear
 * in the field's length (query/glob.ts).
 */
import { isIP } from 'node:net';
import { terminalSafe } from '../common/terminal.js';
import { positionText, type SuppressRule } from './config.js';
import type { DetectionRun } from './detect.js';
import type { Finding } from './finding.js';
import type { Glob } from './glob.js';

/** A finding and the rule that silenced it. */
export interface Suppressed {
  finding: Finding;
  rule: SuppressRule;
}

/** What suppression did in one run. */
export interface Suppression {
  /** The rules that applied (not expired), in the file's order. */
  rules: SuppressRule[];
  /** The findings they silenced, in the findings' order. */
  suppressed: Suppressed[];
  /** Rules past their `until`: they silenced nothing. */
  expired: SuppressRule[];
}

/** A finding's user agent, where its detection reports one (`details.user_agent`). */
export function userAgentOf(f: Finding): string | null {
  const ua = f.details.user_agent;
  return typeof ua === 'string' ? ua : null;
}

/** A finding's operation, where its detection reports one (`details.operation`). */
export function operationOf(f: Finding): string | null {
  const op = f.details.operation;
  return typeof op === 'string' ? op : null;
}

const anyGlob = (globs: readonly Glob[] | undefined, text: string | null): boolean => globs === undefined || (text !== null && globs.some((g) => g.test(text)));

/** True when `rule` silences `f`: its detection is listed (or `*`) and every field the rule gives matches. */
export function ruleMatches(rule: SuppressRule, f: Finding): boolean {
  if (!rule.detections.includes('*') && !rule.detections.includes(f.detection_id)) return false;
  if (!anyGlob(rule.bucket, f.bucket) || !anyGlob(rule.key, f.key) || !anyGlob(rule.principal, f.principal) || !anyGlob(rule.user_agent, userAgentOf(f)) || !anyGlob(rule.operation, operationOf(f))) return false;
  if (rule.source_ip) {
    // A log's address is hostile text: only a well-formed one is looked up.
    const ip = f.source_ip?.trim() ?? '';
    const family = isIP(ip);
    if (family === 0 || !rule.source_ip.list.check(ip, family === 4 ? 'ipv4' : 'ipv6')) return false;
  }
  return true;
}

/** True when `rule` has expired at `now`. */
export const expired = (rule: SuppressRule, now: Date): boolean => rule.until !== undefined && now >= rule.until;

/**
 * Split `findings` into those kept and those a rule silences (the first
 * rule that matches, in the file's order). Rules expired at `now` apply to
 * nothing and are listed apart.
 */
export function suppressFindings(findings: readonly Finding[], rules: readonly SuppressRule[], now: Date = new Date()): { kept: Finding[]; suppression: Suppression } {
  const s = suppressor(rules, now);
  return { kept: s.filter(findings), suppression: s.suppression };
}

/** Suppression over a whole run: `filter` keeps what no rule silences and collects the rest in `suppression`. */
export interface Suppressor {
  filter(findings: readonly Finding[]): Finding[];
  readonly suppression: Suppression;
}

/**
 * A suppressor for one run. The runner calls `filter` on each detection's
 * events before it groups them (RunOptions.sift), so a rule judges every
 * event on its own: a group of reads whose first event a rule matches keeps
 * the others (a probe of another key among an allowed prefix's reads).
 */
export function suppressor(rules: readonly SuppressRule[], now: Date = new Date()): Suppressor {
  const active = rules.filter((r) => !expired(r, now));
  const suppression: Suppression = { rules: active, suppressed: [], expired: rules.filter((r) => expired(r, now)) };
  return {
    suppression,
    filter(findings) {
      if (!active.length) return [...findings];
      const kept: Finding[] = [];
      for (const f of findings) {
        const rule = active.find((r) => ruleMatches(r, f));
        if (rule) suppression.suppressed.push({ finding: f, rule });
        else kept.push(f);
      }
      return kept;
    },
  };
}

/** Each detection's run with its count of findings after suppression. */
export function runsAfter(runs: readonly DetectionRun[], kept: readonly Finding[]): DetectionRun[] {
  const n = new Map<string, number>();
  for (const f of kept) n.set(f.detection_id, (n.get(f.detection_id) ?? 0) + 1);
  return runs.map((r) => ({ ...r, findings: n.get(r.id) ?? 0 }));
}

/** A rule's name in messages: `suppress[2] (s3sift.yaml:14)`. */
export const ruleName = (rule: SuppressRule): string => `suppress[${rule.index - 1}] (${positionText(rule.at).replace(/:\d+$/, '')})`;

/** How many findings each rule silenced, the rules that silenced some, in the file's order. */
export function countsByRule(s: Suppression): Array<{ rule: SuppressRule; count: number }> {
  return s.rules.map((rule) => ({ rule, count: s.suppressed.filter((x) => x.rule === rule).length })).filter((x) => x.count > 0);
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** One line: "12 findings suppressed by 3 rules of s3sift.yaml", or null when none was. */
export function suppressionLine(s: Suppression): string | null {
  if (!s.suppressed.length) return null;
  const files = [...new Set(s.rules.map((r) => r.at.file))];
  return `${plural(s.suppressed.length, 'finding')} suppressed by ${plural(countsByRule(s).length, 'rule')} of ${files.join(', ')}`;
}

/** Lines for stderr: each expired rule, so that a forgotten one is seen. */
export function expiryLines(s: Suppression): string[] {
  return s.expired.map((r) => terminalSafe(`config: ${ruleName(r)} expired on ${r.untilText ?? r.until?.toISOString()}: the findings it silenced are reported again (${r.reason})`));
}

/** The JSON form: counts by rule, and with `show` the suppressed findings, each with its rule. */
export function suppressionJson(s: Suppression, show: boolean): Record<string, unknown> {
  return {
    count: s.suppressed.length,
    rules: countsByRule(s).map(({ rule, count }) => ({ rule: positionText(rule.at), index: rule.index - 1, detection: rule.detections, reason: rule.reason, until: rule.untilText ?? null, count })),
    expired: s.expired.map((rule) => ({ rule: positionText(rule.at), index: rule.index - 1, reason: rule.reason, until: rule.untilText ?? null })),
    ...(show ? { findings: s.suppressed.map(({ finding, rule }) => ({ ...finding, suppressed_by: { rule: positionText(rule.at), reason: rule.reason } })) } : {}),
  };
}

/**
 * The report's SUPPRESSED section: what each rule silenced and why; with
 * `show`, every suppressed finding (when, what, who, where). Escaped for a
 * terminal: findings quote the logs.
 */
export function suppressionSection(s: Suppression, show: boolean): string {
  if (!s.suppressed.length) return '';
  const out = ['', '== SUPPRESSED ==', '', `${suppressionLine(s)}; they are not in the counts above${show ? '' : ' (--show-suppressed lists them)'}:`];
  for (const { rule, count } of countsByRule(s)) {
    out.push('', `${ruleName(rule)} ${rule.detections.join(', ')}: ${plural(count, 'finding')}${rule.untilText ? `, until ${rule.untilText}` : ''}`, `  reason: ${rule.reason}`);
    if (!show) continue;
    for (const { finding: f } of s.suppressed.filter((x) => x.rule === rule)) {
      const what = [f.bucket, f.key].filter(Boolean).join('/') || '-';
      const who = [f.principal ?? (f.source_ip ? 'anonymous' : null), f.source_ip ? `from ${f.source_ip}` : null].filter(Boolean).join(' ') || '-';
      out.push(`  - [${f.detection_id}] ${f.event_time ?? '(no time)'}  ${what}  ${who}  at ${f.source_file ?? '?'}:${f.source_line ?? '?'}`);
    }
  }
  return out.map(terminalSafe).join('\n') + '\n';
}

/** What a run's output needs from suppression (suppressOutput). */
export interface SuppressedOutput {
  /** For formatFindings (FindingsContext.suppressed); undefined when the config has no rules. */
  suppressed?: { json: Record<string, unknown>; line: string | null; section: string };
  /** Lines for stderr: each expired rule. */
  expiry: string[];
}

/** What a run's suppression (a suppressor's, after the run) gives formatFindings and stderr; `show`: --show-suppressed. */
export function suppressOutput(s: Suppression, show: boolean): SuppressedOutput {
  const any = s.rules.length + s.expired.length > 0;
  return {
    expiry: expiryLines(s),
    suppressed: any ? { json: suppressionJson(s, show), line: suppressionLine(s), section: suppressionSection(s, show) } : undefined,
  };
}
