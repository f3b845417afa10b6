/**
 * Flags several commands share, declared once: the dataset folder, the
 * flags that pick detections and shape findings, and how to reach S3.
 */
import { UsageError } from '../common/errors.js';
import { FINDING_FORMATS, SEVERITIES } from '../query/finding.js';
import { bool, choice, integer, list, repeated, text, time, type FlagValues } from './flags.js';
import type { Io } from './command.js';
import type { IntelSet } from '../query/intel.js';

export const DEFAULT_DATA = './s3sift-data';

export const dataFlag = text({ value: 'DIR', help: 'dataset folder', default: DEFAULT_DATA });

/** CSV as a program wants it: text cells exactly as they are (docs/contract.md, "CSV"). */
export const csvRawFlag = bool({ help: "with --format csv: text cells exactly as they are (by default one that\nstarts with =, +, -, @, tab or CR gets a ' before it, so that a spreadsheet\ndoes not run it as a formula)" });

/** --csv-raw says how to write CSV, so it goes with --format csv. */
export function checkCsvRaw(f: { format: string; 'csv-raw': boolean }): void {
  if (f['csv-raw'] && f.format !== 'csv') throw new UsageError(`--csv-raw goes with --format csv (got --format ${f.format})`);
}

/** The flags that pick detections and shape findings (detect, analyze, athena detect). */
export const findingFlags = {
  only: list({ value: 'ID,...', help: "run only these detections ('s3sift detections list')" }),
  since: time({ help: 'only events at or after T (ISO 8601: 2025-03-12, 2025-03-12T08:00:00Z)' }),
  until: time({ help: 'only events before T' }),
  param: repeated({ value: 'NAME=VALUE', help: 'set a detection parameter (ID.NAME=VALUE for one detection)' }),
  rules: repeated({ value: 'DIR', help: 'also load the detection files in DIR (an id already loaded is replaced)' }),
  format: choice({ choices: FINDING_FORMATS, default: 'table', value: 'F', help: 'table (the report), json, ndjson, csv, or ocsf (OCSF Detection Findings)' }),
  'csv-raw': csvRawFlag,
  'fail-on': choice({ choices: SEVERITIES, value: 'SEV', help: 'exit 1 if a finding is at least SEV (info, low, medium, high, critical)' }),
  ungrouped: bool({ help: 'one finding per event: do not group the events of one principal on one\nbucket within group_minutes (a request both sources logged stays one)' }),
} as const;

/** Threat-intel lists (detect, analyze, serve; docs/intel.md). */
export const intelFlag = repeated({ value: 'FILE', help: "a threat-intel list: addresses and CIDRs, one a line, or CSV with a label\n(see 's3sift intel --help'); requests from listed addresses are findings" });

/** Read the `--intel` lists (a bad one is a usage error naming it) and say on stderr what they hold. */
export async function loadIntelFlag(files: readonly string[], io: Io): Promise<IntelSet> {
  const { intelSummary, loadIntelFiles } = await import('../query/intel-load.js');
  const intel = await loadIntelFiles(files);
  if (files.length) io.stderr.line(intelSummary(intel));
  return intel;
}

/** A time window's flags in order: --since before --until. */
export function checkWindow(since: Date | undefined, until: Date | undefined): void {
  if (since && until && since >= until) throw new UsageError('--since must be before --until');
}

/** How to reach S3 (publish, and ingest of s3:// sources). */
export const s3ReachFlags = {
  'endpoint-url': text({ value: 'URL', help: 'an S3-compatible endpoint (path-style addressing)' }),
  region: text({ value: 'R', help: 'AWS region (default: the standard chain)' }),
  profile: text({ value: 'P', help: 'AWS profile (default: the standard chain)' }),
} as const;

/** ... and, for reading s3:// sources, how many objects at once. */
export const s3ReadFlags = {
  ...s3ReachFlags,
  concurrency: integer({ help: 's3:// objects downloaded at once', min: 1, max: 64, default: 4 }),
} as const;

/** What the S3 flags say, for the ingest and publish libraries; the profile goes to the SDK's standard chain. */
export function s3Options(f: { 'endpoint-url': string | undefined; region: string | undefined; profile: string | undefined }, io: Io): { endpoint?: string; region?: string } {
  if (f.profile !== undefined) io.env.AWS_PROFILE = f.profile;
  return { ...(f['endpoint-url'] !== undefined ? { endpoint: f['endpoint-url'] } : {}), ...(f.region !== undefined ? { region: f.region } : {}) };
}

/** What ingest and analyze's S3 flags say: how to reach S3, how many objects at once, and the key-date window. */
export function s3ReadOptions(f: FlagValues<typeof s3ReadFlags> & { since: Date | undefined; until: Date | undefined }, io: Io): { endpoint?: string; region?: string; concurrency: number; since?: Date; until?: Date } {
  checkWindow(f.since, f.until);
  return { ...s3Options(f, io), concurrency: f.concurrency, since: f.since, until: f.until };
}
