/**
 * File modes of what ingest writes. The dataset holds raw log lines (in
 * `rejects/`), request details and caller identities, so its files are
 * created owner-only: 0600 files, 0700 folders. A stricter umask still
 * applies (the kernel masks the mode given at creation); a looser one does
 * not widen them.
 */
import { chmod, stat } from 'node:fs/promises';

export const FILE_MODE = 0o600;
export const DIR_MODE = 0o700;

/**
 * Narrow a file that another writer created (DuckDB creates its Parquet
 * files 0666 less the umask) to owner-only, keeping any bit the umask took.
 */
export async function ownerOnly(path: string): Promise<void> {
  const mode = (await stat(path)).mode & 0o777;
  if ((mode & ~FILE_MODE) !== 0) await chmod(path, mode & FILE_MODE);
}
