/**
 * Threat-intelligence lists (docs/intel.md): addresses and networks (IPv4,
 * IPv6, CIDR) with a label, parsed from text and matched against the hostile
 * address text of the logs. Pure: no file or network access here
 * (query/intel-load.ts reads the files).
 */
import { isIPv4, isIPv6 } from 'node:net';
import { parse as parseCsv } from 'csv-parse/sync';
import { UsageError } from '../common/errors.js';

/** `alarm`: a request from a listed address is a finding. `label`: the address is only named (AWS's own ranges). */
export const INTEL_KINDS = ['alarm', 'label'] as const;
export type IntelKind = (typeof INTEL_KINDS)[number];

/** One address or network, normalised: an IPv4-mapped IPv6 address is IPv4. */
export interface Network {
  family: 4 | 6;
  /** The network's first address, host bits zero. */
  bits: bigint;
  prefix: number;
}

export interface IntelEntry extends Network {
  label: string;
  kind: IntelKind;
  /** As written, for messages. */
  text: string;
}

export interface IntelList {
  /** Where it came from (a file path, or a test's name for it). */
  file: string;
  entries: IntelEntry[];
}

/** Column names (any case) that hold the address of a CSV list. */
export const ADDRESS_COLUMNS = ['ip', 'address', 'addr', 'ip_address', 'cidr', 'network', 'prefix', 'ip_prefix', 'ipv6_prefix'] as const;

/** An address's 32 or 128 bits; IPv4-mapped IPv6 (`::ffff:192.0.2.1`) as IPv4. Null for anything else. */
export function parseAddress(text: string): { family: 4 | 6; bits: bigint } | null {
  if (isIPv4(text)) return { family: 4, bits: v4Bits(text) };
  if (!isIPv6(text) || text.includes('%')) return null;
  const bits = v6Bits(text);
  if (bits >> 32n === 0xffffn) return { family: 4, bits: bits & 0xffffffffn };
  return { family: 6, bits };
}

function v4Bits(text: string): bigint {
  return text.split('.').reduce((n, o) => (n << 8n) | BigInt(Number(o)), 0n);
}

function v6Bits(text: string): bigint {
  let t = text.toLowerCase();
  // A trailing dotted quad (::ffff:192.0.2.1, 64:ff9b::192.0.2.1) is the last two groups.
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  if (quad) {
    const v = v4Bits(quad[1] as string);
    t = t.slice(0, quad.index) + `${(v >> 16n).toString(16)}:${(v & 0xffffn).toString(16)}`;
  }
  const [head, tail] = t.includes('::') ? (t.split('::') as [string, string]) : [t, undefined];
  const h = head === '' ? [] : head.split(':');
  const tl = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - tl.length).fill('0'), ...tl];
  return groups.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n);
}

const width = (family: 4 | 6): number => (family === 4 ? 32 : 128);
const mask = (family: 4 | 6, prefix: number): bigint => ((1n << BigInt(width(family))) - 1n) ^ ((1n << BigInt(width(family) - prefix)) - 1n);

/** Text from a list, quoted and cut short for a message (a list may be an HTML page). */
const shown = (text: string): string => JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}...` : text);

/** `192.0.2.0/24`, `2001:db8::/32` or one address, as a network; why not, in words. */
export function parseNetwork(text: string): Network | string {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const a = parseAddress(addr);
  if (a === null) return `${shown(text)} is not an IPv4 or IPv6 address${slash < 0 ? '' : ' or CIDR'}`;
  const mapped = a.family === 4 && !isIPv4(addr);
  let prefix = width(a.family);
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    const max = mapped ? 128 : width(a.family);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) return `prefix length ${shown(p)} is not a number from 0 to ${max}`;
    prefix = mapped ? Number(p) - 96 : Number(p);
    if (prefix < 0) return `an IPv4-mapped prefix must be /96 or longer (got /${p})`;
  }
  if ((a.bits & ~mask(a.family, prefix)) !== 0n) {
    return `host bits are set (the network of ${text} is ${formatNetwork({ family: a.family, bits: a.bits & mask(a.family, prefix), prefix })})`;
  }
  return { family: a.family, bits: a.bits, prefix };
}

/** A network as text: `192.0.2.0/24`, `2001:db8:0:0:0:0:0:0/32` (one address without the prefix). */
export function formatNetwork(n: Network): string {
  const addr = n.family === 4
    ? [24n, 16n, 8n, 0n].map((s) => String((n.bits >> s) & 0xffn)).join('.')
    : Array.from({ length: 8 }, (_, i) => ((n.bits >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(':');
  return n.prefix === width(n.family) ? addr : `${addr}/${n.prefix}`;
}

/** The label a list's entries get when it names none: the file's base name without its extension. */
export function defaultLabel(file: string): string {
  const base = file.split(/[\\/]/).pop() ?? file;
  return base.replace(/\.(txt|csv|list|lst|ips?)$/i, '') || base;
}

function kindOf(text: string, where: string): IntelKind {
  const k = text.trim().toLowerCase();
  if (k === '') return 'alarm';
  if (!(INTEL_KINDS as readonly string[]).includes(k)) throw new UsageError(`${where}: kind must be ${INTEL_KINDS.join(' or ')} (got ${JSON.stringify(text)})`);
  return k as IntelKind;
}

/** The first line that is neither blank nor a comment. */
function firstLine(text: string): string | undefined {
  return text.split(/\r?\n/).map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('#'));
}

/**
 * Parse a list: plain lines (one address or CIDR a line; `#` starts a
 * comment; blank lines are skipped), or CSV whose header names an address
 * column (ADDRESS_COLUMNS) and may name `label` and `kind` columns. A bad
 * line is a UsageError naming file:line and why: nothing is dropped quietly.
 */
