/**
 * `s3sift findings list|ack|resolve`: the findings state of the dataset
 * (query/findings-state.ts), and `recordFindings`, which detect and watch
 * use to record a run's findings there.
 */
import { userInfo } from 'node:os';
import { DatasetError, UsageError, describe } from '../../common/errors.js';
import type { Finding } from '../../query/finding.js';
import type { StateEntry, Status } from '../../query/findings-state.js';
import { defineCommand, defineGroup, EXIT, type Io } from '../command.js';
import { dataFlag } from '../common-flags.js';
import { choice, text } from '../flags.js';
import { stdoutFor } from '../terminal-io.js';

const STATUS_CHOICES = ['open', 'acknowledged', 'resolved'] as const;

/** An error of the file system (EACCES, EROFS, ENOSPC ...) or of the dataset (its lock): the state could not be written. */
const cannotWrite = (err: unknown): boolean => err instanceof DatasetError || (err instanceof Error && 'errno' in err);

/**
 * Record `findings` in the dataset's findings state and return them, or,
 * with `onlyNew`, those the state had not seen (and those it reopened). A
 * dataset the run cannot write (read-only, locked too long) does not fail
 * the run: one line on stderr says the state was not recorded.
 */
export async function recordFindings(data: string, findings: readonly Finding[], opts: { onlyNew: boolean }, io: Io): Promise<Finding[]> {
  // Nothing found, nothing to record (and no state to create in a folder that may not be a dataset).
  if (findings.length === 0) return [];
  const { loadState, mergeFindings, updateState } = await import('../../query/findings-state.js');
  const now = new Date();
  let merge;
  try {
    merge = await updateState(data, (s) => mergeFindings(s, findings, now));
  } catch (err) {
    if (!cannotWrite(err)) throw err;
    io.stderr.line(`warning: could not record the findings in the findings state of ${data} (${describe(err)}); the next run sees them as new`);
    if (!opts.onlyNew) return [...findings];
    // Still new against what was recorded before, if that can be read (an unreadable state is an error: nothing can be called new).
    merge = mergeFindings(await loadState(data), findings, now);
  }
  if (!opts.onlyNew) return [...findings];
  const keep = new Set([...merge.fresh, ...merge.reopened].map((f) => f.finding_id));
  return findings.filter((f) => keep.has(f.finding_id));
}

/** The OS user, for `--by`. */
function osUser(io: Io): string {
  try {
    return userInfo().username;
  } catch {
    return io.env.USER ?? io.env.USERNAME ?? 'unknown';
  }
}

const LIST_COLUMNS = ['finding_id', 'status', 'severity', 'detection_id', 'bucket', 'principal', 'count', 'first_seen', 'last_seen', 'first_event', 'last_event', 'status_by', 'status_reason', 'status_at'] as const;
const TABLE_COLUMNS = ['finding_id', 'status', 'severity', 'detection_id', 'bucket', 'principal', 'count', 'last_event', 'status_by', 'status_reason'] as const;
const SEVERITY_ORDER = ['critical', 'high', 'medium', 'low', 'info'];

