/**
 * A validated config (query/config.ts) checked against the detection
 * library and turned into what a run takes: parameter overrides (the
 * config's under the `--param` flags), threat-intel files and suppression
 * rules. See query/config.ts's header for the whole API.
 */
import type { Detection } from './detection.js';
import type { ParamOverrides } from './detect.js';
import { ConfigError, positionText, type Config, type ParamSetting, type SuppressRule } from './config.js';

/** The parameter the `accounts.own` ids feed, in every detection that has it. */
export const OWNER_PARAM = 'owner_accounts';
/** The parameter the `accounts.trusted` ids feed, in every detection that has it. */
export const TRUSTED_PARAM = 'trusted_accounts';

/** Parameters that hold AWS account ids: each item must be 12 digits. */
export const ACCOUNT_PARAMS: readonly string[] = [OWNER_PARAM, TRUSTED_PARAM];

/** What a run takes from the config. */
export interface AppliedConfig {
  /** `--param` overrides: accounts, then the config's params, then the flags (flags win). */
  overrides: ParamOverrides;
  /** Threat-intel files: the config's, then the `--intel` flags'. */
  intel: string[];
  /** Suppression rules, in the file's order. */
  suppress: SuppressRule[];
}

/** A config value as `--param` text, after checking it has the type of the parameter's default. */
function asText(s: ParamSetting, d: Detection): string {
  const def = d.params[s.name]?.default;
  const where = `${positionText(s.at)}: params.${s.detection}.${s.name}`;
  // Digits YAML would read as another number (a leading zero) come as text (config-read.ts): a number where one is wanted.
  const digits = (x: unknown): boolean => typeof x === 'string' && /^\d+$/.test(x);
  const v = typeof def === 'number' && digits(s.value) ? Number(s.value) : s.value;
  if (ACCOUNT_PARAMS.includes(s.name)) {
    const bad = (Array.isArray(v) ? v : [v]).find((x) => !/^\d{12}$/.test(String(x)));
    if (bad !== undefined) throw new ConfigError(`${where}: an AWS account id is 12 digits (got ${JSON.stringify(String(bad))})`);
  }
  if (typeof def === 'number') {
    if (typeof v !== 'number') throw new ConfigError(`${where}: must be a number (${d.id}'s default is ${def}; got ${JSON.stringify(v)})`);
    return String(v);
  }
  if (typeof def === 'boolean') {
    if (typeof v !== 'boolean') throw new ConfigError(`${where}: must be true or false (got ${JSON.stringify(v)})`);
    return String(v);
  }
  if (Array.isArray(def)) {
    const items: Array<string | number> = Array.isArray(v) ? v : typeof v === 'boolean' ? [] : [v];
    if (typeof v === 'boolean') throw new ConfigError(`${where}: must be a list (got ${v})`);
    if (def.length > 0 && def.every((x) => typeof x === 'number') && items.some((x) => typeof x !== 'number' && !digits(x))) throw new ConfigError(`${where}: must be a list of numbers`);
    return items.map(String).join(',');
  }
  if (typeof v === 'boolean' || Array.isArray(v)) throw new ConfigError(`${where}: must be text (got ${JSON.stringify(v)})`);
  return String(v);
}

/** Check each `params:` entry against the library; as overrides (`ID.NAME` or, for `*`, `NAME`). */
function paramOverrides(settings: readonly ParamSetting[], detections: readonly Detection[]): ParamOverrides {
  const out: ParamOverrides = {};
  for (const s of settings) {
    const where = `${positionText(s.at)}: params.${s.detection}.${s.name}`;
    if (s.detection === '*') {
      const having = detections.filter((d) => Object.hasOwn(d.params, s.name));
      if (!having.length) throw new ConfigError(`${where}: no detection has a parameter ${s.name} (see 's3sift detections show ID')`);
      // The value must suit every detection that has it.
      const texts = having.map((d) => asText(s, d));
      out[s.name] = texts[0] as string;
      continue;
    }
    const d = detections.find((x) => x.id === s.detection);
    if (!d) throw new ConfigError(`${positionText(s.at)}: params.${s.detection}: unknown detection (see 's3sift detections list'; "*" is every detection)`);
    if (!Object.hasOwn(d.params, s.name)) {
      const names = Object.keys(d.params);
      throw new ConfigError(`${where}: ${d.id} has no parameter ${s.name} (${names.length ? `it has ${names.join(', ')}` : 'it has none'})`);
    }
    out[`${d.id}.${s.name}`] = asText(s, d);
  }
  return out;
}

/** `upper` over `lower`: a global `NAME` in `upper` also replaces `lower`'s `ID.NAME` ones, so the upper layer wins everywhere. */
export function layerOverrides(lower: ParamOverrides, upper: ParamOverrides): ParamOverrides {
  const out: ParamOverrides = { ...lower };
  for (const [k, v] of Object.entries(upper)) {
    if (!k.includes('.')) for (const lk of Object.keys(out)) if (lk.endsWith(`.${k}`)) delete out[lk];
    out[k] = v;
  }
  return out;
}

/** Only the overrides some selected detection has (a config names the whole library; `--only` runs part of it). */
function forSelected(overrides: ParamOverrides, selected: readonly Detection[]): ParamOverrides {
  return Object.fromEntries(Object.entries(overrides).filter(([k]) => {
    const [id, name] = k.includes('.') ? k.split('.', 2) : [undefined, k];
    return selected.some((d) => (id === undefined || d.id === id) && Object.hasOwn(d.params, name as string));
  }));
}

/**
 * Check `config` against the library `detections` (unknown detection or
 * parameter, a value of the wrong type: a ConfigError at its line) and give
 * the run's overrides, intel files and rules. `selected`: the detections
 * that run (default all); `flags`: the `--param` overrides, which win;
 * `intel`: the `--intel` files, added after the config's.
 */
export function applyConfig(config: Config, o: { detections: readonly Detection[]; selected?: readonly Detection[]; flags?: ParamOverrides; intel?: readonly string[] }): AppliedConfig {
  const accounts: ParamOverrides = {};
  const ids = (list: Config['accounts']['own']): string => list.map((a) => a.id).join(',');
  if (config.accounts.own.length) accounts[OWNER_PARAM] = ids(config.accounts.own);
  if (config.accounts.trusted.length) accounts[TRUSTED_PARAM] = ids(config.accounts.trusted);
  const fromConfig = layerOverrides(accounts, paramOverrides(config.params, o.detections));
  for (const rule of config.suppress) {
    const unknown = rule.detections.filter((id) => id !== '*' && !o.detections.some((d) => d.id === id));
    if (unknown.length) throw new ConfigError(`${positionText(rule.at)}: suppress[${rule.index - 1}].detection: unknown detection ${unknown.join(', ')} (see 's3sift detections list')`);
  }
  return {
    overrides: layerOverrides(forSelected(fromConfig, o.selected ?? o.detections), o.flags ?? {}),
    intel: [...config.intel, ...(o.intel ?? [])],
    suppress: config.suppress,
  };
}

/** The names of accounts by id (own and trusted), for showing next to ids. */
export function accountNames(config: Config): Map<string, string> {
  return new Map([...config.accounts.own, ...config.accounts.trusted].filter((a) => a.name !== null).map((a) => [a.id, a.name as string]));
}

