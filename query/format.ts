/**
 * Output formats: query results (table, JSON, NDJSON, CSV, Arrow IPC) and
 * findings (table report, JSON, NDJSON, CSV, OCSF Detection Finding).
 */
import { stringify } from 'csv-stringify/sync';
import { terminalSafe } from '../common/terminal.js';
import type { Detection } from './detection.js';
import type { DetectionRun } from './detect.js';
import { FINDING_FIELDS, SEVERITIES, type CoverageGap, type Finding, type FindingFormat, type QueryFormat } from './finding.js';
import { ocsf } from './ocsf.js';
import type { Rows } from './rows.js';

/** A cell as text: NULL as nothing, nested values as JSON. */
export const cellText = (v: unknown): string => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));

/**
 * A query cell as text where NULL and text must not look alike: NULL is
 * `NULL` (as DuckDB's own CLI prints it), and text that would read as NULL
 * or as nothing (empty, only spaces, `NULL` itself, or already in quotes)
 * is shown in single quotes, `'` doubled, as a SQL literal.
 */
export function queryCellText(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'string' && (v.trim() === '' || v.trim().toUpperCase() === 'NULL' || v.startsWith("'"))) return `'${v.replaceAll("'", "''")}'`;
  return cellText(v);
}

/**
 * Aligned text columns, cells cut at `max` characters; `cell` writes a value
 * (NULL as nothing by default). Cells and names are escaped for a terminal
 * first, so a tab or a newline in a value shows as `\u0009` or `\u000a`
 * and cannot break the row.
 */
