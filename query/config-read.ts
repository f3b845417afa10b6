/**
 * Reading `s3sift.yaml` (query/config.ts finds the file): the YAML walked
 * node by node, each value checked where it is written, so that every error
 * names the file, line, column and key, and says what to write instead.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { BlockList, isIP } from 'node:net';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair } from 'yaml';
import { parseTime } from '../common/time.js';
import type { ParamValue } from './detection.js';
import { glob, MAX_GLOB_LENGTH } from './glob.js';
import { ACCOUNT_KEYS, CONFIG_KEYS, ConfigError, emptyConfig, GLOB_FIELDS, positionText, SUPPRESS_KEYS, type Config, type ParamSetting, type Position, type SuppressRule } from './config-schema.js';

/** Walks the YAML nodes, each error at its node's line and column. */
class Reader {
  constructor(
    readonly file: string,
    private readonly lines: LineCounter,
  ) {}

  at(node: Node | null | undefined): Position {
    const offset = node?.range?.[0] ?? 0;
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file, line, col };
  }

  fail(node: Node | null | undefined, key: string, message: string): never {
    throw new ConfigError(`${positionText(this.at(node))}: ${key}: ${message}`);
  }

  /** A mapping's pairs, each key text; an unknown key is an error listing the allowed ones (when `allowed` is given). */
  entries(node: Node | null | undefined, key: string, allowed?: Record<string, string>): Array<{ name: string; keyNode: Node; value: Node | null }> {
    if (!isMap(node)) this.fail(node, key, `must be a mapping (${key ? `${key}: ` : ''}then indented "name: value" lines)`);
    return node.items.map((p: Pair) => {
      const keyNode = p.key as Node;
      if (!isScalar(keyNode)) this.fail(keyNode, key, 'a key must be plain text');
      const name = typeof keyNode.source === 'string' && keyNode.source !== '' && keyNode.type === 'PLAIN' ? keyNode.source : String(keyNode.value);
      if (allowed && !Object.hasOwn(allowed, name)) this.fail(keyNode, key ? `${key}.${name}` : name, `unknown key; allowed here: ${Object.keys(allowed).join(', ')}`);
      return { name, keyNode, value: (p.value as Node | null) ?? null };
    });
  }

  /** Text: a scalar (numbers as written). */
  text(node: Node | null, key: string, what = 'text'): string {
    if (!isScalar(node) || node.value === null || typeof node.value === 'object') this.fail(node, key, `must be ${what}`);
    return typeof node.value === 'string' ? node.value : node.type === 'PLAIN' && typeof node.source === 'string' ? node.source : String(node.value);
  }

  /** One text or a list of them, at least one. */
  texts(node: Node | null, key: string, what: string): Array<{ text: string; node: Node }> {
    if (isSeq(node)) {
      if (node.items.length === 0) this.fail(node, key, `an empty list matches nothing: give ${what}, or drop the key`);
      return (node.items as Node[]).map((n, i) => ({ text: this.text(n, `${key}[${i}]`, what), node: n }));
    }
    return [{ text: this.text(node, key, what), node: node as Node }];
  }
}

/** An account id: 12 digits, as written (an unquoted 012345678901 keeps its zero: the text is read, not the number). */
function accountId(r: Reader, node: Node, key: string): string {
  const raw = isScalar(node) && typeof node.source === 'string' && node.source !== '' ? node.source : isScalar(node) ? String(node.value) : '';
  if (!/^\d{12}$/.test(raw)) r.fail(node, key, `an AWS account id is 12 digits (got ${JSON.stringify(raw)})`);
  return raw;
}

