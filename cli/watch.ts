/**
 * The loop of `s3sift watch` (docs/watch.md). Each cycle:
 * 1. ingests what is new in each source, one at a time (a source that fails
 *    is logged and read again next cycle; the others go on);
 * 2. if the dataset, or what the library runs (a suppress rule expired),
 *    changed since the last cycle (the state remembers it across runs),
 *    runs the library over all of it: the findings state, not a time range, says what is new, so
 *    the behavioural detections always see their whole windows and history;
 * 3. under the dataset's lock, records the findings in the state and queues
 *    the ones never sent (new, or reopened after being resolved) in each
 *    durable sink's spool, and marks them sent: queued before marked, so a
 *    crash between the two queues them again under the same delivery id;
 * 4. writes them to stdout sinks and delivers the spools.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { DatasetError, describe } from '../common/errors.js';
import { isAlive, manifestStamp } from '../ingest/dataset.js';
import { DIR_MODE, FILE_MODE } from '../ingest/modes.js';
import type { IngestSummary } from '../ingest/ingest.js';
import type { DetectResult } from '../query/detect.js';
import type { Finding } from '../query/finding.js';
import type { Out } from './command.js';
import type { Alert, Sink } from './sinks.js';
import type { WatchLog } from './watch-log.js';

export interface WatchOptions {
  data: string;
  sources: readonly string[];
  everyMs: number;
  once: boolean;
  sinks: readonly Sink[];
  /** Ingest one source into the dataset. */
  ingest(source: string): Promise<IngestSummary>;
  /** Run the detection library over the whole dataset (the same path as detect's). */
  detect(): Promise<DetectResult>;
  /**
   * A hash of what `detect` runs (detections, parameters, intel, the suppress
   * rules in force now): with the manifest, says whether a run would find
   * anything new. Asked each cycle: a suppress rule past its `until` date
   * changes it with no new data.
   */
  planKey(): string;
  stdout: Out;
  log: WatchLog;
  /** Aborted by SIGINT / SIGTERM: the cycle in progress finishes, then the watch ends. */
  stop: AbortSignal;
}

/** Wait before a durable sink that failed is tried again: 1 s, doubled per failure, at most 5 minutes. */
const backoffMs = (failures: number): number => Math.min(1000 * 2 ** Math.max(0, failures - 1), 300_000);

/** Run cycles until stopped (or one, with `once`); resolves to the exit code: 2 when `once` and a source or a sink failed. */
export async function watch(o: WatchOptions): Promise<number> {
  const release = await claimWatch(o.data);
  try {
    return await cycles(o);
  } finally {
    await release();
  }
}

/**
 * One watch per dataset: two would each deliver the spools. The claim is a
 * file made with O_EXCL naming this process; one left by a process of this
 * machine that is gone is taken over.
 */
async function claimWatch(data: string): Promise<() => Promise<void>> {
  const { SPOOL_DIR } = await import('./sinks.js');
  const dir = join(data, SPOOL_DIR);
  const path = join(dir, WATCH_CLAIM);
  await mkdir(dir, { recursive: true, mode: DIR_MODE });
  for (let attempt = 0; ; attempt++) {
    try {
      await writeFile(path, JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() }), { flag: 'wx', mode: FILE_MODE });
      return () => rm(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err instanceof DatasetError ? err : new DatasetError(`${data}: cannot claim the dataset for watch (${describe(err)})`, { cause: err });
    }
    const holder = JSON.parse(await readFile(path, 'utf8').catch(() => '{}')) as { pid?: number; host?: string };
    if (holder.pid !== undefined && (holder.host !== hostname() || isAlive(holder.pid))) {
      throw new DatasetError(`${data} is watched by s3sift pid ${holder.pid} on ${holder.host ?? '?'}: one watch per dataset${holder.host !== hostname() ? ` (if that watch is gone, remove ${path})` : ''}`);
    }
    await rm(path, { force: true });
  }
}

const WATCH_CLAIM = '_watch.json';


