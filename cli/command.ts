/**
 * A command: its help text, its flags (node:util parseArgs), and the
 * function that turns parsed arguments into a library call. `main.ts` owns
 * the one error boundary.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../common/errors.js';

export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
}

export interface Command {
  name: string;
  summary: string;
  /** Full help: usage line, description, options, examples. */
  help: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** Run with parsed flags and positionals; resolves to the exit code. */
  run(values: Record<string, unknown>, positionals: string[], io: Io): Promise<number>;
}

/** Parse a command's arguments; unknown flags and bad values become UsageError. */
export function parse(cmd: Command, argv: string[]): { values: Record<string, unknown>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: cmd.options, allowPositionals: true, strict: true });
    return { values: values as Record<string, unknown>, positionals };
  } catch (err) {
    // parseArgs says e.g. "Unknown option '--frob'"; keep it, drop its hint about '--'.
    const msg = (err as Error).message.split('. To specify')[0] ?? String(err);
    throw new UsageError(msg);
  }
}

/** A flag that must be one of `choices`. */
export function oneOf<T extends string>(flag: string, value: unknown, choices: readonly T[]): T {
  if (typeof value === 'string' && (choices as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`--${flag} must be one of ${choices.join(', ')} (got ${JSON.stringify(value)})`);
}

/** An ISO 8601 date or time flag (a date alone is midnight UTC). */
export function timeFlag(flag: string, v: unknown): Date | undefined {
  if (v === undefined) return undefined;
  const s = String(v);
  const ok = /^\d{4}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?)?$/.test(s);
  const d = new Date(/^\d{4}-\d\d-\d\d$/.test(s) ? `${s}T00:00:00Z` : /[Zz]|[+-]\d\d:?\d\d$/.test(s) ? s : `${s.replace(' ', 'T')}Z`);
  if (!ok || Number.isNaN(d.getTime())) throw new UsageError(`--${flag} must be an ISO 8601 date or time, e.g. 2025-03-12 or 2025-03-12T08:00:00Z (got ${JSON.stringify(s)})`);
  return d;
}
