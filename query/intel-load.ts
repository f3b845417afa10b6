/**
 * Reads `--intel FILE` lists (query/intel.ts parses them): every file must
 * read and parse, or the run stops with a usage error naming it.
 */
import { readFile } from 'node:fs/promises';
import { UsageError } from '../common/errors.js';
import { IntelSet, parseIntelList, type IntelList } from './intel.js';

/** Largest list file read (AWS's ip-ranges.json as CSV is about 1 MiB). */
export const MAX_INTEL_BYTES = 64 * 1024 * 1024;

/** Read and parse `files` into one set. */
export async function loadIntelFiles(files: readonly string[]): Promise<IntelSet> {
  const lists: IntelList[] = [];
  for (const file of files) {
    let buf: Buffer;
    try {
      buf = await readFile(file);
    } catch (err) {
      throw new UsageError(`--intel ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    if (buf.length > MAX_INTEL_BYTES) throw new UsageError(`--intel ${file}: larger than ${MAX_INTEL_BYTES / 1024 / 1024} MiB; is it a list of addresses?`);
    lists.push(parseIntelList(buf.toString('utf8'), file));
  }
  return new IntelSet(lists);
}

/** One line for stderr: how many lists and entries were loaded, of which kind. */
export function intelSummary(set: IntelSet): string {
  const n = (x: number): string => x.toLocaleString('en-US');
  return `threat intel: ${n(set.lists.length)} list${set.lists.length === 1 ? '' : 's'}, ${n(set.count())} ${set.count() === 1 ? 'entry' : 'entries'} (${n(set.count('alarm'))} alarm, ${n(set.count('label'))} label only)`;
}
