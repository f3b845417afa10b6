/**
 * `s3sift intel fetch`: download a public list (Tor's bulk exit list, AWS's
 * ip-ranges.json) and write it as a list `--intel` reads (docs/intel.md).
 * The converters are pure and check the content: an HTML error page, a
 * captive portal or a truncated body never becomes a list.
 */
import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { InputError, UsageError, describe } from '../common/errors.js';
import { formatNetwork, parseNetwork, parseIntelList } from './intel.js';

export const INTEL_SOURCES = {
  tor: { url: 'https://check.torproject.org/torbulkexitlist', what: "Tor's bulk exit list (one address a line)" },
  aws: { url: 'https://ip-ranges.amazonaws.com/ip-ranges.json', what: "AWS's ip-ranges.json (its public address ranges, by service and region)" },
} as const;
export type IntelSource = keyof typeof INTEL_SOURCES;

/** Largest download accepted (ip-ranges.json is about 2 MiB, the Tor list well under 1 MiB). */
export const MAX_FETCH_BYTES = 32 * 1024 * 1024;

const csvCell = (s: string): string => (/[",\r\n#]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s);
const header = (source: IntelSource, url: string, at: Date): string => `# s3sift intel fetch ${source}: ${url} at ${at.toISOString()}\n# Refresh it before each run: a stale list misses new addresses and blames old ones.\naddress,label,kind\n`;

/** Tor's bulk exit list as a list of kind alarm labelled "Tor exit node". */
export function torToList(body: string, url: string, at = new Date()): string {
  const rows: string[] = [];
  body.split(/\r?\n/).forEach((line, i) => {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) return;
    const n = parseNetwork(t);
    if (typeof n === 'string') throw new InputError(`${url}: not a Tor exit list (line ${i + 1}: ${n})`);
    rows.push(`${formatNetwork(n)},Tor exit node,alarm`);
  });
  if (rows.length === 0) throw new InputError(`${url}: not a Tor exit list (no address in it)`);
  return header('tor', url, at) + rows.join('\n') + '\n';
}

interface AwsPrefix {
  ip_prefix?: unknown;
  ipv6_prefix?: unknown;
  region?: unknown;
  service?: unknown;
}

/**
 * AWS's ip-ranges.json as a list of kind label ("AWS EC2 us-east-1"): it
 * names addresses, it raises nothing. Service AMAZON covers every range; a
 * range some other service also lists keeps that service's label only.
 * https://docs.aws.amazon.com/vpc/latest/userguide/aws-ip-syntax.html
 */
export function awsToList(body: string, url: string, at = new Date()): string {
  let doc: { prefixes?: unknown; ipv6_prefixes?: unknown };
  try {
    doc = JSON.parse(body) as typeof doc;
  } catch (err) {
    throw new InputError(`${url}: not AWS's ip-ranges.json (not JSON: ${describe(err)})`);
  }
  if (typeof doc !== 'object' || doc === null || !Array.isArray(doc.prefixes) || !Array.isArray(doc.ipv6_prefixes)) {
    throw new InputError(`${url}: not AWS's ip-ranges.json (no prefixes and ipv6_prefixes arrays)`);
  }
  const items = [...(doc.prefixes as AwsPrefix[]).map((p) => [p, p?.ip_prefix] as const), ...(doc.ipv6_prefixes as AwsPrefix[]).map((p) => [p, p?.ipv6_prefix] as const)];
  const byNet = new Map<string, Set<string>>();
  items.forEach(([p, prefix], i) => {
    if (typeof prefix !== 'string' || typeof p.region !== 'string' || typeof p.service !== 'string') throw new InputError(`${url}: not AWS's ip-ranges.json (entry ${i + 1} lacks a prefix, region or service)`);
    const n = parseNetwork(prefix);
    if (typeof n === 'string') throw new InputError(`${url}: entry ${i + 1}: ${n}`);
    const key = formatNetwork(n);
    const at = byNet.get(key) ?? new Set<string>();
    at.add(`AWS ${p.service} ${p.region}`);
    byNet.set(key, at);
  });
  if (byNet.size === 0) throw new InputError(`${url}: not AWS's ip-ranges.json (no prefix in it)`);
  const rows: string[] = [];
  for (const [net, labels] of byNet) {
    const specific = [...labels].filter((l) => !l.startsWith('AWS AMAZON '));
    for (const l of (specific.length ? specific : [...labels]).sort()) rows.push(`${net},${csvCell(l)},label`);
  }
  return header('aws', url, at) + rows.join('\n') + '\n';
}

/** GET `url`: its body as text, at most `maxBytes`, within `timeoutMs`; an error says the URL and what went wrong. */
export async function download(url: string, o: { timeoutMs: number; maxBytes?: number }): Promise<string> {
  const max = o.maxBytes ?? MAX_FETCH_BYTES;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(o.timeoutMs), redirect: 'follow', headers: { accept: 'text/plain, application/json' } });
  } catch (err) {
    const why = (err as Error).name === 'TimeoutError' ? `no answer within ${o.timeoutMs} ms` : describe((err as { cause?: unknown }).cause ?? err);
    throw new InputError(`cannot download ${url}: ${why}`);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new InputError(`cannot download ${url}: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body ?? []) {
      size += (chunk as Uint8Array).length;
      if (size > max) throw new InputError(`cannot download ${url}: larger than ${max} bytes; is it the list?`);
      chunks.push(Buffer.from(chunk as Uint8Array));
    }
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`cannot download ${url}: ${(err as Error).name === 'TimeoutError' ? `no answer within ${o.timeoutMs} ms` : describe(err)}`);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Download `source` (from `url`, else its own) and write it to `out` whole or not at all; the entries written. */
export async function fetchIntel(source: IntelSource, out: string, o: { url?: string; timeoutMs: number; maxBytes?: number }): Promise<number> {
  const url = o.url ?? INTEL_SOURCES[source].url;
  if (!/^https?:\/\//i.test(url)) throw new UsageError(`--url must be an http:// or https:// address (got ${JSON.stringify(url)})`);
  const body = await download(url, o);
  const text = source === 'tor' ? torToList(body, url) : awsToList(body, url);
  // What is written is what --intel reads: parse it back.
  const entries = parseIntelList(text, out).entries.length;
  const tmp = join(dirname(out), `.${basename(out)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, text, { mode: 0o644 });
    await rename(tmp, out);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new InputError(`cannot write ${out}: ${describe(err)}`);
  }
  return entries;
}
