/**
 * `s3sift athena verify`: the check to run once per AWS account that Athena
 * gives the findings DuckDB gives. The bundled samples are ingested into a
 * temporary dataset and the library runs there; the dataset goes up to a
 * scratch prefix, a scratch database gets the tables `athena ddl` prints,
 * the library runs on Athena, and the two engines' findings are compared
 * finding by finding (compare.ts). Then everything it made is removed, after
 * a failure or an interrupt too, and only what it made: which is why it
 * refuses a database that exists and a scratch prefix that holds anything.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AthenaClient } from '@aws-sdk/client-athena';
import { DeleteObjectsCommand, type S3Client } from '@aws-sdk/client-s3';
import { describe, InputError, QueryError, S3siftError } from '../../common/errors.js';
import { PACKAGE_ROOT } from '../../common/package-root.js';
import { sqlIdentifier } from '../../common/sql.js';
import { newRunId } from '../../ingest/dataset.js';
import { ingest } from '../../ingest/ingest.js';
import { publish } from '../../ingest/publish.js';
import { listObjects, parseS3Uri, s3Error } from '../../ingest/s3.js';
import { openDataset } from '../dataset.js';
import { runDetections } from '../detect.js';
import type { Detection } from '../detection.js';
import { nativeFunctionIn } from '../dialect.js';
import type { Finding } from '../finding.js';
import { compareDetection, terminalSafe, type DetectionComparison } from './compare.js';
import { athenaDdl, datasetDays, s3Folder } from './ddl.js';
import { runAthenaQuery, runDetectionsOnAthena, type AthenaOptions } from './run.js';

export type VerifyStep = 'ingest' | 'duckdb' | 'database' | 'publish' | 'tables' | 'athena' | 'cleanup';

export interface VerifyOptions extends Pick<AthenaOptions, 'workgroup' | 'outputLocation' | 'pollMs' | 'maxPollMs'> {
  /** The scratch database: created here, so one that exists is refused. */
  database: string;
  /** s3://bucket/prefix: the scratch prefix `s3sift-verify-<run>/` goes under it. */
  location: string;
  /** The library; those that run on DuckDB only are skipped on both sides. */
  detections: readonly Detection[];
  /** Leave the scratch database, prefix and local dataset for inspection. */
  keep?: boolean;
  /** Aborted (Ctrl-C): stop at the next step or Athena call, then clean up. */
  signal?: AbortSignal;
}

/** Something the run made and left: what, why (when removing it failed), and how to remove it. */
export interface Leftover {
  what: string;
  how: string;
  error?: string;
}

export interface VerifyResult {
  runId: string;
  database: string;
  /** s3://.../s3sift-verify-<run>/ */
  scratch: string;
  /** The local dataset of the samples. */
  dataset: string;
  /** One per detection of the library, in its order. */
  comparisons: DetectionComparison[];
  /** The step that stopped the run, and why. */
  failure?: { step: VerifyStep; error: string };
  interrupted: boolean;
  /** What cleanup removed; what it could not (`left`); what --keep kept. */
  removed: string[];
  left: Leftover[];
  kept: Leftover[];
  bytesScanned: number;
  costUsd: number;
}

/** agree: every compared detection agrees; disagree: one does not; incomplete: a step, a detection or the cleanup failed, or the run was interrupted. */
export function verifyOutcome(r: VerifyResult): 'agree' | 'disagree' | 'incomplete' {
  if (r.comparisons.some((c) => c.verdict === 'disagree')) return 'disagree';
  if (r.failure || r.interrupted || r.left.length || r.comparisons.some((c) => c.verdict === 'failed')) return 'incomplete';
  return 'agree';
}

class Interrupted extends Error {
  constructor() {
    super('interrupted');
  }
}