function readAccounts(r: Reader, node: Node | null): Config['accounts'] {
  const out: Config['accounts'] = { own: [], trusted: [] };
  if (node === null) return out;
  const seen = new Map<string, string>();
  for (const e of r.entries(node, 'accounts', ACCOUNT_KEYS)) {
    const kind = e.name as keyof typeof ACCOUNT_KEYS;
    if (e.value === null) continue;
    for (const a of r.entries(e.value, `accounts.${kind}`)) {
      const id = accountId(r, a.keyNode, `accounts.${kind}`);
      if (seen.has(id)) r.fail(a.keyNode, `accounts.${kind}.${id}`, `listed twice (also under accounts.${seen.get(id)})`);
      seen.set(id, kind);
      out[kind].push({ id, name: a.value === null || (isScalar(a.value) && a.value.value === null) ? null : r.text(a.value, `accounts.${kind}.${id}`, 'a name (text)') });
    }
  }
  return out;
}

/**
 * A scalar's value; a number written as digits that its value does not give
 * back (a leading zero: `012345678901` is 12345678901 to YAML; past 2^53) is
 * kept as written, text: an account id must keep its zero (config-apply
 * reads digits as a number where a number is wanted).
 */
function scalarValue(n: Node): unknown {
  if (!isScalar(n)) return undefined;
  const src = n.source;
  if (typeof n.value === 'number' && n.type === 'PLAIN' && typeof src === 'string' && /^\d+$/.test(src) && String(n.value) !== src) return src;
  return n.value;
}

/** A parameter value: a number, true/false, text, or a list of numbers or texts. */
function paramValue(r: Reader, node: Node | null, key: string): ParamValue {
  if (isSeq(node)) {
    const items = (node.items as Node[]).map((n, i) => {
      if (!isScalar(n) || n.value === null || typeof n.value === 'boolean' || typeof n.value === 'object') r.fail(n, `${key}[${i}]`, 'a list item must be a number or text');
      if (typeof n.value === 'string' && n.value.includes(',')) r.fail(n, `${key}[${i}]`, 'a list item cannot hold a comma');
      return scalarValue(n) as string | number;
    });
    if (items.every((x) => typeof x === 'number')) return items as number[];
    return items.map(String);
  }
  if (!isScalar(node) || node.value === null || typeof node.value === 'object') r.fail(node, key, 'must be a number, true or false, text, or a list');
  const v = scalarValue(node) as string | number | boolean;
  if (typeof v === 'number' && !Number.isFinite(v)) r.fail(node, key, 'must be a finite number');
  return v;
}

function readParams(r: Reader, node: Node | null): ParamSetting[] {
  if (node === null) return [];
  const out: ParamSetting[] = [];
  for (const d of r.entries(node, 'params')) {
    if (d.value === null) continue;
    for (const p of r.entries(d.value, `params.${d.name}`)) out.push({ detection: d.name, name: p.name, value: paramValue(r, p.value, `params.${d.name}.${p.name}`), at: r.at(p.keyNode) });
  }
  return out;
}

function readIntel(r: Reader, node: Node | null, dir: string): Pick<Config, 'intel' | 'intelAt'> {
  if (node === null) return { intel: [], intelAt: [] };
  if (!isSeq(node)) r.fail(node, 'intel', 'must be a list of files (- path/to/list.csv)');
  const items = node.items as Node[];
  const intel = items.map((n, i) => {
    const p = r.text(n, `intel[${i}]`, 'a file path');
    return isAbsolute(p) ? p : resolve(dir, p);
  });
  return { intel, intelAt: items.map((n) => r.at(n)) };
}

/** The end of a rule's `until`: a date alone is through that day (UTC); a time is that instant. */
function untilOf(r: Reader, node: Node | null, key: string): { until: Date; untilText: string } {
  const text = r.text(node, key, 'a date');
  const t = parseTime(text);
  if (!t) r.fail(node, key, `not a date (got ${JSON.stringify(text)}); write YYYY-MM-DD or an ISO 8601 time such as 2026-03-31T18:00:00Z`);
  return { until: /^\d{4}-\d\d-\d\d$/.test(text) ? new Date(t.getTime() + 86_400_000) : t, untilText: text };
}

