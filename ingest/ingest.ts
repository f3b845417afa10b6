/**
 * `s3sift ingest`: sources in, a committed dataset out. Every line read is
 * counted as ingested, rejected (with file, line and reason) or skipped
 * (blank); already-ingested sources are passed over unless forced; a source
 * that changed since, or is forced, replaces its earlier rows.
 */
import { mkdir, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { describe, WriteError } from '../common/errors.js';
import { AccessLogLines } from './access-log/batch.js';
import { text } from './access-log/scan.js';
import { readCloudTrail, type CloudTrailSink, type ParallelRead } from './cloudtrail/read.js';
import { Batches, ParseWorkers, type BatchResult } from './parallel.js';
import { cloudTrailRowBound, spanRowBound, stageCloudTrailRow } from './cloudtrail/stage-row.js';
import { DASH_IS_NULL } from './access-log/stage-row.js';
import { compactable } from './compact.js';
import { commit, ensureManifest, lock, newRunId, recover, REJECTS, settleFiles, STAGING, type Journal } from './dataset.js';
import { KnownSources, loadReplacing, stageManifest, type SourceEntry } from './manifest.js';
import { detectFormat, type Format } from './detect.js';
import { isBlank, MAX_LINE_BYTES, readLines } from './lines.js';
import { keepRaw, MAX_REJECTS, RejectsFile, type RejectRecord } from './reject.js';
import { planReplacements } from './replace.js';
import { DIR_MODE } from './modes.js';
import { ACCESS_LOG, CLOUDTRAIL, type TableSpec } from './schema.js';
import { Planner } from './plan.js';
import { localReadAhead, openContent, peekContent, resolveSources, type Source } from './sources.js';
import { Stage } from './staging.js';
import type { S3Options } from './s3.js';
import type { S3Client } from '@aws-sdk/client-s3';

export interface IngestOptions {
  /** Dataset folder (`--data`, default `./s3sift-data`). */
  data: string;
  format: 'auto' | Format;
  /** Re-ingest sources already in the dataset (their old rows are replaced). */
  force: boolean;
  /** Commit nothing if any line is rejected. */
  strict: boolean;
  /**
   * Rejects kept in the rejects file per source (`--max-rejects`, default
   * 1,000); the rest are counted, and a last line for the source says how many.
   */
  maxRejects?: number;
  /** How to reach S3 for s3:// sources. */
  s3?: S3Options;
  /**
   * Worker threads that read CloudTrail JSON and access-log lines beside the
   * reading thread: 0 reads in one thread, a number reads both kinds on that
   * many; by default one per core (at most 4) when the run reads at least
   * PARALLEL_BYTES of sources (starting them costs more than small runs
   * gain), access logs only on machines of more than two cores. A source
   * smaller than 1 MiB is read in the reading thread either way. See
   * docs/performance.md, "Ingest: access logs" and "Ingest: CloudTrail".
   */
  parseWorkers?: number;
  onProgress?: (p: IngestProgress) => void;
  onWarning?: (message: string) => void;
  stdin?: Readable;
}

export interface IngestProgress {
  source: string;
  bytesRead: number;
  bytesTotal: number;
  lines: number;
  rows: number;
  rejected: number;
}

export interface IngestSummary {
  run: string;
  /** Sources read this run. */
  sources: number;
  /** Sources passed over, with why. */
  passed: Array<{ name: string; reason: string }>;
  /** Sources whose earlier rows this run replaced. */
  replaced: string[];
  lines: number;
  rows: number;
  rejected: number;
  /** Rejects counted but not written to the rejects file (past `maxRejects` for their source). */
  rejectsNotKept: number;
  /** Passed over on purpose: blank lines, CloudTrail digest files and Insights records. */
  skipped: number;
  /** `skipped` by reason. */
  skippedWhy: Record<string, number>;
  byTable: Record<string, number>;
  /** Parquet files added (relative to the dataset). */
  files: string[];
  /** Rejects file written (relative), if any line was rejected. */
  rejectsFile: string | null;
  /** The first rejects, for messages. */
  firstRejects: RejectRecord[];
  /** True when --strict refused to commit because of rejects. */
  strictFailed: boolean;
  /** Date partitions this run wrote to that hold many small files (`TABLE/date=...`, how many): `s3sift compact` would merge them. */
  compactable: Array<{ partition: string; files: number }>;
  /**
   * Sources that could not be read to the end (a file gone or unreadable, a
   * download that failed): what came before the failure is kept, and the
   * source is left for the next run to read again (its rows then replaced).
   */
  unreadable: Array<{ name: string; reason: string }>;
  /** A commit an earlier, interrupted run had left, finished first. */
  recovered: string | null;
  seconds: number;
}

const FIRST_REJECTS = 10;

/** Marks the fingerprint of a source read only in part, so no fingerprint equals it and the next run re-reads it. */
const INCOMPLETE = 'incomplete:';

interface TableRun {
  table: TableSpec;
  stage: Stage;
  /** The run's parse workers, if it has them. */
  workers: ParseWorkers | null;
}

/**
 * Bytes of sources (as stored, gzipped or not) from which a run starts parse
 * workers by default: CloudTrail is read on them on any machine, access logs
 * only with more than two cores. On two cores the access log's workers cost
 * as much CPU as they take off the reading thread (1M lines: 9.3-10.1 s of
 * CPU against 7.7-8.3 s, no faster), its scan being cheap beside JSON.parse;
 * they take the reading thread from 4.5 s busy to 1.7-2.3 s, the bound
 * wherever there are cores to spare (docs/performance.md).
 */
export const PARALLEL_BYTES = 16 << 20;
/** Whether access logs are read on parse workers, given the `parseWorkers` option and the machine's cores (see PARALLEL_BYTES). */
export function accessLogOnWorkers(parseWorkers: number | undefined, cores: number): boolean {
  return parseWorkers === undefined ? cores > 2 : parseWorkers > 0;
}

/** Parse workers started by default, at most: one reading thread splits for all of them. */
const MAX_PARSE_WORKERS = 4;

/** Ingest `args` (paths, folders, `-`) into the dataset at `opts.data`. */
export async function ingest(args: readonly string[], opts: IngestOptions): Promise<IngestSummary> {
  const started = performance.now();
  const dir = opts.data;
  await mkdir(dir, { recursive: true, mode: DIR_MODE });
  const unlock = await lock(dir);
  // The AWS SDK is loaded only when a source is in S3.
  let client: S3Client | undefined;
  const s3 = async (): Promise<S3Client> => opts.s3?.client ?? (client ??= (await import('./s3.js')).s3Client(opts.s3));
  try {
    const { finished } = await recover(dir);
    const run = newRunId();
    const work = join(dir, STAGING, run);
    await mkdir(work, { recursive: true, mode: DIR_MODE });
    const known = await KnownSources.open(dir);
    // A file whose recorded stat proves it unchanged is not read (sources.ts, statKey); --force reads everything.
    const unchanged = opts.force ? undefined : (key: string, stat: string): boolean => known.unchanged(key, stat);
    const { sources, hidden, passedOver } = await resolveSources(args, work, opts.stdin, s3, opts.s3, { unchanged });
    for (const h of hidden) opts.onWarning?.(`${h}: hidden, passed over`);
    for (const p of passedOver) opts.onWarning?.(p);
    const summary: IngestSummary = {
      run, sources: 0, passed: [], replaced: [], lines: 0, rows: 0, rejected: 0, rejectsNotKept: 0, skipped: 0, skippedWhy: {}, byTable: {},
      files: [], rejectsFile: null, firstRejects: [], strictFailed: false, compactable: [], unreadable: [], recovered: finished, seconds: 0,
    };

    const planner = new Planner(known, opts.force, summary);
    const todo = await planner.plan(sources);
    // Only the S3 objects that are to be read are fetched, a few ahead of the reader.
    const remote = todo.filter((src) => src.s3);
    const fetcher = remote.length ? (await import('./s3.js')).s3ReadAhead(remote, await s3(), opts.s3?.concurrency, opts.s3?.prefetchMax) : undefined;
    // Small local files are read whole a few ahead of the parser.
    const local = todo.filter((src) => !src.s3);
    const readAhead = local.length ? localReadAhead(local) : undefined;

    const rejectsRel = join(REJECTS, `${run}.ndjson`);
    const rejectsOut = new RejectsFile(join(work, 'rejects.ndjson'));
    const entries: SourceEntry[] = [];
    const instance = await DuckDBInstance.create(':memory:', {
      threads: '2',
      preserve_insertion_order: 'false',
      temp_directory: join(work, 'duckdb.tmp'),
    });
    const tables = new Map<Format, TableRun>();
    let workers: ParseWorkers | null | undefined;
    let committing = false;
    try {
      // One connection per staged table: a table's COPYs run queued in the background while the other's
      // rows are read and appended, and a DuckDB connection runs one statement at a time.
      const conns: DuckDBConnection[] = [];
      try {
        // `source_file` is an index into the run's sources; a table is staged once a source of it turns up.
        const names = todo.map((s) => s.name);
        const bytesTotal = todo.reduce((n, s) => n + s.size, 0);
        const stageOf = async (format: Format): Promise<TableRun> => {
          let t = tables.get(format);
          if (!t) {
            const table = format === 'access-log' ? ACCESS_LOG : CLOUDTRAIL;
            const conn = await instance.connect();
            conns.push(conn);
            const dashIsNull = format === 'access-log' ? DASH_IS_NULL : [];
            const stage = await Stage.create(conn, table, join(work, 'tsv'), join(work, table.name), run, names, { dashIsNull });
            // One pool of workers for the run, started by the first table that reads on them.
            const onWorkers = format === 'cloudtrail' || accessLogOnWorkers(opts.parseWorkers, availableParallelism());
            if (onWorkers && workers === undefined) {
              workers = ParseWorkers.start(opts.parseWorkers ?? (bytesTotal >= PARALLEL_BYTES ? Math.min(MAX_PARSE_WORKERS, availableParallelism()) : 0));
            }
            t = { table, stage, workers: onWorkers ? (workers ?? null) : null };
            tables.set(format, t);
          }
          return t;
        };
        const readers = { 'access-log': readAccessLog, cloudtrail: readCloudTrailSource } as const;
        let bytesDone = 0;
        const addBytes = (n: number): number => (bytesDone += n);
        for (const [idx, src] of todo.entries()) {
          if (src.fingerprint === '' && !(await planner.fingerprinted(src, readAhead))) {
            readAhead?.done(src);
            continue;
          }
          const format = await formatOf(src, opts);
          const ctx = new SourceRun(src, idx, await stageOf(format), rejectsOut, summary, opts, run, addBytes, bytesTotal);
          await readers[format](ctx);
          fetcher?.done(src);
          readAhead?.done(src);
          entries.push(ctx.done());
          summary.sources++;
        }
        for (const t of [tables.get('access-log'), tables.get('cloudtrail')]) {
          if (!t) continue;
          const files = await t.stage.finish();
          const moved = files.map((f) => join(t.table.name, f));
          summary.files.push(...moved);
          for (const e of entries) if (e.table === t.table.name && e.rows > 0) e.files = moved;
        }
      } catch (err) {
        for (const t of tables.values()) await t.stage.abort().catch(() => {});
        throw err;
      } finally {
        const failure = workers?.failure;
        if (failure) opts.onWarning?.(`a parse worker failed; its batches were read in the main thread instead (${failure.message.split('\n')[0]})`);
        await workers?.close();
        for (const c of conns) c.closeSync();
      }
      await rejectsOut.close();
      if (summary.rejected > 0) {
        summary.rejectsFile = rejectsRel;
        for (const e of entries) if (e.rejected > 0) e.rejects = rejectsRel;
      }
      // Known sources whose stat is recorded now (plan.ts, restat): the stat they were fingerprinted under proves their content.
      const restat: SourceEntry[] = [];
      for (const src of planner.restat) {
        const e = await known.entry(src.key);
        if (e && e.fingerprint === src.fingerprint && e.stat !== src.stat) restat.push({ ...e, stat: src.stat as string });
      }
      if ((opts.strict && summary.rejected > 0) || entries.length + restat.length === 0) {
        // Nothing to commit: drop what was staged. A run that read nothing still leaves a dataset (an empty one);
        // one --strict refused commits nothing at all.
        summary.strictFailed = opts.strict && summary.rejected > 0;
        await rm(work, { recursive: true, force: true });
        if (!summary.strictFailed) await ensureManifest(dir);
        summary.seconds = (performance.now() - started) / 1000;
        return summary;
      }

      const journal: Journal = { run, moves: [], deletes: [] };
      const prefix = join(STAGING, run);
      for (const f of summary.files) journal.moves.push([join(prefix, f), f]);
      if (summary.rejectsFile) journal.moves.push([join(prefix, 'rejects.ndjson'), summary.rejectsFile]);
      const replacedKeys = entries.map((e) => e.key).filter((k) => known.has(k));
      // The manifest's new segment: the run's entries, and the staying sources' entries a replacement changes.
      const changed = new Map<string, SourceEntry>(restat.map((e) => [e.key, e]));
      if (replacedKeys.length) {
        const before = await loadReplacing(dir, known, replacedKeys);
        summary.replaced = replacedKeys.map((k) => (before.sources[k] as SourceEntry).name);
        await planReplacements(instance, dir, work, prefix, before, replacedKeys, journal, changed);
      }
      for (const e of entries) changed.set(e.key, e);
      const head = await stageManifest(dir, work, prefix, run, known, [...changed.values()], journal.moves, journal.deletes);
      const settled = await settleFiles(dir, known.head, journal, head);
      journal.manifest = settled;
      committing = true;
      await commit(dir, journal);
      // A hint only: the run is committed whatever it finds.
      summary.compactable = await compactable(dir, settled.files ?? [], new Set(summary.files.map((f) => dirname(f)))).catch(() => []);
    } catch (err) {
      rejectsOut.destroy();
      // Before the commit nothing is visible; what was staged goes now (it may be what filled the disk).
      if (!committing) await rm(work, { recursive: true, force: true }).catch(() => {});
      throw err;
    } finally {
      instance.closeSync();
    }
    summary.seconds = (performance.now() - started) / 1000;
    return summary;
  } finally {
    client?.destroy();
    await unlock();
  }
}

async function formatOf(src: Source, opts: IngestOptions): Promise<Format> {
  let format: Format;
  if (opts.format !== 'auto') format = opts.format;
  else {
    const peek = await peekContent(src);
    const detected = detectFormat(peek.head);
    // Nothing could be read: the read proper reports why; no guess about the format is worth a warning.
    if (detected === 'unknown' && peek.failed && peek.head.length === 0) format = 'access-log';
    else if (detected === 'unknown') {
      opts.onWarning?.(`${src.name}: neither an access log nor CloudTrail by its first record; reading it as an access log (unparsable lines are rejected)`);
      format = 'access-log';
    } else format = detected;
  }
  return format;
}

/** One source being read: its manifest entry, counts, rejects and progress. */
class SourceRun {
  readonly entry: SourceEntry;
  bytesRead = 0;
  /** Lines (access logs) or records (CloudTrail) read; set by the reader. */
  read = 0;
  /** Rejects past the cap, counted only, and the line of the first of them. */
  private notKept = 0;
  private firstNotKept = 0;

  constructor(
    readonly src: Source,
    /** The source's index among the run's (its `source_file` in the staged rows). */
    readonly idx: number,
    readonly t: TableRun,
    private readonly rejectsOut: RejectsFile,
    private readonly summary: IngestSummary,
    private readonly opts: IngestOptions,
    run: string,
    private readonly addBytes: (n: number) => number,
    private readonly bytesTotal: number,
  ) {
    this.entry = {
      key: src.key, name: src.name, fingerprint: src.fingerprint, table: t.table.name, run,
      ingested_at: new Date().toISOString(), lines: 0, rows: 0, rejected: 0, skipped: 0, files: [], rejects: null,
    };
    if (src.stat) this.entry.stat = src.stat;
  }

  skip(reason: string): void {
    this.entry.skipped++;
    this.summary.skippedWhy[reason] = (this.summary.skippedWhy[reason] ?? 0) + 1;
  }

  /**
   * A rejected line or record: counted always, written while the source is
   * within its cap (`always`: whatever the cap, for the reject that says why
   * reading stopped).
   */
  reject(line: number, reason: string, raw: string, always = false): void {
    this.entry.rejected++;
    this.summary.rejected++;
    const keep = always || this.entry.rejected <= (this.opts.maxRejects ?? MAX_REJECTS);
    const first = this.summary.firstRejects.length < FIRST_REJECTS;
    if (!keep && this.notKept++ === 0) this.firstNotKept = line;
    if (!keep && !first) return;
    const r: RejectRecord = { source_file: this.src.name, line, reason, raw: keepRaw(raw) };
    if (first) this.summary.firstRejects.push(r);
    if (keep) this.rejectsOut.write(r);
  }

  /** Rows a parse worker staged, written into the stage's date files as one thread would have written them. */
  staged(r: BatchResult): void {
    const stage = this.t.stage;
    for (const g of r.staged) stage.writeRows(g.day, g.part, g.rows, g.last);
    stage.endBatch(r.rows);
    this.entry.rows += r.rows;
  }

  /** The content, decompressed, counting raw bytes for progress. */
  open(): Promise<AsyncIterable<Buffer>> {
    return openContent(this.src, (n) => {
      this.bytesRead += n;
      this.addBytes(n);
    });
  }

  /** Between chunks: let the stage catch up, drain the rejects file, report progress. */
  async pause(): Promise<void> {
    await this.t.stage.tick();
    await this.rejectsOut.drain();
    const e = this.entry;
    this.opts.onProgress?.({
      source: this.src.name, bytesRead: this.addBytes(0), bytesTotal: this.bytesTotal,
      lines: this.summary.lines + e.rows + e.rejected + e.skipped, rows: this.summary.rows + e.rows, rejected: this.summary.rejected,
    });
  }

  /**
   * A stream that broke keeps what came before it, as one reject. Broken
   * content (a corrupt or truncated gzip) is final. A failure to read (the
   * file gone or unreadable, a download that failed) may not be: the source
   * is recorded as incomplete, so the next run reads it again. A failure to
   * write (the run's own files) is no source's fault: it stops the run.
   */
  broke(err: unknown, unit: string): void {
    if (err instanceof WriteError) throw err;
    const n = this.entry.rows + this.entry.rejected + this.entry.skipped;
    this.read = n + 1;
    const code = String((err as NodeJS.ErrnoException).code ?? '');
    // A checksum that fails at the end means damage somewhere before it, not only a cut.
    const damaged = code === 'Z_DATA_ERROR' && /check/.test(describe(err)) ? `; ${unit}s read before it may be damaged (the ones that did not parse are rejected)` : '';
    this.closeRejects();
    this.reject(this.read, `${this.src.name}: reading stopped at byte ${this.bytesRead}: ${describe(err)}${damaged}`, '', true);
    if (code.startsWith('Z_')) {
      this.opts.onWarning?.(`${this.src.name}: reading stopped after ${unit} ${n}: ${describe(err)}`);
      return;
    }
    this.entry.fingerprint = `${INCOMPLETE}${this.entry.fingerprint}`;
    delete this.entry.stat;
    this.summary.unreadable.push({ name: this.src.name, reason: `could not be read past ${unit} ${n}: ${describe(err)}` });
  }

  /** Say in the rejects file itself how many of the source's rejects were not kept, once they are all counted. */
  private closeRejects(): void {
    if (this.notKept === 0) return;
    const max = this.opts.maxRejects ?? MAX_REJECTS;
    const reason = `${this.notKept.toLocaleString('en-US')} more rejects of this source, from this line on, not kept: the first ${max} of each source are (--max-rejects)`;
    this.rejectsOut.write({ source_file: this.src.name, line: this.firstNotKept, reason, raw: '' });
    this.summary.rejectsNotKept += this.notKept;
    this.notKept = 0;
  }

  done(): SourceEntry {
    const e = this.entry;
    this.closeRejects();
    e.lines = this.read;
    this.summary.lines += this.read;
    this.summary.rows += e.rows;
    this.summary.skipped += e.skipped;
    this.summary.byTable[this.t.table.name] = (this.summary.byTable[this.t.table.name] ?? 0) + e.rows;
    return e;
  }
}

/**
 * A source of at least this many bytes (as stored) is read on the parse
 * workers, if the run has them; a smaller one in the reader's thread, as
 * its batches would each wait on a round trip.
 */
const ACCESS_LOG_PARALLEL_BYTES = 1 << 20;

/** Read one access-log source into the staging files and the rejects file. */
async function readAccessLog(ctx: SourceRun): Promise<void> {
  const { entry, idx } = ctx;
  const stage = ctx.t.stage;
  const told = {
    reject: (line: number, reason: string, raw: string): void => ctx.reject(line, reason, raw),
    skip: (_line: number, reason: string): void => ctx.skip(reason),
  };
  const here = new AccessLogLines(idx, { ...told, writerFor: (timeMs, rowBytes) => stage.writerFor(timeMs, rowBytes), row: () => void entry.rows++ });
  const workers = ctx.t.workers;
  const batches =
    workers?.alive && ctx.src.size >= ACCESS_LOG_PARALLEL_BYTES
      ? new Batches(workers, 'access-log', idx, { ...told, staged: (r) => ctx.staged(r), readHere: (b, offsets) => here.lines(b, offsets) }, () => ctx.pause())
      : null;
  const onTooLong = (lineNo: number, bytes: number, head: Buffer): void => {
    const reason = `a line of ${bytes} bytes, longer than any record (${MAX_LINE_BYTES >> 20} MiB); passed over, its first ${head.length} bytes kept`;
    if (batches) batches.local({ staged: [], rows: 0, rejects: [[lineNo, reason, text(head, 0, head.length)]], skips: [] });
    else ctx.reject(lineNo, reason, text(head, 0, head.length));
  };
  try {
    if (batches) {
      try {
        // Blank lines are told here, as the CloudTrail splitter tells them: a run of them is counted in this thread,
        // not sent to the workers (20M blank lines took 3 s on two workers against 0.5 s in one thread).
        const onLine = (b: Buffer, s: number, e: number, lineNo: number): void => (isBlank(b, s, e) ? batches.blank(lineNo) : batches.value(b, s, e, lineNo));
        ctx.read = await readLines(await ctx.open(), onLine, async () => {
          batches.chunkEnd();
          await batches.take();
        }, { onTooLong });
      } finally {
        // What was read before a failure counts, as it does in one thread.
        await batches.take(0);
      }
    } else ctx.read = await readLines(await ctx.open(), (b, s, e, lineNo) => here.line(b, s, e, lineNo), () => ctx.pause(), { onTooLong });
  } catch (err) {
    ctx.broke(err, 'line');
  }
}

/** Read one CloudTrail source (any shape) into the staging files and the rejects file. */
async function readCloudTrailSource(ctx: SourceRun): Promise<void> {
  const { entry, idx } = ctx;
  const stage = ctx.t.stage;
  const sink: CloudTrailSink = {
    row: (row, where, spans) => {
      const bound = spans ? spanRowBound(spans.end - spans.start) : cloudTrailRowBound(row);
      stageCloudTrailRow(stage.writerFor(row.event_time?.getTime() ?? NaN, bound, row.management_event === false ? 0 : 1), row, idx, where, spans);
      entry.rows++;
    },
    reject: (where, reason, raw) => ctx.reject(where, reason, raw),
    skip: (_where, reason) => ctx.skip(reason),
  };
  const workers = ctx.t.workers;
  const parallel: ParallelRead | undefined = workers ? { workers, fileIdx: idx, staged: (r) => ctx.staged(r) } : undefined;
  try {
    await readCloudTrail(await ctx.open(), sink, () => ctx.pause(), parallel);
    ctx.read = entry.rows + entry.rejected + entry.skipped;
  } catch (err) {
    ctx.broke(err, 'record');
  }
}
