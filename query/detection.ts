/**
 * Detection files (docs/contract.md): one YAML file per detection, validated
 * on load so that a mistake is a clear error naming the file, never a
 * detection that silently matches nothing.
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { DetectionError } from '../common/errors.js';
import { PACKAGE_ROOT } from '../common/package-root.js';
import { paramNames } from '../common/sql.js';
import { COVERAGE_RELATIONS, coverageRelationsIn, withCoverageRelations, withQueriesInFront } from './coverage-relations.js';
import { SEVERITIES, type Severity } from './finding.js';
import { GROUP_MINUTES_DEFAULT, GROUP_PARAM } from './finding-groups.js';
import { HISTORY } from './views.js';
import { parseRecordSpec, type RecordSpec } from './test-records.js';

export type ParamValue = number | string | boolean | string[] | number[];

export interface ParamSpec {
  default: ParamValue;
  description: string;
  /** Set by the runner, not the file (`group_minutes` of a per-record detection). */
  runner?: true;
}

export interface DetectionTest {
  name: string;
  /** Records as a base event and the fields that differ (test-records.ts). */
  records?: RecordSpec[];
  /** Raw access-log lines (the older form). */
  access_log?: string[];
  /** Raw CloudTrail records (the older form). */
  cloudtrail?: unknown[];
  /** Parameter values for this test. */
  params?: Record<string, ParamValue>;
  /** Threat-intel lists for this test, as `--intel` files: file name -> its text (docs/intel.md). */
  intel?: Record<string, string>;
  /** Findings the detection must produce. */
  expect?: number;
  /** The records that must fire, and no others: labels, or entry numbers from 1. */
  fires?: Array<string | number>;
}

export interface Detection {
  id: string;
  title: string;
  description: string;
  severity: Severity;
  sources: Array<'access_log' | 'cloudtrail'>;
  tags: string[];
  references: string[];
  params: Record<string, ParamSpec>;
  /**
   * `aggregate: true`: the SQL makes each finding of many events itself
   * (counts, windows, first-of); the runner does not group its rows again.
   * A per-record detection (the default) has the runner's `group_minutes`.
   */
  aggregate: boolean;
  /**
   * `aggregate: {count: COLUMN, last_time: COLUMN}`: the columns of the SQL
   * that hold how many events a row stands for and the last one's time
   * (they stay in details too); without them a row's count is 1 and its
   * last time its event_time.
   */
  aggregateColumns?: { count?: string; last_time?: string };
  sql: string;
  /**
   * SQL returning what the detection could not judge in the data: rows of
   * `scope` (a bucket or a source) and `reason`, and `records` if it counts
   * them. Same parameters and window as `sql`. The relations of
   * coverage-relations.ts it reads are in front of it as WITH queries.
   */
  coverage?: string;
  /** The coverage SQL as the file has it (without those WITH queries: a run that shares them reads this). */
  coverageAsWritten?: string;
  /**
   * `with:`: named queries `sql` and `coverage` both read, in order (a later
   * one may read an earlier one). `sql` and `coverage` above have them in
   * front as WITH queries; a DuckDB run computes each once instead, as a
   * temporary table, and runs sqlAsWritten and coverageAsWritten.
   */
  with?: Array<{ name: string; sql: string }>;
  /** The SQL as the file has it, when `with` puts queries in front of `sql`. */
  sqlAsWritten?: string;
  /**
   * `candidates:`: by table, a condition every row `sql` needs meets; a
   * DuckDB run may give `sql` only those rows (candidates.ts).
   */
  candidates?: Partial<Record<(typeof SOURCES)[number], string>>;
  tests: DetectionTest[];
  /** The file it was loaded from. */
  file: string;
}

/** Where the built-in library lives: `query/detections/` in the package. */
export const BUILTIN_DIR = join(PACKAGE_ROOT, 'query', 'detections');