const list = defineCommand({
  name: 'list',
  summary: 'the recorded findings with their status, newest first',
  usage: '[options]',
  description: `
List the findings recorded in the dataset's findings state (every detect,
analyze and watch run records what it found): id, status (open,
acknowledged, resolved), severity, detection, bucket, principal, event
count, when first and last seen (wall clock of the runs) and the time of
their first and latest event, and who set the status and why.`,
  flags: {
    data: dataFlag,
    status: choice({ choices: STATUS_CHOICES, value: 'S', help: 'only findings with this status (open, acknowledged, resolved)' }),
    format: choice({ choices: ['table', 'json', 'ndjson', 'csv'], default: 'table', value: 'F', help: 'table, json, ndjson or csv' }),
  },
  examples: ['s3sift findings list --status open', 's3sift findings list --format ndjson | jq -r .finding_id'],
  async run({ flags: f, positionals }, io) {
    if (positionals.length) throw new UsageError(`findings list takes no arguments (got ${positionals.join(' ')})`);
    const [{ loadState }, { csv, textTable }, { checkDataset }] = await Promise.all([import('../../query/findings-state.js'), import('../../query/format.js'), import('../../ingest/dataset.js')]);
    // "No findings recorded" is an answer only about a dataset: a wrong --data is said as such.
    await checkDataset(f.data);
    const entries = Object.values((await loadState(f.data)).findings)
      .filter((e) => f.status === undefined || e.status === f.status)
      .sort((a, b) => b.first_seen.localeCompare(a.first_seen) || SEVERITY_ORDER.indexOf(a.severity) - SEVERITY_ORDER.indexOf(b.severity) || a.finding_id.localeCompare(b.finding_id));
    const rows = entries.map((e) => Object.fromEntries(LIST_COLUMNS.map((c) => [c, e[c]])));
    const out = stdoutFor(io, f.format);
    if (f.format === 'json') out.write(JSON.stringify(rows, null, 1) + '\n');
    else if (f.format === 'ndjson') out.write(rows.map((r) => JSON.stringify(r) + '\n').join(''));
    else if (f.format === 'csv') out.write(csv(LIST_COLUMNS, rows));
    else out.write(entries.length ? `${textTable(TABLE_COLUMNS, rows)}\n${entries.length} finding(s)\n` : `no findings recorded${f.status ? ` with status ${f.status}` : ''} in ${f.data}\n`);
    return EXIT.ok;
  },
});

/** `ack` and `resolve`: set a finding's status, saying who and why. */
function statusCommand(name: 'ack' | 'resolve', status: Status, summary: string, what: string): ReturnType<typeof defineCommand> {
  return defineCommand({
    name,
    summary,
    usage: 'ID --reason TEXT [options]',
    description: `
Mark the finding ID ${what}, with who (--by, default the OS user), why
(--reason, required) and when; 'findings list' shows them. ID is a
finding_id as detect's JSON and NDJSON, watch's sinks and 'findings list'
give it, or a prefix of 6 or more characters that only one finding has.
A resolved finding that fires again with events newer than any recorded
is reopened by the next run (and watch sends it again); an acknowledged
one stays acknowledged.`,
    flags: {
      data: dataFlag,
      reason: text({ value: 'TEXT', help: 'why (required)' }),
      by: text({ value: 'NAME', help: 'who (default: the OS user)' }),
    },
    notes: 'Exit codes: 0 done, 2 no such finding, no --reason, or the dataset cannot be written.',
    examples: [`s3sift findings ${name} 3f9c2a1b7d --reason "${status === 'resolved' ? 'key rotated, bucket policy fixed (INC-1234)' : 'known backup job, ticket SEC-88'}"`],
    async run({ flags: f, positionals }, io) {
      if (positionals.length !== 1) throw new UsageError(`findings ${name} takes one finding ID (got ${positionals.length})`);
      if (f.reason === undefined || !f.reason.trim()) throw new UsageError(`findings ${name} needs --reason TEXT: say why`);
      const [{ setStatus }, { checkDataset }] = await Promise.all([import('../../query/findings-state.js'), import('../../ingest/dataset.js')]);
      await checkDataset(f.data);
      const e: StateEntry = await setStatus(f.data, positionals[0] as string, status, f.by ?? osUser(io), f.reason);
      io.stdout.line(`${e.finding_id} ${e.status} by ${e.status_by ?? ''}: ${e.detection_id}${e.bucket ? ` on ${e.bucket}` : ''}`);
      return EXIT.ok;
    },
  });
}

export const findingsCommand = defineGroup({
  name: 'findings',
  summary: 'list the recorded findings; acknowledge or resolve one',
  description: `
The dataset keeps a state of the findings its runs found (DIR/findings/state.json):
first and last seen, event count, and a status a responder sets: open,
acknowledged, resolved, with who and why. 'detect --new' prints only what it
has not seen; 'watch' sends only that to its sinks.`,
  subcommands: [
    list,
    statusCommand('ack', 'acknowledged', 'acknowledge a finding (seen, being handled): --reason required', 'acknowledged (seen, being handled, or accepted)'),
    statusCommand('resolve', 'resolved', 'resolve a finding (dealt with): --reason required', 'resolved (dealt with)'),
  ],
});
