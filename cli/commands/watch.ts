import { createHash } from 'node:crypto';
import { UsageError } from '../../common/errors.js';
import { defineCommand } from '../command.js';
import { dataFlag, findingFlags, intelFlag, s3ReadFlags, s3ReadOptions } from '../common-flags.js';
import { configFlag } from '../config.js';
import { bool, choice, repeated, type Flag } from '../flags.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A duration: a whole number and a unit, `200ms`, `30s`, `5m`, `1h`. */
export function parseDuration(text: string, name: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(text.trim());
  const ms = m ? Number(m[1]) * (UNITS[m[2] as string] as number) : NaN;
  if (!Number.isSafeInteger(ms) || ms < 100 || ms > 7 * 86_400_000) throw new UsageError(`--${name} must be a duration from 100ms to 7 days: a number and ms, s, m or h, e.g. 30s or 5m (got ${JSON.stringify(text)})`);
  return ms;
}

const duration = (o: { help: string; default: string }): Flag<number> => ({
  type: 'string', multiple: false, value: 'DURATION', help: `${o.help} (default ${o.default})`,
  parse: (raw, name) => parseDuration(typeof raw === 'string' ? raw : o.default, name),
});

const flags = {
  data: dataFlag,
  every: duration({ help: 'time between the start of one cycle and the next: 200ms, 30s, 5m, 1h', default: '5m' }),
  sink: repeated({ value: 'SINK', help: 'where new findings go: stdout, ndjson:PATH (appended, fsync\'d) or webhook:URL\n(POST, one finding per request, retried; spooled in the dataset until\ndelivered); default stdout' }),
  once: bool({ help: 'one cycle, then exit (for cron or a scheduler): exit 2 if a source or a sink failed' }),
  'log-format': choice({ choices: ['text', 'json'], default: 'text', value: 'F', help: 'progress and errors on stderr, one line each: text or json' }),
  only: findingFlags.only,
  param: findingFlags.param,
  rules: findingFlags.rules,
  intel: intelFlag,
  config: configFlag,
  ...s3ReadFlags,
} as const;

export const watchCommand = defineCommand({
  name: 'watch',
  summary: 'ingest new logs and send new findings to sinks, every few minutes',
  usage: 'SOURCE... [options]',
  description: `
Keep a dataset up to date and alert on what is new. Every --every (default
5m), each SOURCE (a file, a folder or s3://bucket/prefix, as for 'ingest') is
read for what is new since the last cycle; if anything was added, the whole
detection library runs over the dataset, and the findings never sent before
(by finding_id, in the dataset's findings state: see 's3sift findings') go
to each --sink, one JSON object per finding with "delivery_id" and "alert"
(new, or reopened for a resolved finding that fired again with newer events).

A webhook or NDJSON sink first writes each alert to a spool in the dataset
(DIR/spool/), and removes it once delivered: a receiver that is down, or a
watch that is stopped, loses nothing; the next cycle delivers what waits, in
order. Webhook requests carry an Idempotency-Key header (the delivery_id), so
a receiver can drop the copy that a crash between delivery and bookkeeping
may send again. One watch per dataset: a second one is refused.

A source that fails is logged and read again next cycle; the others go on.
SIGINT or SIGTERM lets the cycle in progress finish, then exits 0. Progress
and errors go to stderr, one line each (--log-format json: one JSON object).`,
  flags,
  notes: `Exit codes: 0 stopped by SIGINT/SIGTERM, or --once and all went well; 2 bad
arguments, or --once and a source or a sink failed (what failed is retried by
the next run).
See docs/watch.md for a cron line and a systemd unit.`,
  examples: [
    's3sift watch ./logs/ --data /var/lib/s3sift --every 5m --sink ndjson:/var/log/s3sift/alerts.ndjson',
    's3sift watch s3://my-log-bucket/access/ --sink webhook:https://hooks.example.com/s3sift --log-format json',
    '*/10 * * * * s3sift watch s3://my-trail-bucket/AWSLogs/ --data /var/lib/s3sift --once --sink webhook:https://hooks.example.com/s3sift',
  ],
  async run({ flags: f, positionals }, io) {
    if (positionals.length === 0) throw new UsageError('watch needs at least one SOURCE (a file, a folder or s3://bucket/prefix)');
    if (positionals.includes('-')) throw new UsageError('watch cannot read stdin (-): give files, folders or s3:// prefixes');
    const [{ parseSink }, { watchLog }, { watch }, { prepareDetections, runPlan }, { ingest }, { expired, expiryLines }] = await Promise.all([
      import('../sinks.js'), import('../watch-log.js'), import('../watch.js'), import('./detect.js'), import('../../ingest/index.js'), import('../../query/suppress.js'),
    ]);
    const sinks = (f.sink.length ? f.sink : ['stdout']).map(parseSink);
    // The same path as detect and analyze: detections, --param, --intel and the config file loaded and checked once.
    const plan = await prepareDetections({ rules: f.rules, only: f.only, param: f.param, intel: f.intel, config: f.config, data: f.data }, io);
    const s3 = s3ReadOptions({ ...f, since: undefined, until: undefined }, io);
    const log = watchLog(io, f['log-format']);
    const stop = new AbortController();
    const onSignal = (sig: string): void => {
      if (!stop.signal.aborted) log.info('signal', `${sig}: stopping after the cycle in progress`);
      stop.abort();
    };
    const onInt = (): void => onSignal('SIGINT');
    const onTerm = (): void => onSignal('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    try {
      return await watch({
        data: f.data, sources: positionals, everyMs: f.every, once: f.once, sinks, stdout: io.raw.stdout, log, stop: stop.signal,
        // No progress bar: warnings (hidden files passed over, ...) go to the log, one line each.
        ingest: (src) => ingest([src], { data: f.data, format: 'auto', force: false, strict: false, s3, onWarning: (m) => log.info('warning', m, { source: src }) }),
        // Suppressed findings are neither recorded nor sent (the log line says how many); a rule past its until date lets them through.
        detect: async () => {
          const result = await runPlan(plan, f.data);
          const { suppression } = result;
          for (const line of expiryLines(suppression)) log.info('config', line);
          if (suppression.suppressed.length) log.info('suppress', `${suppression.suppressed.length} finding(s) suppressed by the config's rules`, { suppressed: suppression.suppressed.length });
          return result;
        },
        // The rules in force now: one past its until date changes the plan, and the library runs again over the same data.
        planKey: () => createHash('sha256').update(JSON.stringify({ d: plan.detections, o: plan.overrides, i: plan.intel.lists, s: plan.suppress.filter((r) => !expired(r, new Date())) }, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))).digest('hex'),
      });
    } finally {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    }
  },
});
