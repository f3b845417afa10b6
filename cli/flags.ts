/**
 * Flags declared once. Each command lists its flags as a table of typed
 * declarations; the parser options (node:util `parseArgs`), the typed values
 * the command receives and the Options section of its help all come from
 * that table, so the help cannot drift from the parsing.
 */
import { parseArgs } from 'node:util';
import { UsageError } from '../common/errors.js';
import { parseTime } from '../common/time.js';

/** What parseArgs found for a flag: nothing, a boolean, a string, or (repeatable flags) strings. */
type Raw = string | boolean | Array<string | boolean> | undefined;

/** One flag: how it is parsed, how it reads in help, and what value the command gets. */
export interface Flag<T> {
  readonly type: 'string' | 'boolean';
  readonly multiple: boolean;
  readonly short?: string;
  /** The value's name in help: `--data DIR`. */
  readonly value?: string;
  /** One line (or a few, separated by \n) for the help. */
  readonly help: string;
  /** The value the command gets, from what the command line said (`raw` is undefined when the flag is absent). */
  parse(raw: Raw, name: string): T;
}

export type Flags = Readonly<Record<string, Flag<unknown>>>;

/** The values a command receives for its flag table. */
export type FlagValues<F extends Flags> = { -readonly [K in keyof F]: F[K] extends Flag<infer T> ? T : never };

interface Base {
  help: string;
  /** How the default reads in help, when not the value itself. */
  shownDefault?: string;
  value?: string;
  short?: string;
}

const withDefault = (help: string, d: unknown): string => (d === undefined ? help : `${help} (default ${String(d)})`);
const strings = (raw: Raw): string[] => (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).filter((x): x is string => typeof x === 'string');

/** A free-text value. */
export function text(o: Base & { default: string }): Flag<string>;
export function text(o: Base): Flag<string | undefined>;
export function text(o: Base & { default?: string }): Flag<string | undefined> {
  return { type: 'string', multiple: false, value: 'X', ...o, help: withDefault(o.help, o.default), parse: (raw, name) => (typeof raw === 'string' ? nonEmpty(raw, name) : o.default) };
}

/** A value given as `--flag=` (empty) is a mistake, not a request for the default. */
function nonEmpty(value: string, name: string): string {
  if (value === '') throw new UsageError(`--${name} was given an empty value`);
  return value;
}

/** A switch: true when given. */
export function bool(o: Base): Flag<boolean> {
  return { type: 'boolean', multiple: false, ...o, value: undefined, parse: (raw) => raw === true };
}

/** Repeatable, and each value may hold several separated by commas: `--only a,b --only c`. */
export function list(o: Base & { default?: readonly string[] }): Flag<string[]> {
  return {
    type: 'string', multiple: true, value: 'X,...', ...o, help: withDefault(o.help, o.shownDefault ?? o.default?.join(',')),
    parse: (raw, name) => {
      const given = strings(raw).map((s) => nonEmpty(s, name)).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
      return given.length ? given : [...(o.default ?? [])];
    },
  };
}

/** Repeatable, each value whole (a value may hold commas): `--param a=1 --param b=x,y`. */
export function repeated(o: Base): Flag<string[]> {
  return { type: 'string', multiple: true, value: 'X', ...o, help: `${o.help}; repeatable`, parse: (raw, name) => strings(raw).map((s) => nonEmpty(s, name)) };
}

/** One of a fixed set of words. */
export function choice<const C extends string>(o: Base & { choices: readonly C[]; default: C }): Flag<C>;
export function choice<const C extends string>(o: Base & { choices: readonly C[] }): Flag<C | undefined>;
export function choice<const C extends string>(o: Base & { choices: readonly C[]; default?: C }): Flag<C | undefined> {
  return {
    type: 'string', multiple: false, value: o.choices.join('|'), ...o, help: withDefault(o.help, o.default),
    parse: (raw, name) => {
      if (typeof raw !== 'string') return o.default;
      const hit = o.choices.find((c) => c === raw);
      if (hit === undefined) throw new UsageError(`--${name} must be one of ${o.choices.join(', ')} (got ${JSON.stringify(raw)})${suggestion(raw, o.choices, (c) => c)}`);
      return hit;
    },
  };
}

/** A whole number in [min, max]. */
export function integer(o: Base & { min: number; max: number; default: number }): Flag<number>;
export function integer(o: Base & { min: number; max: number }): Flag<number | undefined>;
export function integer(o: Base & { min: number; max: number; default?: number }): Flag<number | undefined> {
  return {
    type: 'string', multiple: false, value: 'N', ...o, help: withDefault(o.help, o.default),
    parse: (raw, name) => {
      if (typeof raw !== 'string') return o.default;
      const n = /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n) || n < o.min || n > o.max) throw new UsageError(`--${name} must be a whole number from ${o.min} to ${o.max} (got ${JSON.stringify(raw)})`);
      return n;
    },
  };
}

