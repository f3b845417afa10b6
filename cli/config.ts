/**
 * The config file on the command line: the `--config` and
 * `--show-suppressed` flags, and reading the file for a command that runs
 * detections (query/config.ts does the work; docs/config.md).
 */
import type { Io } from './command.js';
import { bool, text } from './flags.js';
import type { Config } from '../query/config.js';
import type { AppliedConfig } from '../query/config-apply.js';
import type { ParamOverrides } from '../query/detect.js';
import type { Detection } from '../query/detection.js';

export const configFlag = text({ value: 'FILE', help: 'the config file: accounts, params, intel lists, suppress rules (docs/config.md;\ndefault ./s3sift.yaml, else s3sift.yaml in the --data folder)' });

export const showSuppressedFlag = bool({ help: 'list the findings the config suppressed, each with its rule and reason\n(table and json; they are always counted)' });

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** One line for stderr: which config file was read and what it holds. */
export function configSummary(c: Config): string {
  const parts = [
    c.accounts.own.length ? plural(c.accounts.own.length, 'own account') : '',
    c.accounts.trusted.length ? plural(c.accounts.trusted.length, 'trusted account') : '',
    c.params.length ? plural(c.params.length, 'param') : '',
    c.intel.length ? plural(c.intel.length, 'intel list') : '',
    c.suppress.length ? plural(c.suppress.length, 'suppress rule') : '',
  ].filter(Boolean);
  return `config: ${c.file} (${parts.join(', ') || 'empty'})`;
}

/**
 * Read the config (`--config`, else ./s3sift.yaml, else <data>/s3sift.yaml),
 * check it against the detection library, say on stderr which file it was,
 * and give the run's overrides (flags win), intel files and rules.
 */
export async function loadConfigFlag(
  f: { config: string | undefined; data: string; param: ParamOverrides; intel: readonly string[] },
  library: { all: readonly Detection[]; selected: readonly Detection[] },
  io: Io,
): Promise<AppliedConfig & { config: Config }> {
  const [{ loadConfig }, { applyConfig }] = await Promise.all([import('../query/config.js'), import('../query/config-apply.js')]);
  const config = await loadConfig({ path: f.config, dataDir: f.data });
  const applied = applyConfig(config, { detections: library.all, selected: library.selected, flags: f.param, intel: f.intel });
  if (config.file !== null) io.stderr.line(configSummary(config));
  return { ...applied, config };
}

/**
 * The stderr line for the formats that carry findings only (NDJSON, CSV,
 * OCSF): how many findings the suppress rules silenced. Null for the
 * report and JSON, which say it themselves, and when none was.
 */
export function suppressedNotice(format: string, suppressed: { line: string | null } | undefined): string | null {
  if (format === 'table' || format === 'json' || !suppressed?.line) return null;
  return `${suppressed.line}; --format json --show-suppressed lists them`;
}
