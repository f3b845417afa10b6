/**
 * Where `s3sift watch` sends new findings (docs/watch.md, "Sinks"):
 * `ndjson:PATH` (appended, one alert a line, fsync'd), `webhook:URL` (one
 * POST of JSON per alert, retried with backoff) and `stdout`.
 *
 * The NDJSON and webhook sinks are durable: an alert is first written to a
 * spool in the dataset (`<data>/spool/<sink>/<delivery>.json`, before the
 * findings state records it as sent), and leaves the spool only once
 * delivered. A receiver that is down, or a watch that is stopped, loses
 * nothing: the next cycle delivers what is spooled, in order. A spool file
 * is named by its delivery id, so queuing one alert twice keeps one file.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UsageError, describe } from '../common/errors.js';
import { writeAtomic } from '../ingest/dataset.js';
import { DIR_MODE, FILE_MODE } from '../ingest/modes.js';
import type { Finding } from '../query/finding.js';
import type { Out } from './command.js';

export const SPOOL_DIR = 'spool';

/** What a sink receives for one finding: the finding, and what makes its delivery unique. */
export type Alert = {
  /** `finding_id` for its first alert; `finding_id/reopened-N` when it is sent again after being reopened. */
  delivery_id: string;
  alert: 'new' | 'reopened';
  /** Wall-clock time the watch first recorded it. */
  first_seen: string;
} & Finding;

export type Sink =
  | { kind: 'stdout'; name: string }
  | { kind: 'ndjson'; name: string; path: string }
  | { kind: 'webhook'; name: string; url: URL };

/** A `--sink` value: `stdout`, `ndjson:PATH` or `webhook:URL` (http or https). */
export function parseSink(text: string): Sink {
  if (text === 'stdout') return { kind: 'stdout', name: 'stdout' };
  const colon = text.indexOf(':');
  const [kind, rest] = colon < 0 ? [text, ''] : [text.slice(0, colon), text.slice(colon + 1)];
  if (kind === 'ndjson') {
    if (!rest) throw new UsageError('--sink ndjson:PATH needs a file path, e.g. --sink ndjson:/var/lib/s3sift/alerts.ndjson');
    return { kind, name: `ndjson:${rest}`, path: rest };
  }
  if (kind === 'webhook') {
    let url: URL;
    try {
      url = new URL(rest);
    } catch {
      throw new UsageError(`--sink webhook:URL needs an http:// or https:// URL (got ${JSON.stringify(rest)})`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--sink webhook:URL needs an http:// or https:// URL (got ${JSON.stringify(url.protocol)})`);
    // The name appears in logs: a URL's path, query or user part may hold a secret, so only its origin is shown.
    return { kind, name: `webhook:${url.origin}`, url };
  }
  throw new UsageError(`--sink must be stdout, ndjson:PATH or webhook:URL (got ${JSON.stringify(text)})`);
}

const hash = (s: string, n: number): string => createHash('sha256').update(s).digest('hex').slice(0, n);

/** The spool folder of a durable sink: named by a hash of its whole spec, so two sinks never share one. */
export function spoolDir(data: string, sink: Sink): string {
  const key = sink.kind === 'webhook' ? `webhook:${sink.url.href}` : sink.kind === 'ndjson' ? `ndjson:${sink.path}` : 'stdout';
  return join(data, SPOOL_DIR, `${sink.kind}-${hash(key, 16)}`);
}

interface Spooled {
  /** Order of queuing: the queue time, then the alert's place in its cycle. */
  seq: string;
  alert: Alert;
}

/** Queue `alerts` (in order) in the spool of `sink`; each file lands whole (temporary file, rename). */
export async function spool(data: string, sink: Sink, alerts: readonly Alert[], now: Date): Promise<void> {
  const dir = spoolDir(data, sink);
  await mkdir(dir, { recursive: true, mode: DIR_MODE });
  let i = 0;
  for (const alert of alerts) {
    const item: Spooled = { seq: `${now.toISOString()}#${String(i++).padStart(8, '0')}`, alert };
    await writeAtomic(join(dir, `${hash(alert.delivery_id, 32)}.json`), JSON.stringify(item) + '\n');
  }
}

/** What is waiting in a sink's spool, oldest first. */
export async function spooled(data: string, sink: Sink): Promise<Array<Spooled & { file: string }>> {
  const dir = spoolDir(data, sink);
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: Array<Spooled & { file: string }> = [];
  for (const name of names) {
    const file = join(dir, name);
    // A write killed before its rename: the alert is queued again by the next cycle (the state never recorded it as sent).
    if (name.includes('.tmp-')) {
      await rm(file, { force: true });
      continue;
    }
    if (!name.endsWith('.json')) continue;
    out.push({ ...(JSON.parse(await readFile(file, 'utf8')) as Spooled), file });
  }
  return out.sort((a, b) => a.seq.localeCompare(b.seq));
}

/** One alert as a line of JSON: the delivery first, then the finding. */
export const alertLine = (a: Alert): string => JSON.stringify(a) + '\n';

/** Append lines to a file and fsync it before returning. */
async function appendSynced(path: string, text: string): Promise<void> {
  const fh = await open(path, 'a', FILE_MODE);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** How long one webhook request may take. */
const WEBHOOK_TIMEOUT_MS = 10_000;
/** Tries per alert within one cycle, and the wait before the second (doubled for each next). */
const TRIES = 3;
const FIRST_RETRY_MS = 200;

/** POST one alert; resolve on a 2xx, throw saying why otherwise. */
async function post(url: URL, a: Alert, signal: AbortSignal): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': a.delivery_id, 'x-s3sift-delivery': a.delivery_id, 'user-agent': 's3sift-watch' },
    body: JSON.stringify(a),
    signal: AbortSignal.any([signal, AbortSignal.timeout(WEBHOOK_TIMEOUT_MS)]),
    redirect: 'error',
  });
  await res.arrayBuffer().catch(() => undefined);
  if (res.status < 200 || res.status > 299) throw new Error(`the receiver answered HTTP ${res.status}`);
}

