/**
 * Replacing a source's earlier rows (it changed, or `--force`). A run's
 * Parquet files hold many sources' rows, so a file that also holds rows of
 * sources staying is rewritten without the replaced ones; a file holding
 * nothing else is deleted. Rejects files are filtered the same way. All of
 * it is staged and joins the run's journal, so it commits with the run; the
 * staying sources' entries that change go into the run's manifest segment.
 */
import { createReadStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { DuckDBInstance } from '@duckdb/node-api';
import type { Journal, Manifest, SourceEntry } from './dataset.js';
import { sqlString } from '../common/sql.js';
import { DIR_MODE, FILE_MODE, ownerOnly } from './modes.js';
import { ROW_GROUP_BYTES, ROW_GROUP_ROWS } from './staging.js';

export async function planReplacements(
  instance: DuckDBInstance,
  dir: string,
  work: string,
  prefix: string,
  before: Manifest,
  replacedKeys: readonly string[],
  journal: Journal,
  /** Receives the staying sources whose entries change (their files or rejects file rewritten), by key. */
  updated: Map<string, SourceEntry>,
): Promise<void> {
  const next = (e: SourceEntry): SourceEntry => {
    let u = updated.get(e.key);
    if (!u) updated.set(e.key, (u = { ...e, files: [...e.files] }));
    return u;
  };
  const replaced = new Set(replacedKeys);
  const staying = Object.values(before.sources).filter((e) => !replaced.has(e.key));
  const dropNames = (sel: (e: SourceEntry) => boolean): string[] =>
    [...replaced].map((k) => before.sources[k] as SourceEntry).filter(sel).map((e) => e.name);

  const affected = new Set<string>();
  const affectedRejects = new Set<string>();
  for (const k of replaced) {
    const e = before.sources[k] as SourceEntry;
    e.files.forEach((f) => affected.add(f));
    if (e.rejects) affectedRejects.add(e.rejects);
  }

  const conn = await instance.connect();
  try {
    let n = 0;
    for (const f of [...affected].sort()) {
      journal.deletes.push(f);
      const keepers = staying.filter((e) => e.files.includes(f));
      if (keepers.length === 0) continue;
      const rel = join(dirname(f), `${journal.run}-r${n++}.parquet`);
      const out = join(work, rel);
      await mkdir(dirname(out), { recursive: true, mode: DIR_MODE });
      const names = dropNames((e) => e.files.includes(f)).map(sqlString).join(', ');
      await conn.run(
        `COPY (SELECT * FROM read_parquet(${sqlString(join(dir, f))}, hive_partitioning = false) WHERE source_file NOT IN (${names}))
         TO ${sqlString(out)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${ROW_GROUP_ROWS}, ROW_GROUP_SIZE_BYTES ${ROW_GROUP_BYTES})`,
      );
      await ownerOnly(out);
      journal.moves.push([join(prefix, rel), rel]);
      for (const e of keepers) {
        const u = next(e);
        u.files = u.files.map((x) => (x === f ? rel : x));
      }
    }
  } finally {
    conn.closeSync();
  }

  let r = 0;
  for (const f of [...affectedRejects].sort()) {
    journal.deletes.push(f);
    const keepers = staying.filter((e) => e.rejects === f);
    if (keepers.length === 0) continue;
    const drop = new Set(dropNames((e) => e.rejects === f));
    const kept: string[] = [];
    const lines = createInterface({ input: createReadStream(join(dir, f)), crlfDelay: Infinity });
    for await (const line of lines) {
      if (!line) continue;
      const rec = JSON.parse(line) as { source_file: string };
      if (!drop.has(rec.source_file)) kept.push(line);
    }
    const rel = join(dirname(f), `${journal.run}-r${r++}.ndjson`);
    await mkdir(dirname(join(work, rel)), { recursive: true, mode: DIR_MODE });
    await writeFile(join(work, rel), kept.join('\n') + '\n', { mode: FILE_MODE });
    journal.moves.push([join(prefix, rel), rel]);
    for (const e of keepers) next(e).rejects = rel;
  }
}
