/**
 * The config file, `s3sift.yaml` (docs/config.md): read, validated and
 * typed once, for every command that runs detections (detect, analyze,
 * serve, watch).
 *
 * Public API (what a command calls):
 *
 * - `loadConfig({ path?, dataDir, cwd? }): Promise<Config>` finds the file
 *   (`path` when given, which must exist; else `./s3sift.yaml`; else
 *   `<dataDir>/s3sift.yaml`; else none: an empty config with `file: null`)
 *   and validates it. A file found (not `path`) that is not a regular file,
 *   is writable by everyone, or is owned by another user (not root) is
 *   refused: it decides what is reported. Every error is a `ConfigError` (exit 2) whose message
 *   starts with `FILE:LINE:COL: KEY:` and says what to write instead.
 * - `parseConfig(text, file): Config`: the same, from text (tests).
 * - `applyConfig(config, { detections, selected?, flags?, intel? })`
 *   (query/config-apply.ts) checks the config against the detection library
 *   and gives what a run needs: `overrides` (the `--param` overrides with the
 *   config's `params` and `accounts` under the flags, so flags win), `intel`
 *   (the config's lists, then the `--intel` files), and `suppress` (the
 *   rules, for query/suppress.ts).
 * - query/suppress.ts: `suppressor(rules, now?)` gives the `sift` a run
 *   applies to each detection's events before grouping (RunOptions.sift) and
 *   collects what it silenced (the first matching rule takes an event;
 *   expired rules apply to nothing); `suppressOutput(suppression, show)`
 *   gives what formatFindings and stderr need (`suppressed`, `expiry`
 *   lines). `suppressFindings(findings, rules, now?)` does it for one list.
 *
 * Paths in the file (`intel:`) are relative to the file's folder.
 */
import { readFile, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from './config-read.js';
import { CONFIG_FILE, ConfigError, emptyConfig, MAX_CONFIG_BYTES, positionText, type Config, type Position } from './config-schema.js';

export { parseConfig } from './config-read.js';
export { ACCOUNT_KEYS, CONFIG_FILE, CONFIG_KEYS, ConfigError, emptyConfig, MAX_CONFIG_BYTES, positionText, SUPPRESS_KEYS } from './config-schema.js';
export type { Account, AddressMatch, Config, ParamSetting, Position, SuppressRule } from './config-schema.js';

/** Which file a run reads: `path` (must exist), else `./s3sift.yaml`, else `<dataDir>/s3sift.yaml`, else none. */
export function findConfig(o: { path?: string; dataDir: string; cwd?: string }): string | null {
  if (o.path !== undefined) return o.path;
  const here = join(o.cwd ?? process.cwd(), CONFIG_FILE);
  if (existsSync(here)) return here;
  const inData = join(o.dataDir, CONFIG_FILE);
  return existsSync(inData) ? inData : null;
}

/**
 * A file found rather than named (./s3sift.yaml, <data>/s3sift.yaml) is read
 * only if it is a regular file that no other user may have written: its
 * accounts, params and rules decide what is reported, and a dataset folder
 * may be shared. `--config` names a file on purpose and is not checked.
 */
async function checkFound(file: string): Promise<void> {
  const st = await stat(file).catch(() => null);
  if (st === null) return; // readFile says why
  const refuse = (why: string): never => {
    throw new ConfigError(`${file}: ${why}; its accounts, params and suppress rules decide what is reported, so it is not read unless named: --config ${file}`);
  };
  if (!st.isFile()) refuse('not a regular file');
  // Windows gives every writable file mode 666 and has no uid: these checks are POSIX's.
  if (process.platform === 'win32') return;
  if (st.mode & 0o002) refuse('anyone may write this file (mode ' + (st.mode & 0o777).toString(8) + ')');
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid && st.uid !== 0) refuse(`owned by another user (uid ${st.uid})`);
}

/** Find (see findConfig), read and validate the config; no file is an empty config. */
export async function loadConfig(o: { path?: string; dataDir: string; cwd?: string }): Promise<Config> {
  const file = findConfig(o);
  if (file === null) return emptyConfig();
  if (o.path === undefined) await checkFound(file);
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (err) {
    throw new ConfigError(`${file}: cannot read the config (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  if (buf.length > MAX_CONFIG_BYTES) throw new ConfigError(`${file}: larger than ${MAX_CONFIG_BYTES / 1024} KiB; is it a config file?`);
  const config = parseConfig(buf.toString('utf8'), file);
  // A list that is not there is the config's mistake: say where it is written (reading it is --intel's loader's job).
  config.intel.forEach((path, i) => {
    if (!existsSync(path)) throw new ConfigError(`${positionText(config.intelAt[i] as Position)}: intel[${i}]: no such file: ${path} (paths are relative to the config file's folder)`);
  });
  return config;
}
