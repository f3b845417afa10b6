/**
 * The config file's shape (query/config.ts reads it): its types, its keys
 * with what each means (the docs and the unknown-key errors list them), and
 * the error a bad file gives.
 */
import { S3siftError } from '../common/errors.js';
import type { ParamValue } from './detection.js';
import type { Glob } from './glob.js';
import type { BlockList } from 'node:net';

/** The file's name where s3sift looks for it (the working folder, then the dataset folder). */
export const CONFIG_FILE = 's3sift.yaml';

/** Largest config file read. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** A config that cannot be used: exit 2, the message naming file, line and key. */
export class ConfigError extends S3siftError {
  constructor(message: string) {
    super('usage', message);
  }
}

/** Where something was written in the config file. */
export interface Position {
  file: string;
  line: number;
  col: number;
}

/** `FILE:LINE:COL` */
export const positionText = (p: Position): string => `${p.file}:${p.line}:${p.col}`;

/** An AWS account: its 12-digit id and, if given, a name for people. */
export interface Account {
  id: string;
  name: string | null;
}

/** One `params:` entry: a detection's parameter (`detection: '*'`: every detection that has it). */
export interface ParamSetting {
  detection: string;
  name: string;
  value: ParamValue;
  at: Position;
}

/** A source_ip match: the addresses and CIDRs as written, and the BlockList that holds them. */
export interface AddressMatch {
  text: string[];
  list: BlockList;
}

/** One `suppress:` rule. A finding is suppressed when every field the rule gives matches it. */
export interface SuppressRule {
  /** 1-based place in the `suppress:` list. */
  index: number;
  /** Where the rule starts. */
  at: Position;
  /** Detection ids, or `['*']` for every detection. */
  detections: string[];
  bucket?: Glob[];
  key?: Glob[];
  principal?: Glob[];
  source_ip?: AddressMatch;
  user_agent?: Glob[];
  operation?: Glob[];
  reason: string;
  /** The rule applies before this instant only. */
  until?: Date;
  /** `until` as written. */
  untilText?: string;
}

export interface Config {
  /** The file read, or null: no config (everything empty). */
  file: string | null;
  accounts: { own: Account[]; trusted: Account[] };
  params: ParamSetting[];
  /** Threat-intel list files, absolute. */
  intel: string[];
  /** Where each of `intel` is written (loadConfig checks that each exists). */
  intelAt: Position[];
  suppress: SuppressRule[];
}

/** The top-level keys, with what each means (the docs and the unknown-key error list them). */
export const CONFIG_KEYS = {
  accounts: "the organisation's AWS accounts: `own` (yours) and `trusted` (partners), each a mapping of 12-digit id to a name",
  params: 'detection parameters: `DETECTION-ID: {name: value}`, or `"*": {name: value}` for every detection that has the parameter; --param flags win',
  intel: 'threat-intel list files, as --intel takes them (relative to this file); --intel flags add to them',
  suppress: 'rules that silence findings: `detection` (an id, a list, or "*"), fields to match, a `reason`, and an optional `until` date',
} as const;

/** The keys of `accounts:`. */
export const ACCOUNT_KEYS = {
  own: 'your accounts (detections with an owner_accounts parameter get them)',
  trusted: 'partner accounts whose access is expected (detections with a trusted_accounts parameter get them)',
} as const;

/** The keys of a `suppress:` rule. */
export const SUPPRESS_KEYS = {
  detection: 'a detection id, a list of ids, or "*" (required)',
  bucket: 'the finding\'s bucket: a glob (`*` any run of characters, `?` one), or a list of globs',
  key: 'the object key: a glob (a prefix is `logs/*`), or a list',
  principal: 'the principal (an ARN, an account id, a canonical id): a glob, or a list',
  source_ip: 'the source address: an address or a CIDR (IPv4 or IPv6), or a list',
  user_agent: "the user agent in the finding's details.user_agent: a glob, or a list (findings of detections that do not report it never match)",
  operation: "the operation in the finding's details.operation (GetObject, PutObject: --format json shows it): a glob, or a list (findings of detections that do not report it never match)",
  reason: 'why these findings are expected (required; shown with --show-suppressed)',
  until: 'a date (YYYY-MM-DD: through that day, UTC) or ISO 8601 time after which the rule stops applying',
} as const;

/** The suppress keys matched by glob. */
export const GLOB_FIELDS = ['bucket', 'key', 'principal', 'user_agent', 'operation'] as const;

/** An empty config: what a run without a file uses. */
export function emptyConfig(): Config {
  return { file: null, accounts: { own: [], trusted: [] }, params: [], intel: [], intelAt: [], suppress: [] };
}
