/**
 * From a detection's rows to the findings a responder reads, the same on
 * every engine (query/detect.ts and query/athena/run.ts both call
 * shapeFindings): each finding gets a stable `finding_id`; a request that
 * both sources logged is one finding; and, unless the detection aggregates in
 * its own SQL, the events of one principal on one bucket within a window of
 * `group_minutes` (aligned to the clock) are one finding with their count,
 * first and last time and the first events as evidence. One pass over the
 * rows with hash maps: no query is run again (docs/detections.md, "Finding
 * IDs, one request one finding, and grouping").
 */
import { createHash } from 'node:crypto';
import type { Detection, ParamValue } from './detection.js';
import { EVIDENCE_MAX, SEVERITIES, type Evidence, type Finding } from './finding.js';

/** The runner's parameter every per-record detection has: the grouping window, minutes (0: one finding per event). */
export const GROUP_PARAM = 'group_minutes';
export const GROUP_MINUTES_DEFAULT = 60;

/** 20 hex digits (80 bits) of the SHA-256 of the detection and what the finding is about. */
export function findingId(detectionId: string, about: readonly unknown[]): string {
  return createHash('sha256').update(JSON.stringify([detectionId, ...about])).digest('hex').slice(0, 20);
}

/** A value with object keys sorted, so equal values give equal text whatever order an engine gave the columns in. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
  return typeof v === 'bigint' ? String(v) : v;
}

/** What one event is: its request ID, else its CloudTrail event ID, else its time, bucket, key, caller and address. */
function eventAbout(f: Finding): unknown[] {
  if (f.request_id !== null) return ['request', f.request_id];
  if (f.event_id !== null) return ['event', f.event_id];
  return ['record', f.event_time, f.bucket, f.key, f.principal, f.source_ip];
}

/** What a row of a detection that aggregates in its SQL is: its first time and the fields it groups by. */
function aggregateAbout(f: Finding): unknown[] {
  return ['aggregate', f.event_time, f.bucket, f.key, f.principal, f.source_ip];
}

export function evidenceOf(f: Finding): Evidence {
  return { event_time: f.event_time, source: f.source, key: f.key, request_id: f.request_id, event_id: f.event_id, source_file: f.source_file, source_line: f.source_line };
}

/** Text in code-unit order (not the locale's: the same order everywhere, and fast); NULL first. */
const cmp = (a: string | null, b: string | null): number => (a === b ? 0 : a === null ? -1 : b === null ? 1 : a < b ? -1 : 1);

/** Earliest first; ties by source, file and line (one order on every engine). */
function compareEvents(a: Evidence, b: Evidence): number {
  return cmp(a.event_time, b.event_time) || cmp(a.source, b.source) || cmp(a.source_file, b.source_file) || (a.source_line ?? 0) - (b.source_line ?? 0);
}

const rank = (f: Finding): number => SEVERITIES.indexOf(f.severity);
const maxTime = (a: string | null, b: string | null): string | null => (a === null ? b : b === null ? a : a > b ? a : b);

/** Sources in one order (access_log, cloudtrail), each once. */
const unionSources = (fs: readonly Finding[]): string[] => [...new Set(fs.flatMap((f) => f.sources))].sort();

/**
 * One request that both sources logged (the same request ID, each source
 * once): one finding, the CloudTrail record's fields first (richer: account,
 * region, event ID), NULLs filled from the access log's, details merged the
 * same way, the higher severity, evidence of both.
 */
function mergeRequest(fs: readonly Finding[]): Finding {
  const sorted = [...fs].sort((a, b) => (a.source === 'cloudtrail' ? -1 : b.source === 'cloudtrail' ? 1 : compareEvents(evidenceOf(a), evidenceOf(b))));
  const out: Finding = { ...(sorted[0] as Finding), details: { ...(sorted[0] as Finding).details } };
  const fill = out as unknown as Record<string, unknown>;
  for (const other of sorted.slice(1)) {
    for (const [k, v] of Object.entries(other)) if (fill[k] === null && v !== null) fill[k] = v;
    for (const [k, v] of Object.entries(other.details)) if (!(k in out.details)) out.details[k] = v;
    if (rank(other) > rank(out)) out.severity = other.severity;
  }
  const evidence = fs.flatMap((f) => f.evidence).sort(compareEvents);
  out.event_time = evidence[0]?.event_time ?? out.event_time;
  // One event, one time (the earlier record's): the two sources may stamp it a second apart, and a later stamp is no later event (it would reopen a resolved finding).
  out.last_time = out.event_time;
  out.sources = unionSources(fs);
  out.evidence = evidence.slice(0, EVIDENCE_MAX);
  return out;
}

