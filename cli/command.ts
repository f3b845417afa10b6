/**
 * A command: its name, its help, its flag table, and the function that
 * turns parsed arguments into a library call. A command's module imports
 * only what declaring it needs; the libraries it runs are imported when it
 * runs, so `s3sift --help` loads no DuckDB, AWS SDK or server.
 * `main.ts` owns the one error boundary.
 */
import type { Readable } from 'node:stream';
import { parseFlags, renderFlags, type FlagValues, type Flags } from './flags.js';

/** A stream as the process (or a test) gives it. */
export interface Out {
  write(chunk: string | Uint8Array): boolean;
  isTTY?: boolean;
  columns?: number;
}

/** What the CLI runs with: the process's streams and environment. */
export interface Streams {
  stdout: Out;
  stderr: Out;
  stdin: Readable;
  env: NodeJS.ProcessEnv;
}

/**
 * Text for a person, on its way to a terminal: every character a terminal
 * acts on is escaped (cli/terminal-io.ts), so log content cannot move the
 * cursor, clear the screen, set the title or reverse the text.
 */
export interface TextOut {
  /** Lines: the newlines between them stay, everything else a terminal acts on is shown as `\uXXXX`. */
  write(text: string): void;
  /** One line: everything escaped, a newline inside too, then a newline. */
  line(text: string): void;
}

/**
 * What a command gets. `stdout` and `stderr` take human text only; machine
 * formats (JSON, NDJSON, CSV, OCSF, Arrow, SQL) go to `raw.stdout` byte for
 * byte, and the progress bar draws on `raw.stderr`.
 */
export interface Io {
  stdout: TextOut;
  stderr: TextOut;
  stdin: Readable;
  env: NodeJS.ProcessEnv;
  raw: { stdout: Out; stderr: Out };
}

/** Exit codes (docs/contract.md). */
export const EXIT = { ok: 0, findings: 1, usage: 2, strict: 3, internal: 70 } as const;

/** What each exit code means, for the docs. */
export const EXIT_MEANINGS: Readonly<Record<keyof typeof EXIT, string>> = {
  ok: 'success, also when some input lines were rejected (unless --strict)',
  findings: 'a finding at or above --fail-on (detect, analyze, athena detect); a failed test (detections test); a detection whose findings differ between DuckDB and Athena (athena verify)',
  usage: 'a usage or input error: a bad flag, an unreadable source, failing SQL, an invalid detection file (one line on stderr says what and where); an athena verify that could not finish or clean up',
  strict: '--strict and something was rejected; nothing was committed',
  internal: 'an internal error (a bug: please report it, with S3SIFT_DEBUG=1 for the stack trace)',
};

/** What a command's `run` receives: its typed flags and its positional arguments. */
export interface Args<F extends Flags> {
  flags: FlagValues<F>;
  positionals: string[];
}

export interface CommandSpec<F extends Flags> {
  /** The word after `s3sift` (or after the parent command). */
  name: string;
  /** One line, for the command list. */
  summary: string;
  /** What follows the command's name on the usage line, e.g. `SOURCE... [options]`. */
  usage: string;
  /** Paragraphs between the usage line and the options. */
  description: string;
  flags: F;
  /** Text after the options (exit codes, notes). */
  notes?: string;
  examples?: readonly string[];
  run(args: Args<F>, io: Io): Promise<number>;
}

/** A declared command, its flag types erased, ready for `main`. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly flags: Flags;
  readonly subcommands?: readonly Command[];
  /** The full help text. */
  help(parents?: string): string;
  /** The usage line alone. */
  usage(parents?: string): string;
  run(argv: readonly string[], io: Io): Promise<number>;
}

/** Declare a command from its spec: flags parsed and typed, help rendered from the same table. */
export function defineCommand<F extends Flags>(spec: CommandSpec<F>): Command {
  const usage = (parents = 's3sift'): string => `Usage: ${parents} ${spec.name} ${spec.usage}`.trimEnd();
  return {
    name: spec.name,
    summary: spec.summary,
    flags: spec.flags,
    usage,
    help: (parents) =>
      [
        usage(parents),
        spec.description.trim(),
        renderFlags(spec.flags),
        spec.notes?.trim(),
        spec.examples?.length ? `Examples:\n${spec.examples.map((e) => `  ${e}`).join('\n')}` : undefined,
      ]
        .filter(Boolean)
        .join('\n\n'),
    run: (argv, io) => {
      const { values, positionals } = parseFlags(spec.flags, argv);
      return spec.run({ flags: values, positionals }, io);
    },
  };
}

/** A command made of subcommands (`s3sift athena ddl`, `s3sift detections list`). */
export function defineGroup(spec: { name: string; summary: string; description: string; subcommands: readonly Command[] }): Command {
  const usage = (parents = 's3sift'): string => `Usage: ${parents} ${spec.name} ${spec.subcommands.map((c) => c.name).join('|')} [options]`;
  const width = Math.max(...spec.subcommands.map((c) => c.name.length)) + 2;
  return {
    name: spec.name,
    summary: spec.summary,
    // A group's flags are its subcommands'.
    flags: {},
    subcommands: spec.subcommands,
    usage,
    help: (parents = 's3sift') =>
      [
        usage(parents),
        spec.description.trim(),
        `Commands:\n${spec.subcommands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join('\n')}`,
        `Run '${parents} ${spec.name} COMMAND --help' for a command's options and examples.`,
      ].join('\n\n'),
    // main.ts dispatches to the subcommands; a group is never run itself.
    run: () => Promise.reject(new Error(`${spec.name} runs through its subcommands`)),
  };
}

/** True when the arguments ask for help (before any `--`). */
export function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}