/** An ISO 8601 date or time flag. */
export function time(o: Base): Flag<Date | undefined> {
  return {
    type: 'string', multiple: false, value: 'T', ...o,
    parse: (raw, name) => {
      if (typeof raw !== 'string') return undefined;
      const d = parseTime(raw);
      if (!d) throw new UsageError(`--${name} must be an ISO 8601 date or time, e.g. 2025-03-12 or 2025-03-12T08:00:00Z (got ${JSON.stringify(raw)})`);
      return d;
    },
  };
}

/** Optimal string alignment distance (edits, with two swapped neighbours counted as one). */
export function editDistance(a: string, b: string): number {
  const w = b.length + 1;
  const d = new Array<number>((a.length + 1) * w).fill(0);
  const at = (i: number, j: number): number => d[i * w + j] ?? 0;
  for (let i = 0; i <= a.length; i++) d[i * w] = i;
  for (let j = 0; j <= b.length; j++) d[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, at(i - 2, j - 2) + 1);
      d[i * w + j] = v;
    }
  }
  return at(a.length, b.length);
}

/** " (did you mean --since?)" when one candidate is close to `word`, else "". */
export function suggestion(word: string, candidates: readonly string[], show = (c: string): string => `--${c}`): string {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = c.startsWith(w) && w.length >= 3 ? 1 : editDistance(w, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(w.length / 3)) ? ` (did you mean ${show(best)}?)` : '';
}

/** Parse `argv` against a flag table: unknown flags, missing values and bad values are UsageErrors. */
export function parseFlags<F extends Flags>(flags: F, argv: readonly string[]): { values: FlagValues<F>; positionals: string[] } {
  const options = Object.fromEntries(Object.entries(flags).map(([name, f]) => [name, { type: f.type, multiple: f.multiple, ...(f.short ? { short: f.short } : {}) }]));
  // A first, lenient pass finds unknown flags, so that each can be named with a suggestion.
  const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });
  for (const t of tokens) {
    if (t.kind !== 'option' || Object.hasOwn(flags, t.name)) continue;
    const name = t.rawName.startsWith('--') ? t.rawName.slice(2) : t.rawName.slice(1);
    throw new UsageError(`unknown option ${t.rawName}${suggestion(name, Object.keys(flags))}`);
  }
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError(parseArgsMessage(err, flags));
  }
  const given: Record<string, Raw> = parsed.values;
  const values = Object.fromEntries(Object.entries(flags).map(([name, f]) => [name, f.parse(given[name], name)]));
  // The one place the typed shape is built at run time: each entry is its flag's parse() result.
  return { values: values as FlagValues<F>, positionals: parsed.positionals };
}

/** parseArgs's complaint in s3sift's words ("--data needs a value: --data DIR"). */
function parseArgsMessage(err: unknown, flags: Flags): string {
  const message = err instanceof Error ? err.message : String(err);
  const m = /^Option '(?:-(\w), )?--([\w-]+)(?: <value>)?' (argument missing|does not take an argument|argument is ambiguous)/.exec(message);
  const name = m?.[2];
  const flag = name === undefined ? undefined : flags[name];
  if (!flag) return message.split('\n')[0]?.split('. To specify')[0] ?? message;
  if (m?.[3] === 'does not take an argument') return `--${name} is a switch and takes no value`;
  const needs = `--${name} needs a value: --${name} ${flag.value ?? 'X'}`;
  return m?.[3] === 'argument is ambiguous' ? `${needs} (a value that starts with - is written --${name}=-...)` : needs;
}

/** The Options section of a help text, from the flag table. */
export function renderFlags(flags: Flags): string {
  const rows = Object.entries(flags).map(([name, f]) => ({ left: `${f.short ? `-${f.short}, ` : ''}--${name}${f.value ? ` ${f.value}` : ''}`, help: f.help }));
  rows.push({ left: '-h, --help', help: 'show this help' });
  const width = Math.min(Math.max(...rows.map((r) => r.left.length)) + 2, 30);
  const indent = ' '.repeat(width);
  const lines = rows.map((r) => {
    const [first = '', ...more] = r.help.split('\n');
    const head = r.left.length + 2 > width ? `  ${r.left}\n  ${indent}${first}` : `  ${r.left.padEnd(width)}${first}`;
    return [head, ...more.map((m) => `  ${indent}${m}`)].join('\n');
  });
  return `Options:\n${lines.join('\n')}`;
}