async function cycles(o: WatchOptions): Promise<number> {
  const { spool, deliver, toStdout } = await import('./sinks.js');
  const { loadState, updateState, mergeFindings } = await import('../query/findings-state.js');
  const sinkState = new Map<Sink, { failures: number; next: number }>(o.sinks.map((s) => [s, { failures: 0, next: 0 }]));
  let stamp: string | null = null;
  let cycle = 0;
  let failed = false;
  o.log.info('start', `watching ${o.sources.length} source(s) into ${o.data}, every ${o.everyMs} ms, sinks: ${o.sinks.map((s) => s.name).join(', ')}`);
  for (;;) {
    cycle++;
    failed = false;
    const started = performance.now();
    // 1. Ingest each source on its own.
    let rows = 0;
    for (const src of o.sources) {
      try {
        const s = await o.ingest(src);
        rows += s.rows;
        if (s.sources > 0 || s.rejected > 0) o.log.info('ingest', `${src}: ${s.sources} new source(s), ${s.rows} rows ingested, ${s.rejected} rejected`, { source: src, rows: s.rows, rejected: s.rejected });
        for (const c of s.compactable) o.log.info('ingest', `${c.partition} holds ${c.files} small Parquet files: \`s3sift compact --data ${o.data}\` merges them, so queries open fewer files`, { partition: c.partition, files: c.files });
        for (const u of s.unreadable) {
          failed = true;
          o.log.error('source', `${u.name}: ${u.reason}; read again next cycle`, { source: u.name });
        }
      } catch (err) {
        failed = true;
        o.log.error('source', `${src}: ${describe(err)}; tried again next cycle`, { source: src });
      }
    }
    // 2. Detect, when the dataset changed.
    const now = new Date();
    const manifest = await manifestStamp(o.data);
    const planKey = o.planKey();
    const current = `${manifest} ${planKey}`;
    if (stamp === null) {
      // A watch started again: the latest one may have run this library over this very dataset.
      const last = (await loadState(o.data).catch(() => null))?.watch;
      if (last?.manifest === manifest && last.plan === planKey) {
        stamp = current;
        o.log.info('detect', `the dataset has not changed since the last cycle (${last.at}): nothing new to find`);
      }
    }
    let alerts: Alert[] = [];
    if (current !== stamp) {
      try {
        const t0 = performance.now();
        const result = await o.detect();
        const seconds = (performance.now() - t0) / 1000;
        // 3. Record, queue, mark sent: one update under the lock.
        alerts = await updateState(o.data, async (state) => {
          const merge = mergeFindings(state, result.findings, now);
          const reopened = new Set(merge.reopened.map((f) => f.finding_id));
          const out: Alert[] = [];
          const queued = new Set<string>();
          for (const f of result.findings) {
            const e = state.findings[f.finding_id];
            if (!e || e.status !== 'open' || e.alerted_at !== null || queued.has(f.finding_id)) continue;
            queued.add(f.finding_id);
            out.push(toAlert(f, e.first_seen, reopened.has(f.finding_id) ? e.reopened : 0));
          }
          for (const s of o.sinks) if (s.kind !== 'stdout') await spool(o.data, s, out, now);
          for (const id of queued) (state.findings[id] as { alerted_at: string | null }).alerted_at = now.toISOString();
          state.watch = { manifest, plan: planKey, at: now.toISOString() };
          o.log.info('detect', `${result.findings.length} finding(s) in ${seconds.toFixed(2)} s: ${merge.fresh.length} new, ${merge.reopened.length} reopened, ${out.length} to send`, {
            findings: result.findings.length, new: merge.fresh.length, reopened: merge.reopened.length, sent: out.length, seconds: Number(seconds.toFixed(3)),
          });
          return out;
        });
        stamp = current;
      } catch (err) {
        failed = true;
        o.log.error('detect', `${describe(err)}; tried again next cycle`);
      }
    }
    // 4. Send.
    for (const s of o.sinks) if (s.kind === 'stdout') toStdout(o.stdout, alerts);
    for (const [s, st] of sinkState) {
      if (s.kind === 'stdout' || Date.now() < st.next) continue;
      try {
        const d = await deliver(o.data, s, o.stop);
        if (d.delivered) o.log.info('deliver', `${s.name}: ${d.delivered} alert(s) delivered`, { sink: s.name, delivered: d.delivered });
        if (d.error !== null) {
          failed = true;
          st.failures++;
          st.next = Date.now() + backoffMs(st.failures);
          o.log.error('deliver', `${s.name}: ${d.error}; ${d.left} alert(s) kept in the spool, tried again in ${backoffMs(st.failures) / 1000} s`, { sink: s.name, left: d.left });
        } else st.failures = 0;
      } catch (err) {
        failed = true;
        o.log.error('deliver', `${s.name}: ${describe(err)}`, { sink: s.name });
      }
    }
    o.log.info('cycle', `cycle ${cycle} done in ${((performance.now() - started) / 1000).toFixed(2)} s${rows ? ` (${rows} new rows)` : ''}`, { cycle });
    if (o.once || o.stop.aborted) break;
    // --every is from the start of one cycle to the start of the next; a cycle longer than that is followed at once.
    await sleep(Math.max(0, o.everyMs - (performance.now() - started)), undefined, { signal: o.stop }).catch(() => undefined);
    if (o.stop.aborted) break;
  }
  o.log.info('stop', o.once ? 'one cycle done' : 'stopped');
  return o.once && failed ? 2 : 0;
}

/** What a sink receives: the delivery, then the finding. */
function toAlert(f: Finding, firstSeen: string, reopened: number): Alert {
  return { delivery_id: reopened ? `${f.finding_id}/reopened-${reopened}` : f.finding_id, alert: reopened ? 'reopened' : 'new', first_seen: firstSeen, ...f };
}

