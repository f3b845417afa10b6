import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ProgressBar } from '../../cli/progress.js';

function tty(columns: number | undefined): PassThrough & { isTTY: boolean; columns?: number; text: () => string } {
  const s = new PassThrough() as PassThrough & { isTTY: boolean; columns?: number; text: () => string };
  s.isTTY = true;
  s.columns = columns;
  let out = '';
  s.on('data', (c: Buffer) => (out += c.toString()));
  s.text = () => out;
  return s;
}

const p = { source: 'a.log', bytesRead: 50, bytesTotal: 100, lines: 10, rows: 9, rejected: 1 };

describe('ProgressBar', () => {
  it('draws bytes, rate and rejects on a terminal, and erases itself', () => {
    const out = tty(100);
    const bar = new ProgressBar(out);
    bar.update(p);
    bar.done();
    expect(out.text()).toMatch(/\[=+>? *\]  50% 50 B\/100 B .* 1 rejected  a\.log/);
    expect(out.text().endsWith('\r')).toBe(true);
  });

  it('draws on a terminal that reports no width', () => {
    const out = tty(0);
    const bar = new ProgressBar(out);
    expect(() => {
      bar.update(p);
      bar.done();
    }).not.toThrow();
  });

  it('stays silent when stderr is not a terminal', () => {
    const out = tty(100);
    out.isTTY = false;
    const bar = new ProgressBar(out);
    bar.update(p);
    bar.done();
    expect(out.text()).toBe('');
  });
});
