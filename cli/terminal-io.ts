/**
 * The one choke point between the CLI and a terminal. Log content is
 * hostile (object keys, user agents, file names, rule files), so the human
 * text a command writes passes through here, and every character a terminal
 * acts on comes out escaped; machine formats take `raw.stdout` and stay
 * byte for byte.
 */
import { terminalLines, terminalSafe } from '../common/terminal.js';
import type { Io, Out, Streams, TextOut } from './command.js';

/** `out` for human text. */
export function textOut(out: Out): TextOut {
  return {
    write: (text) => void out.write(terminalLines(text)),
    line: (text) => void out.write(terminalSafe(text) + '\n'),
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
