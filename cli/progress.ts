/**
 * A one-line progress bar on stderr, drawn only when stderr is a terminal
 * and redrawn at most ten times a second. It writes to the raw stream (its
 * carriage returns are meant), so it escapes the source name itself.
 */
import { terminalSafe } from '../common/terminal.js';
import type { IngestProgress } from '../ingest/index.js';
import type { Out } from './command.js';

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

export class ProgressBar {
  private last = 0;
  private readonly started = performance.now();
  private drawn = false;

  constructor(private readonly out: Out) {}

  get enabled(): boolean {
    return this.out.isTTY === true;
  }

  update(p: IngestProgress): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (now - this.last < 100) return;
    this.last = now;
    const secs = Math.max((now - this.started) / 1000, 0.001);
    const frac = p.bytesTotal > 0 ? Math.min(p.bytesRead / p.bytesTotal, 1) : 0;
    const width = 24;
    const fill = Math.round(frac * width);
    const bar = '='.repeat(fill) + (fill < width ? '>' : '') + ' '.repeat(Math.max(0, width - fill - 1));
    const line =
      `[${bar}] ${(frac * 100).toFixed(0).padStart(3)}% ${formatBytes(p.bytesRead)}/${formatBytes(p.bytesTotal)} ` +
      `${formatCount(Math.round(p.lines / secs))} lines/s ${formatCount(p.rejected)} rejected  ${terminalSafe(p.source)}`;
    const cols = this.width();
    this.out.write('\r' + line.slice(0, cols - 1).padEnd(cols - 1));
    this.drawn = true;
  }

  /** Terminal width; some terminals (and `script`) report 0. */
  private width(): number {
    const c = this.out.columns;
    return c !== undefined && c >= 20 ? c : 80;
  }

  /** Erase the bar so the summary starts on a clean line. */
  done(): void {
    if (!this.drawn) return;
    this.out.write('\r' + ' '.repeat(this.width() - 1) + '\r');
    this.drawn = false;
  }
}
