/**
 * The findings state: what s3sift has seen before, kept in the dataset
 * (`<data>/findings/state.json`), so that `detect --new` and `watch` can tell
 * a new finding from one already reported, and a responder can acknowledge
 * or resolve one (docs/watch.md, "Findings state").
 *
 * One JSON file, rewritten whole under the dataset's write lock by a
 * temporary file and a rename: a reader, or a run killed mid-write, sees the
 * old state or the new one, never a part. Findings are keyed by `finding_id`.
 *
 * Times: `first_seen` / `last_seen` are wall-clock times of the runs that
 * found it; `first_event` / `last_event` are the events' own times.
 */
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DatasetError, UsageError, describe } from '../common/errors.js';
import { lock, writeAtomic } from '../ingest/dataset.js';
import { DIR_MODE } from '../ingest/modes.js';
import type { Finding } from './finding.js';

export const STATE_DIR = 'findings';
export const STATE_FILE = 'state.json';

export const STATUSES = ['open', 'acknowledged', 'resolved'] as const;
export type Status = (typeof STATUSES)[number];

/** What the state remembers of one finding. */
export interface StateEntry {
  finding_id: string;
  detection_id: string;
  severity: string;
  title: string;
  bucket: string | null;
  principal: string | null;
  /** Wall-clock time of the first run that found it. */
  first_seen: string;
  /** Wall-clock time of the latest run that found it. */
  last_seen: string;
  /** Event time of its first event (null: the finding has no time). */
  first_event: string | null;
  /** Event time of its latest event. */
  last_event: string | null;
  /** Events in it as the latest run counted them (1 for a per-event finding). */
  count: number;
  status: Status;
  /** Who set the status (`--by`, else the OS user; `s3sift` when a run reopened it). */
  status_by: string | null;
  status_reason: string | null;
  status_at: string | null;
  /** Times it came back with newer events after it was resolved. */
  reopened: number;
  /** When `watch` queued it for its sinks (null: never sent). */
  alerted_at: string | null;
}

export interface FindingsState {
  version: 1;
  findings: Record<string, StateEntry>;
  /**
   * What the latest watch cycle ran the library over: the dataset's manifest
   * (its mtime and size) and a hash of the detections, parameters and intel
   * lists. A watch that starts again (`--once` from cron) skips the library
   * when both are the same: nothing it could find has changed.
   */
  watch?: { manifest: string; plan: string; at: string };
}

/** The optional parts of a finding's shape (grouped findings carry a count and a last time). */
export function findingCount(f: Finding): number {
  return Number.isFinite(f.count) && f.count > 0 ? f.count : 1;
}

/** The time of a finding's latest event: `last_time` when the finding has one, else `event_time`. */
export function findingLastTime(f: Finding): string | null {
  return f.last_time ?? f.event_time;
}

export const statePath = (data: string): string => join(data, STATE_DIR, STATE_FILE);

/** The state of the dataset at `data`; none yet is an empty state. */
export async function loadState(data: string): Promise<FindingsState> {
  const path = statePath(data);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, findings: {} };
    throw new DatasetError(`${path}: cannot read the findings state (${describe(err)})`, { cause: err });
  }
  try {
    const s = JSON.parse(text) as FindingsState;
    if (s.version !== 1 || typeof s.findings !== 'object' || s.findings === null) throw new Error('unknown state version');
    return s;
  } catch (err) {
    throw new DatasetError(`${path}: not a valid s3sift findings state (${describe(err)}); move it aside to start the state afresh`, { cause: err });
  }
}

const cached = new Map<string, { stamp: string; state: FindingsState }>();

/**
 * The state as loadState reads it, read again only when the file changed
 * (its mtime and size): for a server that answers many requests between runs.
 * The state returned is shared: do not change it.
 */
export async function loadStateCached(data: string): Promise<FindingsState> {
  const path = statePath(data);
  const st = await stat(path).catch(() => null);
  const stamp = st ? `${st.mtimeMs}:${st.size}` : 'none';
  const hit = cached.get(path);
  if (hit?.stamp === stamp) return hit.state;
  const state = await loadState(data);
  cached.set(path, { stamp, state });
  return state;
}

/** How a run's findings changed the state. */
export interface Merge {
  /** Findings the state had never seen. */
  fresh: Finding[];
  /** Resolved findings that came back with newer events: open again. */
  reopened: Finding[];
}

