import { describe, expect, it } from 'vitest';
import { terminalLines, terminalSafe } from '../../common/terminal.js';

describe('terminalSafe', () => {
  it('escapes C0, DEL, C1, line and paragraph separators and the bidi marks, overrides and isolates as \\uXXXX', () => {
    const unsafe = ['\x00', '\x07', '\t', '\n', '\r', '\x1b', '\x7f', '\x80', '\x9b', '\x9f', '\u061c', '\u200e', '\u200f', '\u2028', '\u2029', '\u202a', '\u202e', '\u2066', '\u2069'];
    for (const c of unsafe) expect(terminalSafe(`a${c}b`)).toBe(`a\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}b`);
  });

  it('leaves other text alone, non-ASCII included', () => {
    expect(terminalSafe('prod-data/rapport été ✓ \\u001b')).toBe('prod-data/rapport été ✓ \\u001b');
  });
});

describe('terminalLines', () => {
  it('keeps the newlines between lines and escapes the rest', () => {
    expect(terminalLines('one\x1b[2J\ntwo\r\n')).toBe('one\\u001b[2J\ntwo\\u000d\n');
  });
});
