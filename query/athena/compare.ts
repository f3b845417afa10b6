/**
 * Comparing two engines' findings, finding by finding: each finding becomes
 * one stable text (details' keys sorted, so the order an engine gives
 * columns in does not count) and each detection's findings are compared as multisets of
 * those texts, so a duplicate on one side is a difference too. The same text
 * is what gets printed: log content is hostile, so it is escaped for a
 * terminal.
 */
import { terminalSafe } from '../../common/terminal.js';
import { FINDING_FIELDS, type Finding } from '../finding.js';

export type Verdict = 'agree' | 'disagree' | 'failed' | 'skipped';

export interface DetectionComparison {
  id: string;
  verdict: Verdict;
  /** Findings each engine gave (0 on Athena when it failed or was skipped). */
  duckdb: number;
  athena: number;
  /** Findings one engine gave and the other did not, as their texts (all of them). */
  onlyDuckdb: string[];
  onlyAthena: string[];
  /** Why it failed (Athena's message) or was skipped. */
  reason?: string;
}

export { terminalSafe };

/** A value with object keys sorted, so that equal findings give equal text. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
  }
  return v;
}

/** One finding as stable JSON text (its fields in their order, details' keys sorted), escaped for a terminal. */
export function findingText(f: Finding): string {
  return terminalSafe(JSON.stringify(Object.fromEntries(FINDING_FIELDS.map((k) => [k, canonical(f[k])]))));
}

/** The texts of `a` that `b` lacks, counting repeats (a multiset difference), in `a`'s order. */
function missingFrom(a: readonly string[], b: readonly string[]): string[] {
  const left = new Map<string, number>();
  for (const t of b) left.set(t, (left.get(t) ?? 0) + 1);
  return a.filter((t) => {
    const n = left.get(t) ?? 0;
    if (n > 0) left.set(t, n - 1);
    return n === 0;
  });
}

/** Compare one detection's findings on DuckDB and on Athena. */
export function compareDetection(id: string, duckdb: readonly Finding[], athena: readonly Finding[]): DetectionComparison {
  const d = duckdb.map(findingText);
  const a = athena.map(findingText);
  const onlyDuckdb = missingFrom(d, a);
  const onlyAthena = missingFrom(a, d);
  return { id, verdict: onlyDuckdb.length || onlyAthena.length ? 'disagree' : 'agree', duckdb: d.length, athena: a.length, onlyDuckdb, onlyAthena };
}

/** The comparison as lines for a reader: one per detection, with up to `examples` findings of each side of a disagreement. */
export function comparisonReport(comparisons: readonly DetectionComparison[], examples = 3): string {
  const lines: string[] = [];
  const shown = (label: string, texts: readonly string[]): void => {
    if (!texts.length) return void lines.push(`           only on ${label}: none`);
    lines.push(`           only on ${label} (${texts.length}${texts.length > examples ? `, ${examples} shown` : ''}):`);
    for (const t of texts.slice(0, examples)) lines.push(`             ${t}`);
  };
  for (const c of comparisons) {
    const reason = terminalSafe(c.reason ?? '');
    if (c.verdict === 'agree') lines.push(`agree      ${c.id}: ${c.duckdb ? `${c.duckdb} finding(s) on both` : 'no finding on either (the samples do not exercise it)'}`);
    else if (c.verdict === 'skipped') lines.push(`skipped    ${c.id}: ${reason}`);
    else if (c.verdict === 'failed') lines.push(`FAILED     ${c.id}: ${reason}`);
    else {
      lines.push(`DISAGREE   ${c.id}: ${c.duckdb} finding(s) on DuckDB, ${c.athena} on Athena`);
      shown('DuckDB', c.onlyDuckdb);
      shown('Athena', c.onlyAthena);
    }
  }
  const count = (v: Verdict): number => comparisons.filter((c) => c.verdict === v).length;
  const compared = comparisons.length - count('skipped');
  const unexercised = comparisons.filter((c) => c.verdict === 'agree' && c.duckdb === 0).length;
  lines.push(`${compared} detection(s) compared: ${count('agree')} agree${unexercised ? ` (${unexercised} with no finding on the samples)` : ''}, ${count('disagree')} disagree, ${count('failed')} failed on Athena; ${count('skipped')} skipped`);
  return lines.join('\n') + '\n';
}