const later = (a: string | null, b: string | null): boolean => a !== null && (b === null || Date.parse(a) > Date.parse(b));

/**
 * Record a run's findings in `state` (changed in place). A finding seen
 * before gets its last_seen, last event and count updated; a resolved one
 * whose latest event is newer than any recorded is reopened (it happened
 * again after someone judged it over); an acknowledged one stays so.
 */
export function mergeFindings(state: FindingsState, findings: readonly Finding[], now: Date): Merge {
  const at = now.toISOString();
  const out: Merge = { fresh: [], reopened: [] };
  for (const f of findings) {
    const last = findingLastTime(f);
    const e = Object.hasOwn(state.findings, f.finding_id) ? state.findings[f.finding_id] : undefined;
    if (!e) {
      state.findings[f.finding_id] = {
        finding_id: f.finding_id, detection_id: f.detection_id, severity: f.severity, title: f.title, bucket: f.bucket, principal: f.principal,
        first_seen: at, last_seen: at, first_event: f.event_time, last_event: last, count: findingCount(f),
        status: 'open', status_by: null, status_reason: null, status_at: null, reopened: 0, alerted_at: null,
      };
      out.fresh.push(f);
      continue;
    }
    if (e.status === 'resolved' && later(last, e.last_event)) {
      Object.assign(e, { status: 'open', status_by: 's3sift', status_reason: `new events after it was resolved (latest ${last})`, status_at: at, alerted_at: null });
      e.reopened++;
      out.reopened.push(f);
    }
    e.last_seen = at;
    e.severity = f.severity;
    e.count = findingCount(f);
    if (later(last, e.last_event)) e.last_event = last;
  }
  return out;
}

/** How long a state update waits for the dataset's lock (an ingest holds it while it commits). */
const LOCK_WAIT_MS = 10_000;

async function lockWaiting(data: string): Promise<() => Promise<void>> {
  const until = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      return await lock(data);
    } catch (err) {
      if (Date.now() > until || !(err instanceof DatasetError) || /cannot write/.test(err.message)) throw err;
      await sleep(100);
    }
  }
}

/**
 * Read, change and write the state under the dataset's write lock. `change`
 * may also write files of its own (watch's spool) before the state is
 * written: they are in place before the state says so.
 */
export async function updateState<T>(data: string, change: (s: FindingsState) => Promise<T> | T): Promise<T> {
  const unlock = await lockWaiting(data);
  try {
    const dir = join(data, STATE_DIR);
    await mkdir(dir, { recursive: true, mode: DIR_MODE });
    // A write killed before its rename leaves its temporary file: never read, removed here.
    for (const name of await readdir(dir)) if (name.startsWith(`${STATE_FILE}.tmp-`)) await rm(join(dir, name), { force: true });
    const state = await loadState(data);
    const result = await change(state);
    await writeAtomic(statePath(data), JSON.stringify(state) + '\n');
    return result;
  } finally {
    await unlock();
  }
}

/** The entry `id` names: the whole finding_id, or a prefix of at least 6 characters that only one has. */
export function findEntry(state: FindingsState, id: string): StateEntry {
  // Own entries only: `__proto__` or `constructor` would otherwise name Object's prototype, and a status set on it.
  const exact = Object.hasOwn(state.findings, id) ? state.findings[id] : undefined;
  if (exact) return exact;
  const hits = id.length >= 6 ? Object.values(state.findings).filter((e) => e.finding_id.startsWith(id)) : [];
  if (hits.length === 1) return hits[0] as StateEntry;
  if (hits.length > 1) throw new UsageError(`finding ${JSON.stringify(id)} is ambiguous: ${hits.length} findings start with it; give more of the id`);
  throw new UsageError(`no finding ${JSON.stringify(id)} in the findings state ('s3sift findings list' shows the ids; a finding is recorded when detect or watch finds it)`);
}

/** Acknowledge, resolve or reopen the finding `id`, saying who and why. */
export async function setStatus(data: string, id: string, status: Status, by: string, reason: string, now = new Date()): Promise<StateEntry> {
  if (!reason.trim()) throw new UsageError(`--reason is required: say why the finding is ${status}`);
  return updateState(data, (s) => {
    const e = findEntry(s, id);
    Object.assign(e, { status, status_by: by, status_reason: reason, status_at: now.toISOString() });
    return { ...e };
  });
}