export function textTable(columns: readonly string[], rows: ReadonlyArray<Record<string, unknown>>, max = 60, cell: (v: unknown) => string = cellText): string {
  const cut = (s: string): string => (s.length > max ? s.slice(0, max - 1) + '…' : s);
  const names = columns.map(terminalSafe);
  const cells = rows.map((r) => columns.map((c) => cut(terminalSafe(cell(r[c])))));
  // A loop, not Math.max(...cells): spreading many rows into arguments overflows the stack.
  const widths = names.map((c, i) => cells.reduce((w, row) => Math.max(w, (row[i] as string).length), c.length));
  const line = (vals: readonly string[]): string => vals.map((v, i) => v.padEnd(widths[i] as number)).join('  ').trimEnd();
  return [line(names), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

export interface CsvOptions {
  /** Text cells exactly as they are, for programs: no `'` before a leading formula character. */
  raw?: boolean;
}

/**
 * What a spreadsheet takes for the start of a formula (OWASP, "CSV Injection"),
 * also after spaces, no-break or zero-width spaces (some imports trim them),
 * and in full-width forms.
 */
const FORMULA_START = /^[\s\u00a0\u200b\u3000\ufeff]*[=+\-@\t\r\uff1d\uff0b\uff0d\uff20]/;

/** A cell csvSafeText made inert: quoted too, so the `'` is plainly the cell's. */
const NEUTRALISED = new RegExp(`^'${FORMULA_START.source.slice(1)}`);

/** Text that is only a number (`-42`, `-0.5`): a spreadsheet reads it as that number, never as a formula. */
const PLAIN_NUMBER = /^-?\d+(\.\d+)?$/;

/**
 * A text cell a spreadsheet would run as a formula, made inert the way
 * OWASP says: a `'` before it (csv() then quotes the cell). Other text, and
 * text that is only a number, is returned as it is.
 */
export function csvSafeText(text: string): string {
  return FORMULA_START.test(text) && !PLAIN_NUMBER.test(text) ? `'${text}` : text;
}

/**
 * CSV with a header row; nested values as JSON; NULL an empty field, empty
 * text `""`, so the two stay apart. Text cells (the header too) that a
 * spreadsheet would run as formulas get a `'` before them, unless `raw`;
 * numbers, booleans and nested values are never changed.
 */
export function csv(columns: readonly string[], rows: ReadonlyArray<Record<string, unknown>>, opts: CsvOptions = {}): string {
  const text = (s: string): string => (opts.raw ? s : csvSafeText(s));
  const field = (v: unknown): string | null => (v === null || v === undefined ? null : typeof v === 'string' ? text(v) : cellText(v));
  return stringify(rows.map((r) => columns.map((c) => field(r[c]))), { header: true, columns: columns.map(text), quoted_match: opts.raw ? /^$/ : [/^$/, NEUTRALISED] });
}

/** A query result in `format` (`arrow` gives bytes; Arrow's library is loaded only then); `csv` says how to write CSV. */
export async function formatRows(result: Rows, format: QueryFormat, csvOpts: CsvOptions = {}): Promise<string | Uint8Array> {
  const names = result.columns.map((c) => c.name);
  switch (format) {
    case 'json':
      return JSON.stringify({ columns: result.columns, rows: result.rows }) + '\n';
    case 'ndjson':
      return result.rows.map((r) => JSON.stringify(r)).join('\n') + (result.rows.length ? '\n' : '');
    case 'csv':
      return csv(names, result.rows, csvOpts);
    case 'arrow':
      return (await import('./arrow.js')).arrowStream(result);
    case 'table':
      return textTable(names, result.rows, 60, queryCellText) + `\n(${result.rows.length} row${result.rows.length === 1 ? '' : 's'})\n`;
  }
}

export { ocsf } from './ocsf.js';

export interface FindingsContext {
  detections: readonly Detection[];
  runs: readonly DetectionRun[];
  /** What the detections could not judge (DetectResult.coverage). */
  coverage: readonly CoverageGap[];
  version: string;
  /** How to write CSV. */
  csv?: CsvOptions;
  /** What the config's suppress rules silenced (query/suppress.ts renders it): JSON's `suppressed`, the report's line and section. */
  suppressed?: { json: Record<string, unknown>; line: string | null; section: string };
}

/**
 * Findings in `format`; `table` is the human report. The report and JSON
 * carry the coverage too; NDJSON, CSV and OCSF are one finding per record,
 * so they do not (the CLI says on stderr what was not checked: coverageNotice).
 */
export function formatFindings(findings: readonly Finding[], format: FindingFormat, ctx: FindingsContext): string {
  const byId = new Map(ctx.detections.map((d) => [d.id, d]));
  switch (format) {
    case 'ndjson':
      return findings.map((f) => JSON.stringify(inOrder(f))).join('\n') + (findings.length ? '\n' : '');
    case 'json':
      return JSON.stringify({ findings: findings.map(inOrder), summary: summary(findings, ctx.runs), coverage: ctx.coverage, ...(ctx.suppressed ? { suppressed: ctx.suppressed.json } : {}) }, null, 2) + '\n';
    case 'csv':
      return csv(FINDING_FIELDS, findings as unknown as Array<Record<string, unknown>>, ctx.csv);
    case 'ocsf':
      return findings.map((f) => JSON.stringify(ocsf(f, byId.get(f.detection_id), ctx.version))).join('\n') + (findings.length ? '\n' : '');
    case 'table':
      return withSuppressed(report(findings, ctx.detections, ctx.runs, ctx.coverage), ctx.suppressed);
  }
}

/** The report with the suppression line under its first line, and its SUPPRESSED section at the end. */
function withSuppressed(text: string, s: FindingsContext['suppressed']): string {
  if (!s?.line) return text;
  const nl = text.indexOf('\n');
  return `${text.slice(0, nl)}\n${terminalSafe(`${s.line}: see SUPPRESSED at the end`)}${text.slice(nl)}${s.section}`;
}

/** A finding's fields in the declared order (FINDING_FIELDS), whatever order it was built in. */
function inOrder(f: Finding): Record<string, unknown> {
  return Object.fromEntries(FINDING_FIELDS.map((k) => [k, f[k]]));
}

/** The detections with coverage gaps, in order of first appearance. */
function gapDetections(coverage: readonly CoverageGap[]): string[] {
  return [...new Set(coverage.map((c) => c.detection_id))];
}

/**
 * One line for standard error, for the formats that carry findings only
 * (NDJSON, CSV, OCSF): how many detections could not judge some data, and
 * where to read what and why. Null when every detection judged all of it.
 */
export function coverageNotice(coverage: readonly CoverageGap[], max = 5): string | null {
  const ids = gapDetections(coverage);
  if (!ids.length) return null;
  const named = ids.slice(0, max).join(', ') + (ids.length > max ? ` and ${ids.length - max} more` : '');
  return terminalSafe(`not checked: ${ids.length} detection${ids.length === 1 ? '' : 's'} could not judge some of the data (${named}); --format json or table says what and why`);
}

function summary(findings: readonly Finding[], runs: readonly DetectionRun[]): Record<string, unknown> {
  const bySeverity: Record<string, number> = {};
  for (const s of SEVERITIES) bySeverity[s] = findings.filter((f) => f.severity === s).length;
  const byDetection: Record<string, number> = {};
  for (const r of runs) if (r.findings) byDetection[r.id] = r.findings;
  return { findings: findings.length, detections_run: runs.length, by_severity: bySeverity, by_detection: byDetection };
}

/** The description's first sentence, on one line. */
function firstSentence(text: string): string {
  const flat = text.trim().replace(/\s+/g, ' ');
  const end = flat.search(/\.(\s|$)/);
  return end < 0 ? flat : flat.slice(0, end + 1);
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/**
 * What the runner made of the rows (finding-groups.ts), when it made
 * anything: how many events the grouped findings stand for, and how many
 * findings both sources saw. Null when every finding is one event of one source.
 */
function shapingLine(findings: readonly Finding[], byId: ReadonlyMap<string, Detection>): string | null {
  const grouped = findings.filter((f) => f.count > 1 && byId.get(f.detection_id)?.aggregate !== true);
  const both = findings.filter((f) => f.sources.length > 1).length;
  if (!grouped.length && !both) return null;
  const parts = [];
  if (grouped.length) {
    parts.push(`grouped: ${plural(grouped.reduce((n, f) => n + f.count, 0), 'event')} into ${plural(grouped.length, 'finding')} ` +
      '(one principal, one bucket, within group_minutes; --ungrouped for one finding per event)');
  }
  if (both) parts.push(`${plural(both, 'finding')} seen in both sources, each request once`);
  return parts.join('; ');
}

/**
 * What a responder reads: findings grouped by severity and detection, each
 * with its evidence, then what the detections could not judge (NOT
 * CHECKED). Every line is escaped for a terminal: log content is hostile.
 */
export function report(findings: readonly Finding[], detections: readonly Detection[], runs: readonly DetectionRun[], coverage: readonly CoverageGap[] = [], perDetection = 8): string {
  const out: string[] = [];
  const byId = new Map(detections.map((d) => [d.id, d]));
  const counts = SEVERITIES.map((s) => [s, findings.filter((f) => f.severity === s).length] as const).filter(([, n]) => n > 0).reverse();
  out.push(`${findings.length} finding${findings.length === 1 ? '' : 's'} from ${runs.filter((r) => r.findings > 0).length} of ${runs.length} detections` +
    (counts.length ? ` (${counts.map(([s, n]) => `${n} ${s}`).join(', ')})` : ''));
  const shaped = shapingLine(findings, byId);
  if (shaped) out.push(shaped);
  const gaps = gapDetections(coverage);
  if (gaps.length) out.push(`${plural(gaps.length, 'detection')} could not judge some of the data: see NOT CHECKED at the end`);
  for (const sev of [...SEVERITIES].reverse()) {
    const ofSev = findings.filter((f) => f.severity === sev);
    if (!ofSev.length) continue;
    out.push('', `== ${sev.toUpperCase()} ==`);
    for (const id of [...new Set(ofSev.map((f) => f.detection_id))]) {
      const fs = ofSev.filter((f) => f.detection_id === id);
      const d = byId.get(id);
      out.push('', `[${id}] ${d?.title ?? id}: ${fs.length} finding${fs.length === 1 ? '' : 's'}`);
      if (d) out.push(`  ${firstSentence(d.description)}`);
      for (const f of fs.slice(0, perDetection)) {
        const who = [f.principal ?? (f.source_ip ? 'anonymous' : null), f.source_ip ? `from ${f.source_ip}` : null].filter(Boolean).join(' ');
        const what = [f.bucket, f.key].filter(Boolean).join('/');
        const many = f.count > 1 ? `  (${f.count} events until ${f.last_time ?? '?'})` : '';
        const both = f.sources.length > 1 ? `  [${f.sources.join(' + ')}]` : '';
        out.push(`  - ${f.event_time ?? '(no time)'}  ${what || '-'}  ${who || '-'}${many}${both}`);
        // A list (a detail of the detection's, or one that differs between a group's events: finding-groups.ts) as JSON: a value with a comma cannot pass for two.
        const ev = Object.entries(f.details).map(([k, v]) => `${k}=${cellText(v)}`).join(' ');
        if (ev) out.push(`      ${ev.length > 200 ? ev.slice(0, 199) + '…' : ev}`);
        out.push(`      at ${f.source_file ?? '?'}:${f.source_line ?? '?'}${f.request_id ? `  request ${f.request_id}` : ''}`);
        if (f.count > 1 && f.evidence.length > 1) {
          // (A request both sources logged is in the evidence twice: shown once.)
          const evs = [...new Set(f.evidence.map((e) => [e.event_time?.slice(11, 19), e.key ?? e.request_id ?? e.event_id].filter(Boolean).join(' ')))].join(', ');
          const line = `first events: ${evs}${f.count > f.evidence.length ? ` (${f.evidence.length} of ${f.count}; --format json for their files and lines)` : ''}`;
          out.push(`      ${line.length > 200 ? line.slice(0, 199) + '…' : line}`);
        }
      }
      if (fs.length > perDetection) out.push(`  ... and ${fs.length - perDetection} more (--format json for all)`);
    }
  }
  if (gaps.length) {
    out.push('', '== NOT CHECKED ==', '', 'Data the detections could not judge, and why: no finding there does not mean nothing happened.');
    const found = new Map(runs.map((r) => [r.id, r.findings]));
    for (const id of gaps) {
      const cs = coverage.filter((c) => c.detection_id === id);
      const n = found.get(id) ?? findings.filter((f) => f.detection_id === id).length;
      out.push('', `[${id}] ${byId.get(id)?.title ?? id}: ${plural(n, 'finding')}, but not checked:`);
      // One line per reason: the scopes that share it, then why.
      const reasons = [...new Set(cs.map((c) => c.reason))];
      for (const reason of reasons.slice(0, perDetection)) {
        const same = cs.filter((c) => c.reason === reason);
        if (same.length === 1) {
          const [c] = same as [CoverageGap];
          out.push(`  - ${c.scope}: ${reason}${c.records !== undefined ? ` (${plural(c.records, 'record')})` : ''}`);
          continue;
        }
        const scopes = same.slice(0, perDetection).map((c, i) => (c.records === undefined ? c.scope : `${c.scope} (${i === 0 ? plural(c.records, 'record') : c.records})`));
        if (same.length > perDetection) scopes.push(`${same.length - perDetection} more`);
        out.push(`  - ${scopes.join(', ')}: ${reason}`);
      }
      if (reasons.length > perDetection) out.push(`  ... and ${reasons.length - perDetection} more reasons (--format json for all)`);
      else if (cs.some((c) => cs.filter((x) => x.reason === c.reason).length > perDetection)) out.push('  (--format json lists every one)');
    }
  }
  return out.map(terminalSafe).join('\n') + '\n';
}