function readRule(r: Reader, node: Node, index: number): SuppressRule {
  const key = `suppress[${index - 1}]`;
  const fields = new Map(r.entries(node, key, SUPPRESS_KEYS).map((e) => [e.name, e]));
  const value = (name: keyof typeof SUPPRESS_KEYS): Node | null | undefined => fields.get(name)?.value;
  if (!fields.has('detection')) r.fail(node, key, 'needs detection: an id, a list of ids, or "*" for every detection');
  if (!fields.has('reason')) r.fail(node, key, 'needs reason: why these findings are expected (a person reading the report later must be able to judge it)');
  // One line: a block scalar's (|) line breaks become spaces, not escapes in the report.
  const reason = r.text(value('reason') ?? null, `${key}.reason`).replace(/\s*[\r\n]+\s*/g, ' ').trim();
  if (reason === '') r.fail(value('reason'), `${key}.reason`, 'is empty: say why these findings are expected');
  const detections = r.texts(value('detection') ?? null, `${key}.detection`, 'a detection id or "*"').map((d) => d.text);
  const rule: SuppressRule = { index, at: r.at(node), detections, reason };
  for (const f of GLOB_FIELDS) {
    if (!fields.has(f)) continue;
    rule[f] = r.texts(value(f) ?? null, `${key}.${f}`, 'a glob (text)').map(({ text, node: n }) => {
      if (text.length > MAX_GLOB_LENGTH) r.fail(n, `${key}.${f}`, `longer than ${MAX_GLOB_LENGTH} characters`);
      return glob(text);
    });
  }
  if (fields.has('source_ip')) {
    const list = new BlockList();
    const text = r.texts(value('source_ip') ?? null, `${key}.source_ip`, 'an address or a CIDR').map(({ text: t, node: n }) => {
      const [addr = '', bits, ...more] = t.trim().split('/');
      const family = isIP(addr);
      const prefix = bits === undefined ? undefined : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
      if (family === 0 || more.length || (prefix !== undefined && !(prefix >= 0 && prefix <= (family === 4 ? 32 : 128)))) {
        r.fail(n, `${key}.source_ip`, `not an IPv4 or IPv6 address or CIDR (got ${JSON.stringify(t)}); e.g. 203.0.113.7, 10.0.0.0/8, 2001:db8::/32`);
      }
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (prefix === undefined) list.addAddress(addr, type);
      else list.addSubnet(addr, prefix, type);
      return t.trim();
    });
    rule.source_ip = { text, list };
  }
  if (fields.has('until')) Object.assign(rule, untilOf(r, value('until') ?? null, `${key}.until`));
  if (detections.includes('*') && ![...GLOB_FIELDS, 'source_ip'].some((f) => fields.has(f))) {
    r.fail(node, key, 'detection "*" with no field to match would silence every finding: add bucket, key, principal, source_ip, user_agent or operation');
  }
  return rule;
}

function readSuppress(r: Reader, node: Node | null): SuppressRule[] {
  if (node === null) return [];
  if (!isSeq(node)) r.fail(node, 'suppress', 'must be a list of rules (- detection: ID ... reason: ...)');
  return (node.items as Node[]).map((n, i) => readRule(r, n, i + 1));
}

/** Validate config text; `file` names it in errors, and relative paths are read from its folder. */
export function parseConfig(text: string, file: string): Config {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const bad = doc.errors[0];
  if (bad) {
    const pos = lines.linePos(bad.pos[0]);
    throw new ConfigError(`${file}:${pos.line}:${pos.col}: not valid YAML: ${bad.message.split('\n')[0]}`);
  }
  const r = new Reader(file, lines);
  const config = emptyConfig();
  config.file = file;
  const root = doc.contents as Node | null;
  if (root === null || (isScalar(root) && root.value === null)) return config;
  for (const e of r.entries(root, '', CONFIG_KEYS)) {
    if (e.name === 'accounts') config.accounts = readAccounts(r, e.value);
    else if (e.name === 'params') config.params = readParams(r, e.value);
    else if (e.name === 'intel') Object.assign(config, readIntel(r, e.value, dirname(resolve(file))));
    else config.suppress = readSuppress(r, e.value);
  }
  return config;
}