/**
 * One record delivered twice (two trails of one organisation log the same
 * event, in two files; a log copied and ingested again): rows of one
 * request or event that differ only in the file and line they were read
 * from are one event. The copy read first (by file and line) stays.
 */
function dropCopies(findings: readonly Finding[]): Finding[] {
  const keep = new Map<string, Finding>();
  const keyOf = (f: Finding): string | null =>
    f.request_id === null && f.event_id === null ? null : JSON.stringify(canonical({ ...f, finding_id: null, source_file: null, source_line: null, evidence: null }));
  const keys = findings.map(keyOf);
  findings.forEach((f, i) => {
    const k = keys[i];
    if (k === null || k === undefined) return;
    const had = keep.get(k);
    if (!had || compareEvents(evidenceOf(f), evidenceOf(had)) < 0) keep.set(k, f);
  });
  return findings.filter((f, i) => {
    const k = keys[i];
    return k === null || k === undefined || keep.get(k) === f;
  });
}

/** Requests logged by both sources (about one bucket) as one finding each, a record delivered twice once; everything else as it is (rows keep their order). */
export function mergeSources(rows: readonly Finding[]): Finding[] {
  const findings = dropCopies(rows);
  const byRequest = new Map<string, Finding[]>();
  for (const f of findings) {
    if (f.request_id === null) continue;
    const same = byRequest.get(f.request_id);
    if (same) same.push(f);
    else byRequest.set(f.request_id, [f]);
  }
  const out: Finding[] = [];
  const done = new Set<string>();
  for (const f of findings) {
    const same = f.request_id === null ? undefined : byRequest.get(f.request_id);
    // Only one record of each source: two rows of one source with one request ID are two findings (the detection said so).
    // Only records that name one bucket: a copy's request ID is logged by the source bucket (COPY.OBJECT_GET) and the destination; one finding would keep one bucket and lose the other.
    if (!same || same.length < 2 || new Set(same.map((x) => x.source)).size !== same.length || new Set(same.map((x) => x.bucket)).size !== 1) {
      out.push(f);
      continue;
    }
    if (done.has(f.request_id as string)) continue;
    done.add(f.request_id as string);
    out.push(mergeRequest(same));
  }
  return out;
}

/**
 * The events of one principal (an anonymous caller: one address) on one
 * bucket, of one severity, within one window of `minutes` aligned to the
 * clock (00:00, 01:00, ... for 60), as one finding: the first event's
 * fields, the count, the last time, the first EVIDENCE_MAX events. Its ID is
 * the group's (detection, window, principal, bucket, severity), so it stays
 * the same when a later run sees more events of the window. A finding
 * without a time stays alone.
 */
export function groupFindings(d: Pick<Detection, 'id'>, findings: readonly Finding[], minutes: number): Finding[] {
  const ms = minutes * 60_000;
  const groups = new Map<string, { about: unknown[]; members: Finding[] }>();
  const out: Array<Finding | { about: unknown[]; members: Finding[] }> = [];
  for (const f of findings) {
    const t = f.event_time === null ? NaN : Date.parse(f.event_time);
    if (!Number.isFinite(t)) {
      out.push(f);
      continue;
    }
    const start = new Date(Math.floor(t / ms) * ms).toISOString();
    const about = ['group', minutes, start, f.principal, f.principal === null ? f.source_ip : null, f.bucket, f.severity];
    const k = JSON.stringify(about);
    let g = groups.get(k);
    if (!g) {
      g = { about, members: [] };
      groups.set(k, g);
      out.push(g);
    }
    g.members.push(f);
  }
  return out.map((g) => {
    if (!('members' in g)) return g;
    const sorted = [...g.members].sort((a, b) => compareEvents(evidenceOf(a), evidenceOf(b)));
    const first = sorted[0] as Finding;
    return {
      ...first,
      details: groupDetails(sorted),
      finding_id: findingId(d.id, g.about),
      last_time: sorted.reduce<string | null>((t, f) => maxTime(t, f.last_time), null),
      count: sorted.reduce((n, f) => n + f.count, 0),
      sources: unionSources(sorted),
      evidence: sorted.flatMap((f) => f.evidence).sort(compareEvents).slice(0, EVIDENCE_MAX),
    };
  });
}