/** Athena's price per TB scanned (USD), as run.ts assumes. */
const PRICE_PER_TB = 5;
const SKIPPED = "runs on DuckDB only (s3sift's policy evaluator), skipped on both";
/** CREATE DATABASE and DROP DATABASE run from this database: the scratch one does not exist yet, or is going. */
const HOME_DATABASE = 'default';
const hiveIdentifier = (s: string): string => '`' + s.replaceAll('`', '``') + '`';

/**
 * The statement that undoes a CREATE TABLE or CREATE VIEW of the DDL; null
 * for an ALTER TABLE ... SET TBLPROPERTIES of one of the check's own tables
 * (its DROP undoes it); anything else is refused before any is run.
 */
function undoOf(sql: string, database: string, made: ReadonlySet<string>): { what: string; sql: string } | null {
  const alter = /^ALTER\s+TABLE\s+`([a-z0-9_]+)`\.`([a-z0-9_]+)`\s+SET\s+TBLPROPERTIES\b/i.exec(sql);
  if (alter && alter[1] === database && made.has(alter[2] as string)) return null;
  const m = /^CREATE\s+(?:OR\s+REPLACE\s+)?(?:EXTERNAL\s+)?(TABLE|VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?[`"]?([a-z0-9_]+)[`"]?\.[`"]?([a-z0-9_]+)[`"]?/i.exec(sql);
  if (!m || m[2] !== database) throw new Error(`athena verify cannot undo this DDL statement, so it runs none: ${sql.split('\n')[0]}`);
  const [kind, name] = [(m[1] as string).toUpperCase(), m[3] as string];
  // Views are Trino's (double quotes), tables Hive's (backquotes).
  return kind === 'VIEW'
    ? { what: `view ${database}.${name}`, sql: `DROP VIEW IF EXISTS ${sqlIdentifier(database)}.${sqlIdentifier(name)}` }
    : { what: `table ${database}.${name}`, sql: `DROP TABLE IF EXISTS ${hiveIdentifier(database)}.${hiveIdentifier(name)}` };
}

/** Delete every object under the prefix, then list it again: what S3 says is left is what counts. */
async function deletePrefix(s3: S3Client, bucket: string, prefix: string): Promise<number> {
  const keys: string[] = [];
  for await (const o of listObjects(s3, bucket, prefix)) if (o.Key) keys.push(o.Key);
  for (let i = 0; i < keys.length; i += 1000) {
    const r = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true } }));
    const e = r.Errors?.[0];
    if (e) throw new Error(`${r.Errors?.length} object(s) not deleted, the first ${e.Key}: ${e.Code ?? ''} ${e.Message ?? ''}`.trim());
  }
  for await (const o of listObjects(s3, bucket, prefix, 1)) throw new Error(`s3://${bucket}/${o.Key} is still there after the delete`);
  return keys.length;
}

/** Findings by detection. */
function byDetection(findings: readonly Finding[]): Map<string, Finding[]> {
  const out = new Map<string, Finding[]>();
  for (const f of findings) {
    const list = out.get(f.detection_id);
    if (list) list.push(f);
    else out.set(f.detection_id, [f]);
  }
  return out;
}

/** Run the check with the clients given; progress goes to `onStep`, one line at a time. Failures are in the result, not thrown. */
export async function verifyOnAthena(athena: AthenaClient, s3: S3Client, o: VerifyOptions, onStep: (step: VerifyStep, message: string) => void = () => {}): Promise<VerifyResult> {
  const runId = newRunId();
  const scratch = `${s3Folder(o.location)}s3sift-verify-${runId}/`;
  const { bucket, prefix } = parseS3Uri(scratch);
  const dataset = await mkdtemp(join(tmpdir(), 's3sift-verify-'));
  const at: AthenaOptions = { database: o.database, workgroup: o.workgroup, outputLocation: o.outputLocation, pollMs: o.pollMs, maxPollMs: o.maxPollMs };
  const r: VerifyResult = { runId, database: o.database, scratch, dataset, comparisons: [], interrupted: false, removed: [], left: [], kept: [], bytesScanned: 0, costUsd: 0 };
  const query = async (sql: string, database = o.database): Promise<void> => {
    r.bytesScanned += (await runAthenaQuery(athena, sql, [], { ...at, database })).bytesScanned;
  };
  // What to undo on Athena, in the order made; whether anything may be under the scratch prefix.
  const undo: Array<{ what: string; sql: string; database?: string }> = [];
  let uploading = false;
  // Not interrupted: cleaning up, or creating the database (stopped halfway, it could exist without being known as ours).
  let shielded = false;
  const check = (): void => {
    if (o.signal?.aborted && !shielded) throw new Interrupted();
  };
  // Every Athena call checks for an interrupt, so Ctrl-C in the middle of the library stops it at once.
  const MIDDLEWARE = 's3siftVerifyInterrupt';
  athena.middlewareStack.add((next) => (args) => {
    check();
    return next(args);
  }, { step: 'initialize', name: MIDDLEWARE });
  const duckdbOnly = o.detections.filter((d) => nativeFunctionIn(d.sql));
  const both = o.detections.filter((d) => !duckdbOnly.includes(d));
  let step: VerifyStep = 'ingest';
  try {
    const samples = join(PACKAGE_ROOT, 'samples');
    if (!existsSync(samples)) throw new InputError(`${samples}: no samples there (s3sift ships them in samples/; reinstall it)`);
    const s = await ingest([samples], { data: dataset, format: 'auto', force: false, strict: false });
    onStep(step, `${s.sources} sample file(s), ${s.rows} row(s), into ${dataset}`);
    check();

    step = 'duckdb';
    const ds = await openDataset(dataset);
    let local: Finding[];
    try {
      local = (await runDetections(ds, both)).findings;
    } finally {
      ds.close();
    }
    onStep(step, `${both.length} detection(s): ${local.length} finding(s)`);
    check();

    step = 'database';
    const [createDatabase = '', ...statements] = athenaDdl({ database: o.database, location: scratch, firstDay: (await datasetDays(dataset)).first }).map((s) => s.replace(/;\s*$/, ''));
    // Without IF NOT EXISTS, Athena refuses a database that exists: the check never uses, or drops, one it did not make.
    if (!/^CREATE DATABASE IF NOT EXISTS /i.test(createDatabase)) throw new Error(`the DDL no longer starts with CREATE DATABASE IF NOT EXISTS: ${createDatabase.split('\n')[0]}`);
    const made = new Set<string>();
    const tables = statements.map((sql) => {
      const undo = undoOf(sql, o.database, made);
      if (undo) made.add(undo.what.replace(/^\S+ [^.]+\./, ''));
      return { sql, undo };
    });
    shielded = true;
    try {
      await query(createDatabase.replace(/^CREATE DATABASE IF NOT EXISTS /i, 'CREATE DATABASE '), HOME_DATABASE);
    } catch (err) {
      const why = describe(err);
      throw new QueryError(/already exists/i.test(why)
        ? `database ${o.database} already exists: athena verify makes a database of its own and drops it at the end, so it never uses one that exists; give --database a name not in use. Nothing was created or dropped on AWS.`
        : `Athena did not create database ${o.database}: ${why}. Nothing was created or dropped on AWS.`);
    } finally {
      shielded = false;
    }
    undo.push({ what: `database ${o.database}`, sql: `DROP DATABASE ${hiveIdentifier(o.database)}`, database: HOME_DATABASE });
    onStep(step, `created ${o.database}`);
    check();

    step = 'publish';
    try {
      for await (const obj of listObjects(s3, bucket, prefix, 1)) throw new InputError(`${scratch} already holds ${obj.Key}: athena verify deletes everything under its scratch prefix, so it uses only an empty one`);
      uploading = true;
      const p = await publish(dataset, scratch, s3, () => check());
      onStep(step, `${p.uploaded.length} file(s), ${(p.bytes / 1e6).toFixed(2)} MB, to ${scratch}`);
    } catch (err) {
      throw err instanceof S3siftError || err instanceof Interrupted ? err : s3Error(scratch, err);
    }

    step = 'tables';
    for (const t of tables) {
      // Undone with IF EXISTS, so listed before it runs: a statement that fails halfway is undone too.
      if (t.undo) undo.push(t.undo);
      await query(t.sql);
      if (t.undo) onStep(step, `created ${t.undo.what}`);
    }

    step = 'athena';
    for (const d of duckdbOnly) onStep(step, `skip   ${d.id}: ${SKIPPED}`);
    const remote = await runDetectionsOnAthena(athena, both, at, {}, (run) => {
      if (run.error && o.signal?.aborted) return; // each detection left fails at once: one line says why
      onStep(step, `${run.error ? 'FAILED' : 'ok    '} ${run.id}: ${run.error ? terminalSafe(run.error) : `${run.findings} finding(s)`}`);
    });
    r.bytesScanned += remote.bytesScanned;
    check();

    const [mine, theirs] = [byDetection(local), byDetection(remote.findings)];
    const failed = new Map(remote.failures.map((f) => [f.id, f.error]));
    r.comparisons = o.detections.map((d): DetectionComparison => {
      const duckdb = mine.get(d.id) ?? [];
      if (duckdbOnly.includes(d)) return { id: d.id, verdict: 'skipped', duckdb: 0, athena: 0, onlyDuckdb: [], onlyAthena: [], reason: SKIPPED };
      const error = failed.get(d.id);
      if (error !== undefined) return { id: d.id, verdict: 'failed', duckdb: duckdb.length, athena: 0, onlyDuckdb: [], onlyAthena: [], reason: error };
      return compareDetection(d.id, duckdb, theirs.get(d.id) ?? []);
    });
  } catch (err) {
    r.interrupted = err instanceof Interrupted || o.signal?.aborted === true;
    r.failure = { step, error: r.interrupted ? 'interrupted' : describe(err) };
  } finally {
    shielded = true;
    try {
      await cleanUp();
    } finally {
      athena.middlewareStack.remove(MIDDLEWARE);
    }
  }
  r.costUsd = (r.bytesScanned / 1e12) * PRICE_PER_TB;
  return r;

  async function cleanUp(): Promise<void> {
    const drops = [...undo].reverse();
    const objects = { what: scratch, how: `aws s3 rm --recursive ${scratch}` };
    if (o.keep) {
      const inside = drops.filter((u) => u.database === undefined).map((u) => u.what);
      if (drops.length) r.kept.push({ what: `database ${o.database}${inside.length ? ` with ${inside.join(', ')}` : ''}`, how: drops.map((u) => `${u.sql};`).join(' ') });
      if (uploading) r.kept.push(objects);
      r.kept.push({ what: dataset, how: `rm -r ${dataset}` });
      for (const k of r.kept) onStep('cleanup', `kept ${k.what}; to remove it: ${k.how}`);
      return;
    }
    for (const u of drops) {
      try {
        await query(u.sql, u.database);
        r.removed.push(u.what);
        onStep('cleanup', `dropped ${u.what}`);
      } catch (err) {
        r.left.push({ what: u.what, how: `${u.sql};`, error: describe(err) });
        onStep('cleanup', `could not drop ${u.what}: ${terminalSafe(describe(err))}`);
      }
    }
    if (uploading) {
      try {
        const n = await deletePrefix(s3, bucket, prefix);
        r.removed.push(`${scratch} (${n} object(s))`);
        onStep('cleanup', `deleted ${n} object(s) under ${scratch}`);
      } catch (err) {
        const error = describe(s3Error(scratch, err));
        r.left.push({ ...objects, error });
        onStep('cleanup', `could not empty ${scratch}: ${terminalSafe(error)}`);
      }
    }
    await rm(dataset, { recursive: true, force: true });
  }
}
