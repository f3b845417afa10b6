/**
 * The one choke point between the CLI and a terminal. Log content is
 * hostile (object keys, user agents, file names, rule files), so the human
 * text a command writes passes through here, and every character a terminal
 * acts on comes out escaped; machine formats take `raw.stdout` and stay
 * byte for byte.
 */
import { StringDecoder } from 'node:string_decoder';
import { terminalLines, terminalSafe } from '../common/terminal.js';
import type { Io, Out, Streams, TextOut } from './command.js';

/** `out` for human text. */
export function textOut(out: Out): TextOut {
  return {
    write: (text) => void out.write(terminalLines(text)),
    line: (text) => void out.write(terminalSafe(text) + '\n'),
  };
}

/**
 * `out` with what a terminal would act on escaped, for a result in a machine format (CSV, JSON) shown on a
 * terminal: byte for byte it would let log content command the terminal. Newlines and tabs stay (they move
 * the cursor, nothing more); bytes are decoded across chunks, which may end inside a character.
 */
export function escapingOut(out: Out): Out & { once?(event: 'drain', listener: () => void): unknown } {
  const decoder = new StringDecoder('utf8');
  const safe = (text: string): string => text.split('\t').map(terminalLines).join('\t');
  const drains = out as Out & { once?(event: 'drain', listener: () => void): unknown };
  return {
    write: (chunk) => out.write(safe(typeof chunk === 'string' ? decoder.end() + chunk : decoder.write(Buffer.from(chunk)))),
    isTTY: out.isTTY,
    ...(drains.once ? { once: (event: 'drain', listener: () => void) => drains.once?.(event, listener) } : {}),
  };
}

/** The Io a command runs with, from the process's streams. */
export function terminalIo(s: Streams): Io {
  return { stdout: textOut(s.stdout), stderr: textOut(s.stderr), stdin: s.stdin, env: s.env, raw: { stdout: s.stdout, stderr: s.stderr } };
}

/** Where a command's output in `format` goes: the report (`table`) is human text, the other formats are written as they are. */
export function stdoutFor(io: Io, format: string): TextOut | Out {
  return format === 'table' ? io.stdout : io.raw.stdout;
}
