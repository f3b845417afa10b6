/**
 * Temporary folders that go away however the process ends: removed when
 * done, and otherwise at exit (`process.exit`, as bin/s3sift does when its
 * reader has gone: `| head`) or on SIGINT and SIGTERM when nothing else
 * handles them (the signal is raised again after, so the process still ends
 * as the signal says). `s3sift query --format arrow` holds a copy of the
 * result in one: left behind, it would be a copy of log data in $TMPDIR.
 */
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const live = new Set<string>();
const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

function removeAll(): void {
  for (const dir of live) rmSync(dir, { recursive: true, force: true });
  live.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  removeAll();
  for (const s of SIGNALS) process.removeListener(s, onSignal);
  process.kill(process.pid, signal);
}

/** A new folder under $TMPDIR (mode 0700), and how to remove it. */
export async function scratchDir(prefix: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  if (live.size === 0) {
    process.on('exit', removeAll);
    // Only where nothing else decides what a signal does (the query shell, watch and serve have their own handling).
    for (const s of SIGNALS) if (process.listenerCount(s) === 0) process.on(s, onSignal);
  }
  live.add(path);
  return {
    path,
    async remove(): Promise<void> {
      live.delete(path);
      if (live.size === 0) {
        process.removeListener('exit', removeAll);
        for (const s of SIGNALS) process.removeListener(s, onSignal);
      }
      await rm(path, { recursive: true, force: true });
    },
  };
}