export function parseIntelList(text: string, file: string): IntelList {
  const head = firstLine(text);
  const cells = head?.split(',').map((c) => c.trim().replace(/^"|"$/g, '').toLowerCase()) ?? [];
  const isCsv = cells.length > 1 || (head !== undefined && (ADDRESS_COLUMNS as readonly string[]).includes(cells[0] ?? ''));
  const entries = isCsv ? csvEntries(text, file) : plainEntries(text, file);
  if (entries.length === 0) throw new UsageError(`${file}: holds no address (a list is one address or CIDR a line, or CSV with an address column)`);
  return { file, entries };
}

function entry(raw: string, label: string, kind: IntelKind, where: string): IntelEntry {
  const n = parseNetwork(raw);
  if (typeof n === 'string') throw new UsageError(`${where}: ${n}`);
  return { ...n, label, kind, text: raw };
}

function plainEntries(text: string, file: string): IntelEntry[] {
  const label = defaultLabel(file);
  const out: IntelEntry[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.replace(/#.*$/, '').trim();
    if (t === '') return;
    if (/\s/.test(t)) throw new UsageError(`${file}:${i + 1}: one address or CIDR a line (got ${shown(t)}); for labels, write CSV with a header`);
    out.push(entry(t, label, 'alarm', `${file}:${i + 1}`));
  });
  return out;
}

function csvEntries(text: string, file: string): IntelEntry[] {
  let rows: Array<{ record: string[]; info: { lines: number } }>;
  try {
    rows = parseCsv(text, { comment: '#', comment_no_infix: true, skip_empty_lines: true, trim: true, relax_column_count: true, info: true, bom: true }) as unknown as typeof rows;
  } catch (err) {
    throw new UsageError(`${file}: not valid CSV: ${(err as Error).message}`);
  }
  const [header, ...body] = rows;
  if (!header) return [];
  const names = header.record.map((c) => c.toLowerCase());
  const addr = names.findIndex((c) => (ADDRESS_COLUMNS as readonly string[]).includes(c));
  if (addr < 0) throw new UsageError(`${file}:${header.info.lines}: a CSV list needs a header naming its address column (one of ${ADDRESS_COLUMNS.join(', ')})`);
  const labelAt = names.indexOf('label');
  const kindAt = names.indexOf('kind');
  const fallback = defaultLabel(file);
  return body.map(({ record, info }) => {
    const where = `${file}:${info.lines}`;
    const raw = record[addr] ?? '';
    if (raw === '') throw new UsageError(`${where}: the ${names[addr]} column is empty`);
    const label = labelAt >= 0 && (record[labelAt] ?? '') !== '' ? (record[labelAt] as string) : fallback;
    return entry(raw, label, kindAt >= 0 ? kindOf(record[kindAt] ?? '', where) : 'alarm', where);
  });
}

/**
 * The lists, ready to match: entries by family, prefix length and network.
 * A lookup masks the address once per prefix length the lists hold (at most
 * 33 for IPv4, 129 for IPv6), so its cost does not grow with the entries.
 */
export class IntelSet {
  readonly lists: readonly IntelList[];
  private readonly byNet = new Map<string, IntelEntry[]>();
  private readonly prefixes: Record<4 | 6, number[]> = { 4: [], 6: [] };
  private readonly cache = new Map<string, IntelEntry[]>();

  constructor(lists: readonly IntelList[] = []) {
    this.lists = lists;
    const seen: Record<4 | 6, Set<number>> = { 4: new Set(), 6: new Set() };
    for (const l of lists) {
      for (const e of l.entries) {
        const k = `${e.family}/${e.prefix}/${e.bits.toString(16)}`;
        const at = this.byNet.get(k);
        if (at) at.push(e);
        else this.byNet.set(k, [e]);
        seen[e.family].add(e.prefix);
      }
    }
    for (const f of [4, 6] as const) this.prefixes[f] = [...seen[f]].sort((a, b) => b - a);
  }

  /** Entries of `kind` (or of all kinds). */
  count(kind?: IntelKind): number {
    return this.lists.reduce((n, l) => n + l.entries.filter((e) => kind === undefined || e.kind === kind).length, 0);
  }

  /** Every entry holding the address `text` (none for text that is not an address: `-`, `AWS Internal`, ...). */
  match(text: string): IntelEntry[] {
    if (this.byNet.size === 0) return [];
    const hit = this.cache.get(text);
    if (hit) return hit;
    const a = parseAddress(text);
    const out: IntelEntry[] = [];
    if (a) {
      for (const p of this.prefixes[a.family]) {
        const found = this.byNet.get(`${a.family}/${p}/${(a.bits & mask(a.family, p)).toString(16)}`);
        if (found) out.push(...found);
      }
    }
    // Logs repeat addresses; the cache is bounded, so hostile logs of unique text cannot grow it past that.
    if (this.cache.size >= 100_000) this.cache.clear();
    this.cache.set(text, out);
    return out;
  }

  /** The distinct labels, sorted, of the entries of `kind` holding the address. */
  labels(text: string, kind: IntelKind): string[] {
    return [...new Set(this.match(text).filter((e) => e.kind === kind).map((e) => e.label))].sort();
  }
}
