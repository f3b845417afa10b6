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

  it('escapes a source name that holds terminal escapes: its carriage returns are the only control characters', () => {
    const out = tty(200);
    const bar = new ProgressBar(out);
    bar.update({ ...p, source: 's3://logs/a\x1b]0;owned\x07\n\u202e.log' });
    bar.done();
    expect(out.text()).toContain('s3://logs/a\\u001b]0;owned\\u0007\\u000a\\u202e.log');
    expect(out.text().replaceAll('\r', '')).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e]/);
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