/** How a delivery went: how many alerts left the spool, and why it stopped if it did. */
export interface Delivery {
  delivered: number;
  left: number;
  error: string | null;
}

/**
 * Deliver what is spooled for a durable sink, oldest first. A webhook alert
 * is tried up to 3 times (200 ms, then 400 ms apart); if it still fails, the
 * sink stops for this cycle and keeps the rest, in order, for the next.
 * `stop` (SIGTERM) ends the retries early; nothing is lost.
 */
export async function deliver(data: string, sink: Sink, stop: AbortSignal): Promise<Delivery> {
  const items = await spooled(data, sink);
  if (items.length === 0 || sink.kind === 'stdout') return { delivered: 0, left: items.length, error: null };
  if (sink.kind === 'ndjson') {
    try {
      await appendSynced(sink.path, items.map((i) => alertLine(i.alert)).join(''));
    } catch (err) {
      return { delivered: 0, left: items.length, error: `${sink.path}: cannot append (${describe(err)})` };
    }
    // A crash here, before the spool is emptied, appends these again next time: the delivery_id tells them apart.
    for (const i of items) await rm(i.file, { force: true });
    return { delivered: items.length, left: 0, error: null };
  }
  let delivered = 0;
  for (const item of items) {
    let error: string | null = null;
    for (let t = 0; t < TRIES; t++) {
      if (t > 0) await sleep(FIRST_RETRY_MS * 2 ** (t - 1), undefined, { signal: stop }).catch(() => undefined);
      if (stop.aborted && t > 0) break;
      try {
        await post(sink.url, item.alert, stop);
        error = null;
        break;
      } catch (err) {
        error = describe(err);
        const cause = (err as { cause?: unknown }).cause;
        if (cause) error += ` (${describe(cause)})`;
      }
    }
    if (error !== null) return { delivered, left: items.length - delivered, error };
    await rm(item.file, { force: true });
    delivered++;
  }
  return { delivered, left: 0, error: null };
}

/** Write alerts to standard output, one JSON line each. */
export function toStdout(out: Out, alerts: readonly Alert[]): void {
  if (alerts.length) out.write(alerts.map(alertLine).join(''));
}