/** How many values of one detail a group lists when its events differ in it. */
const DETAIL_VALUES_MAX = 10;

/** A list of at most DETAIL_VALUES_MAX values, then how many more. */
const capped = (list: readonly unknown[]): unknown[] =>
  list.length > DETAIL_VALUES_MAX ? [...list.slice(0, DETAIL_VALUES_MAX), `(and ${list.length - DETAIL_VALUES_MAX} more values)`] : [...list];

/**
 * A group's details: the first event's, except that a detail whose value
 * differs between the events is the list of their values, in event order,
 * each once (the first DETAIL_VALUES_MAX, then how many more): a root
 * user's GetBucketVersioning then DeleteBucketPolicy must not read as reads.
 * The addresses of a group whose events came from several are
 * `source_ips`, in event order.
 */
function groupDetails(sorted: readonly Finding[]): Record<string, unknown> {
  const first = sorted[0] as Finding;
  const details = { ...first.details };
  if (sorted.length < 2) return details;
  const keys = new Set(sorted.flatMap((f) => Object.keys(f.details)));
  for (const k of keys) {
    const values = new Map<string, unknown>();
    for (const f of sorted) {
      const v = f.details[k] ?? null;
      const text = JSON.stringify(canonical(v));
      if (!values.has(text)) values.set(text, v);
    }
    if (values.size < 2) continue;
    const list = [...values.values()];
    details[k] = capped(list);
  }
  // A principal's group keeps the first event's address: a second one (the same credentials used from elsewhere) is listed.
  const ips = [...new Set(sorted.map((f) => f.source_ip).filter((ip): ip is string => ip !== null))];
  if (ips.length > 1 && !('source_ips' in details)) details.source_ips = capped(ips);
  return details;
}

/**
 * Findings whose IDs came out equal (two rows the detection tells apart by
 * what else they hold) get IDs from all they hold; identical ones, a number.
 */
function uniqueIds(d: Pick<Detection, 'id'>, findings: Finding[]): Finding[] {
  const seen = new Map<string, number>();
  for (const f of findings) seen.set(f.finding_id, (seen.get(f.finding_id) ?? 0) + 1);
  if ([...seen.values()].every((n) => n === 1)) return findings;
  const taken = new Map<string, number>();
  return findings.map((f) => {
    if (seen.get(f.finding_id) === 1) return f;
    const { finding_id, title: _title, ...rest } = f;
    let id = findingId(d.id, [finding_id, canonical(rest)]);
    const n = (taken.get(id) ?? 0) + 1;
    taken.set(id, n);
    if (n > 1) id = findingId(d.id, [id, n]);
    return { ...f, finding_id: id };
  });
}

/** The group window of `d` in this run, minutes (0: none): its `group_minutes` value, 0 for detections that aggregate in their SQL or when ungrouped. */
export function groupMinutes(d: Pick<Detection, 'aggregate'>, params: Record<string, ParamValue>, ungrouped = false): number {
  if (ungrouped || d.aggregate) return 0;
  const v = Number(params[GROUP_PARAM] ?? GROUP_MINUTES_DEFAULT);
  return Number.isFinite(v) && v > 0 ? v : 0;
}

/**
 * A detection's findings as rows came (toFindings) to the findings of the
 * run: IDs, one finding per request across sources, groups of `minutes`
 * (0: none). Detections that aggregate in their SQL keep their rows.
 * `sift` sees each event (each request once) before grouping: the config's
 * suppress rules judge events, not groups.
 */
export function shapeFindings(d: Pick<Detection, 'id' | 'aggregate'>, rows: readonly Finding[], minutes: number, sift: (fs: readonly Finding[]) => Finding[] = (fs) => [...fs]): Finding[] {
  if (d.aggregate) return uniqueIds(d, sift(rows));
  const merged = sift(mergeSources(rows));
  return uniqueIds(d, minutes > 0 ? groupFindings(d, merged, minutes) : merged);
}

/** A row's finding ID as one event (toFindings sets it for a per-record detection). */
export function eventFindingId(detectionId: string, f: Finding): string {
  return findingId(detectionId, eventAbout(f));
}

/** A row's finding ID as a detection that aggregates gives it (toFindings sets it). */
export function aggregateFindingId(detectionId: string, f: Finding): string {
  return findingId(detectionId, aggregateAbout(f));
}
