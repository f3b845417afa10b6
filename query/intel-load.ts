/**
 * Reads `--intel FILE` lists (query/intel.ts parses them): every file must
 * read and parse, or the run stops with a usage error naming it.
 */
import { open } from 'node:fs/promises';
import { UsageError } from '../common/errors.js';
import { IntelSet, parseIntelList, type IntelList } from './intel.js';

/** Largest list file read (AWS's ip-ranges.json as CSV is about 1 MiB). */
export const MAX_INTEL_BYTES = 64 * 1024 * 1024;

/**
 * The bytes of `file`, or null when it holds more than `max`: read in chunks
 * up to one byte past the cap, so a huge file, a device or a pipe that never
 * ends costs `max` bytes of memory, not all of it.
 */
async function readCapped(file: string, max: number): Promise<Buffer | null> {
  const fh = await open(file, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.min(1 << 20, max + 1 - total));
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) return Buffer.concat(chunks, total);
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
      if (total > max) return null;
    }
  } finally {
    await fh.close();
  }
}

/** Read and parse `files` into one set. */
export async function loadIntelFiles(files: readonly string[]): Promise<IntelSet> {
  const lists: IntelList[] = [];
  for (const file of files) {
    let buf: Buffer | null;
    try {
      buf = await readCapped(file, MAX_INTEL_BYTES);
    } catch (err) {
      throw new UsageError(`--intel ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    if (buf === null) throw new UsageError(`--intel ${file}: larger than ${MAX_INTEL_BYTES / 1024 / 1024} MiB; is it a list of addresses?`);
    lists.push(parseIntelList(buf.toString('utf8'), file));
  }
  return new IntelSet(lists);
}

/** One line for stderr: how many lists and entries were loaded, of which kind. */
export function intelSummary(set: IntelSet): string {
  const n = (x: number): string => x.toLocaleString('en-US');
  return `threat intel: ${n(set.lists.length)} list${set.lists.length === 1 ? '' : 's'}, ${n(set.count())} ${set.count() === 1 ? 'entry' : 'entries'} (${n(set.count('alarm'))} alarm, ${n(set.count('label'))} label only)`;
}