/** The keys of a detection file (docs/contract.md). */
export const DETECTION_KEYS = ['id', 'title', 'description', 'severity', 'sources', 'tags', 'references', 'aggregate', 'params', 'with', 'sql', 'coverage', 'candidates', 'tests'] as const;
const REQUIRED = ['id', 'title', 'description', 'severity', 'sources', 'sql', 'tests'] as const;
/** The keys of one of its tests. */
export const DETECTION_TEST_KEYS = ['name', 'records', 'access_log', 'cloudtrail', 'params', 'intel', 'expect', 'fires'] as const;
export const SOURCES = ['access_log', 'cloudtrail'] as const;
/** Names a `with:` query cannot take: the tables and views detection SQL reads, and the relations coverage SQL reads. */
const TAKEN_NAMES: readonly string[] = [...SOURCES, 's3_requests', HISTORY, ...Object.keys(COVERAGE_RELATIONS)];

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const isParamValue = (v: unknown): v is ParamValue =>
  typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' ||
  (Array.isArray(v) && (v.every((x) => typeof x === 'string') || v.every((x) => typeof x === 'number')));

/** Validate one parsed YAML document; every problem is an error naming `file`. */
export function validateDetection(doc: unknown, file: string): Detection {
  const fail = (msg: string): never => {
    throw new DetectionError(`${file}: ${msg}`);
  };
  if (!isObj(doc)) return fail('not a YAML mapping');
  const unknown = Object.keys(doc).filter((k) => !(DETECTION_KEYS as readonly string[]).includes(k));
  if (unknown.length) fail(`unknown key${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (allowed: ${DETECTION_KEYS.join(', ')})`);
  for (const k of REQUIRED) if (doc[k] === undefined || doc[k] === null || doc[k] === '') fail(`missing ${k}`);
  const id = doc.id;
  if (typeof id !== 'string' || !/^[a-z0-9]+(-[a-z0-9]+)*$/.test(id)) fail(`id must be kebab-case, got ${JSON.stringify(id)}`);
  const stem = basename(file).replace(/\.ya?ml$/, '');
  if (id !== stem) fail(`id ${JSON.stringify(id)} differs from the file name ${JSON.stringify(stem)}`);
  for (const k of ['title', 'description', 'sql'] as const) if (typeof doc[k] !== 'string') fail(`${k} must be text`);
  if (!(SEVERITIES as readonly unknown[]).includes(doc.severity)) fail(`severity must be one of ${SEVERITIES.join(', ')}, got ${JSON.stringify(doc.severity)}`);
  const sources = doc.sources;
  if (!isStrings(sources) || sources.length === 0 || !sources.every((s) => (SOURCES as readonly string[]).includes(s))) {
    fail(`sources must list tables among ${SOURCES.join(', ')}`);
  }
  const withQueries: Array<{ name: string; sql: string }> = [];
  if (doc.with !== undefined) {
    if (!isObj(doc.with) || Object.keys(doc.with).length === 0) fail('with must be a mapping of name: SQL (queries sql and coverage both read)');
    for (const [name, text] of Object.entries(doc.with as Record<string, unknown>)) {
      if (!/^[a-z][a-z0-9_]*$/.test(name)) fail(`with ${name}: names are snake_case`);
      if (TAKEN_NAMES.includes(name)) fail(`with ${name}: the name of a table or relation s3sift provides; pick another`);
      if (typeof text !== 'string' || text.trim() === '') fail(`with ${name}: must be SQL text (one SELECT)`);
      const reads = coverageRelationsIn(text as string);
      if (reads.length) fail(`with ${name}: reads ${reads.join(', ')}, which only coverage SQL reads`);
      withQueries.push({ name, sql: text as string });
    }
  }
  const inFront = (text: string): string => withQueriesInFront(text, withQueries.map((w) => [w.name, w.sql, 'with: ' + w.name] as const));
  const sqlAsWritten = doc.sql as string;
  const sql = inFront(sqlAsWritten);
  for (const s of sources as string[]) {
    // s3_requests reads both tables.
    const reads = new RegExp(`\\b${s}\\b`).test(sql) || /\bs3_requests\b/.test(sql);
    if (!reads) fail(`sources lists ${s} but the SQL does not read it`);
  }
  for (const k of ['tags', 'references'] as const) if (doc[k] !== undefined && !isStrings(doc[k])) fail(`${k} must be a list of text`);
  const params: Record<string, ParamSpec> = {};
  if (doc.params !== undefined) {
    if (!isObj(doc.params)) fail('params must be a mapping of name: {default, description}');
    for (const [name, spec] of Object.entries(doc.params as Record<string, unknown>)) {
      if (!/^[a-z][a-z0-9_]*$/.test(name)) fail(`param ${name}: names are snake_case`);
      if (!isObj(spec) || !isParamValue(spec.default) || typeof spec.description !== 'string') fail(`param ${name}: needs a default (a number, text, true/false or a list) and a description`);
      const extra = Object.keys(spec as object).filter((k) => k !== 'default' && k !== 'description');
      if (extra.length) fail(`param ${name}: unknown key ${extra.join(', ')}`);
      params[name] = { default: (spec as Record<string, unknown>).default as ParamValue, description: (spec as Record<string, unknown>).description as string };
    }
  }
  for (const name of paramNames(sql)) if (!(name in params)) fail(`the SQL uses $${name} but params does not declare it`);
  const aggregateColumns: { count?: string; last_time?: string } = {};
  if (isObj(doc.aggregate)) {
    for (const [k, v] of Object.entries(doc.aggregate)) {
      if (k !== 'count' && k !== 'last_time') fail(`aggregate: unknown key ${k} (count, last_time: the columns of the SQL that hold them)`);
      if (typeof v !== 'string' || !/^[a-z][a-z0-9_]*$/.test(v)) fail(`aggregate ${k}: the name of a column the SQL selects (snake_case)`);
      aggregateColumns[k as 'count' | 'last_time'] = v as string;
    }
  } else if (doc.aggregate !== undefined && typeof doc.aggregate !== 'boolean') {
    fail('aggregate must be true (the SQL counts or windows events into each finding itself), {count: COLUMN, last_time: COLUMN}, or false');
  }
  const aggregate = doc.aggregate === true || isObj(doc.aggregate);
  if (GROUP_PARAM in params && (aggregate || typeof params[GROUP_PARAM]?.default !== 'number' || paramNames(sql).includes(GROUP_PARAM))) {
    fail(`param ${GROUP_PARAM}: the runner's grouping window (minutes); a per-record detection may declare it only to change its default (a number), and its SQL may not read it`);
  }
  if (!aggregate && !(GROUP_PARAM in params)) {
    params[GROUP_PARAM] = { runner: true, default: GROUP_MINUTES_DEFAULT, description: 'minutes: the findings of one principal on one bucket within a window this long (aligned to the clock) are one finding; 0: one finding per event' };
  }
  const coverage = doc.coverage;
  if (coverage !== undefined && (typeof coverage !== 'string' || coverage.trim() === '')) fail('coverage must be SQL text (what the detection cannot judge: scope, reason)');
  for (const name of paramNames((coverage as string | undefined) ?? '')) if (!(name in params)) fail(`the coverage SQL uses $${name} but params does not declare it`);
  if (withQueries.length && coverage === undefined) fail('with is for queries sql and coverage both read; without coverage, write them in the SQL');
  const candidates: Partial<Record<(typeof SOURCES)[number], string>> = {};
  if (doc.candidates !== undefined) {
    if (!isObj(doc.candidates) || Object.keys(doc.candidates).length === 0) fail('candidates must map a table the SQL reads (access_log, cloudtrail) to a condition every row it needs meets');
    for (const [table, cond] of Object.entries(doc.candidates as Record<string, unknown>)) {
      if (!(sources as string[]).includes(table)) fail(`candidates ${table}: not a table of sources (${(sources as string[]).join(', ')})`);
      if (typeof cond !== 'string' || cond.trim() === '') fail(`candidates ${table}: must be a condition on the table's columns (SQL text)`);
      if (paramNames(cond as string).length) fail(`candidates ${table}: may not use parameters (one scan serves every detection, whatever their values)`);
      candidates[table as (typeof SOURCES)[number]] = cond as string;
    }
    if (withQueries.length) fail('candidates and with do not go together: with queries read the whole tables');
  }
  if (!Array.isArray(doc.tests) || doc.tests.length === 0) fail('tests must list at least one test');
  const tests = (doc.tests as unknown[]).map((t, i): DetectionTest => {
    const where = `test ${i + 1}`;
    if (!isObj(t)) return fail(`${where}: not a mapping`);
    const bad = Object.keys(t).filter((k) => !(DETECTION_TEST_KEYS as readonly string[]).includes(k));
    if (bad.length) fail(`${where}: unknown key ${bad.join(', ')} (allowed: ${DETECTION_TEST_KEYS.join(', ')})`);
    if (typeof t.name !== 'string') fail(`${where}: needs a name`);
    const named = `${where} (${String(t.name)})`;
    if (t.expect !== undefined && (typeof t.expect !== 'number' || !Number.isInteger(t.expect) || t.expect < 0)) fail(`${named}: expect must be a count of findings`);
    if (t.access_log !== undefined && !isStrings(t.access_log)) fail(`${named}: access_log must be a list of raw lines`);
    if (t.cloudtrail !== undefined && !Array.isArray(t.cloudtrail)) fail(`${named}: cloudtrail must be a list of records`);
    let records: RecordSpec[] | undefined;
    if (t.records !== undefined) {
      if (!Array.isArray(t.records) || t.records.length === 0) fail(`${named}: records must list records`);
      records = (t.records as unknown[]).map((r, j) => parseRecordSpec(r, `${file}: ${named}, record ${j + 1}`));
    }
    if (t.access_log === undefined && t.cloudtrail === undefined && records === undefined) fail(`${named}: give records (or access_log lines, cloudtrail records)`);
    if (t.fires !== undefined) {
      if (!records) fail(`${named}: fires names records of records:`);
      if (!Array.isArray(t.fires)) fail(`${named}: fires must list labels or record numbers`);
      const labels = new Set((records as RecordSpec[]).map((r) => r.label).filter(Boolean));
      for (const f of t.fires as unknown[]) {
        const ok = typeof f === 'string' ? labels.has(f) : Number.isInteger(f) && (f as number) >= 1 && (f as number) <= (records as RecordSpec[]).length;
        if (!ok) fail(`${named}: fires names ${JSON.stringify(f)}, which is no record's label or number`);
      }
    }
    if (t.expect === undefined && t.fires === undefined) fail(`${named}: say what fires (fires: [...]) or how many findings (expect: N)`);
    if (t.intel !== undefined && (!isObj(t.intel) || !Object.values(t.intel).every((v) => typeof v === 'string'))) {
      fail(`${named}: intel must map a list's file name to its text (one address or CIDR a line, or CSV)`);
    }
    if (t.params !== undefined) {
      if (!isObj(t.params)) fail(`${where}: params must be a mapping`);
      for (const [k, v] of Object.entries(t.params as object)) {
        if (!(k in params)) fail(`${where} (${String(t.name)}): unknown param ${k}`);
        if (!isParamValue(v)) fail(`${where} (${String(t.name)}): param ${k} has an unusable value`);
      }
    }
    return { ...(t as unknown as DetectionTest), ...(records ? { records } : {}) };
  });
  const firing = tests.some((t) => (t.expect ?? 0) > 0 || (t.fires?.length ?? 0) > 0);
  const quiet = tests.some((t) => t.expect === 0 || (t.fires !== undefined && t.fires.length === 0 && t.expect === undefined));
  if (!firing || !quiet) fail('tests need at least one case that fires and one near miss that does not (fires: [] or expect: 0)');
  return {
    id: id as string, title: doc.title as string, description: doc.description as string, severity: doc.severity as Severity,
    sources: sources as Detection['sources'], tags: (doc.tags as string[] | undefined) ?? [], references: (doc.references as string[] | undefined) ?? [],
    aggregate, ...(Object.keys(aggregateColumns).length ? { aggregateColumns } : {}), params, sql, ...(coverage !== undefined ? { coverage: withCoverageRelations(inFront(coverage as string)), coverageAsWritten: coverage as string } : {}),
    ...(withQueries.length ? { with: withQueries, sqlAsWritten } : {}), ...(Object.keys(candidates).length ? { candidates } : {}), tests, file,
  };
}

/** Load every `*.yaml` of the built-in library and of `dirs`; a later id replaces an earlier one of the same name. */
export async function loadDetections(dirs: readonly string[] = [], builtin = true): Promise<Detection[]> {
  // The YAML parser is loaded with the first library, not with every command.
  const { parse: parseYaml } = await import('yaml');
  const byId = new Map<string, Detection>();
  for (const dir of builtin ? [BUILTIN_DIR, ...dirs] : dirs) {
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => /\.ya?ml$/.test(n)).sort();
    } catch (err) {
      throw new DetectionError(`${dir}: cannot read the rules folder (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    for (const n of names) {
      const file = join(dir, n);
      let doc: unknown;
      try {
        doc = parseYaml(await readFile(file, 'utf8'));
      } catch (err) {
        throw new DetectionError(`${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
      }
      const d = validateDetection(doc, file);
      byId.set(d.id, d);
    }
  }
  return [...byId.values()];
}
