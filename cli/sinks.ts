/**
 * Where `s3sift watch` sends new findings (docs/watch.md, "Sinks"):
 * `ndjson:PATH` (appended, one alert a line, fsync'd), `webhook:URL` (one
 * POST of JSON per alert, retried with backoff) and `stdout`.
 *
 * The NDJSON and webhook sinks are durable: an alert is first written to a
 * spool in the dataset (`<data>/spool/<sink>/<delivery>.json`, before the
 * findings state records it as sent), and leaves the spool only once
 * delivered. A receiver that is down, or a watch that is stopped, loses
 * nothing: the next cycle delivers what is spooled, in order. A cycle's
 * alerts are one spool file (one fsync, not one per alert: 190,000 alerts
 * one file each took minutes).
 */
import { createHash, randomBytes } from 'node:crypto';
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

/** One spool file: a cycle's alerts for one sink, in order, one JSON line each. */
export interface Batch {
  file: string;
  alerts: Alert[];
}

const readAlerts = (text: string): Alert[] => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Alert);

/** What is waiting in a sink's spool, oldest batch first. */
export async function spooled(data: string, sink: Sink): Promise<Batch[]> {
  const dir = spoolDir(data, sink);
  const names = (await readdir(dir).catch(() => [] as string[])).sort();
  const out: Batch[] = [];
  for (const name of names) {
    const file = join(dir, name);
    // A write killed before its rename: its alerts are queued again by the next cycle (the state never recorded them as sent).
    if (name.includes('.tmp-')) {
      await rm(file, { force: true });
      continue;
    }
    if (name.endsWith('.ndjson')) out.push({ file, alerts: readAlerts(await readFile(file, 'utf8')) });
  }
  return out;
}

/**
 * Queue `alerts` (in order) in the spool of `sink`, as one file that lands
 * whole (temporary file, fsync, rename). An alert already waiting there (a
 * run that stopped between queuing and recording it as sent) is not queued
 * twice.
 */
export async function spool(data: string, sink: Sink, alerts: readonly Alert[], now: Date): Promise<void> {
  const waiting = new Set((await spooled(data, sink)).flatMap((b) => b.alerts.map((a) => a.delivery_id)));
  const fresh = alerts.filter((a) => !waiting.has(a.delivery_id));
  if (fresh.length === 0) return;
  const dir = spoolDir(data, sink);
  await mkdir(dir, { recursive: true, mode: DIR_MODE });
  // Named by time, so the batches sort in the order they were queued.
  const name = `${now.toISOString().replace(/[-:.]/g, '')}-${randomBytes(4).toString('hex')}.ndjson`;
  await writeAtomic(join(dir, name), fresh.map(alertLine).join(''));
}

/** One alert as a line of JSON: the delivery first, then the finding. */
export function alertLine(a: Alert): string {
  return JSON.stringify(a) + '\n';
}

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

/**
 * Where to POST, and the Basic credentials of a URL's `user:password@`
 * part: fetch refuses a URL that holds them (and its error quotes the whole
 * URL, secrets and all, into the log), so they go as an Authorization header.
 */
function target(url: URL): { url: URL; authorization?: string } {
  if (!url.username && !url.password) return { url };
  const bare = new URL(url.href);
  bare.username = '';
  bare.password = '';
  const decoded = (s: string): string => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  return { url: bare, authorization: `Basic ${Buffer.from(`${decoded(url.username)}:${decoded(url.password)}`).toString('base64')}` };
}

/** POST one alert; resolve on a 2xx, throw saying why otherwise. */
async function post(url: URL, a: Alert, signal: AbortSignal): Promise<void> {
  const t = target(url);
  const res = await fetch(t.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json', 'idempotency-key': a.delivery_id, 'x-s3sift-delivery': a.delivery_id, 'user-agent': 's3sift-watch',
      ...(t.authorization ? { authorization: t.authorization } : {}),
    },
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
  const batches = await spooled(data, sink);
  const waiting = batches.reduce((n, b) => n + b.alerts.length, 0);
  let delivered = 0;
  if (sink.kind === 'stdout') return { delivered, left: waiting, error: null };
  for (const batch of batches) {
    if (sink.kind === 'ndjson') {
      try {
        await appendSynced(sink.path, batch.alerts.map(alertLine).join(''));
      } catch (err) {
        return { delivered, left: waiting - delivered, error: `${sink.path}: cannot append (${describe(err)})` };
      }
      // A crash here, before the batch leaves the spool, appends it again next time: the delivery_id tells the copies apart.
      await rm(batch.file, { force: true });
      delivered += batch.alerts.length;
      continue;
    }
    for (const [i, alert] of batch.alerts.entries()) {
      const error = await postWithRetries(sink.url, alert, stop);
      if (error !== null) {
        // What was delivered of this batch leaves it; the rest waits, in order.
        if (i > 0) await writeAtomic(batch.file, batch.alerts.slice(i).map(alertLine).join(''));
        return { delivered, left: waiting - delivered, error };
      }
      delivered++;
    }
    await rm(batch.file, { force: true });
  }
  return { delivered, left: 0, error: null };
}

/** POST one alert, up to TRIES times; null when delivered, else why not. */
async function postWithRetries(url: URL, alert: Alert, stop: AbortSignal): Promise<string | null> {
  let error: string | null = null;
  for (let t = 0; t < TRIES; t++) {
    if (t > 0) {
      if (stop.aborted) break;
      await sleep(FIRST_RETRY_MS * 2 ** (t - 1), undefined, { signal: stop }).catch(() => undefined);
    }
    try {
      await post(url, alert, stop);
      return null;
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause;
      // The log shows the sink by its origin: an error that quotes the URL must not carry its path, query or credentials.
      error = (describe(err) + (cause ? ` (${describe(cause)})` : '')).replaceAll(url.href, url.origin).replaceAll(target(url).url.href, url.origin);
    }
  }
  return error;
}

/** Write alerts to standard output, one JSON line each. */
export function toStdout(out: Out, alerts: readonly Alert[]): void {
  if (alerts.length) out.write(alerts.map(alertLine).join(''));
}
