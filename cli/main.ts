/**
 * The s3sift command line: picks the command, and is the one boundary where
 * errors become messages and exit codes. It loads only the command
 * declarations; each command imports its libraries when it runs.
 */
import { version } from '../common/version.js';
import { S3siftError, UsageError, describe } from '../common/errors.js';
import { EXIT, wantsHelp, type Command, type Io, type Streams } from './command.js';
import { COMMANDS } from './commands/index.js';
import { suggestion } from './flags.js';
import { terminalIo } from './terminal-io.js';

/** `s3sift --help`. */
export function topHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return `s3sift — Amazon S3 security log analytics

Usage: s3sift COMMAND [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join('\n')}

Options:
  --version     print the version
  -h, --help    show this help

Run 's3sift COMMAND --help' for a command's options and examples.
Start with 's3sift analyze ./your-logs/': ingest, then the report.`;
}

const processStreams = (): Streams => ({ stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env });

/** Run the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: readonly string[], streams: Streams = processStreams()): Promise<number> {
  const io = terminalIo(streams);
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.stderr.write(topHelp() + '\n');
    return EXIT.usage;
  }
  if (name === '--help' || name === '-h' || (name === 'help' && rest.length === 0)) {
    io.stdout.write(topHelp() + '\n');
    return EXIT.ok;
  }
  if (name === '--version' || name === '-V') {
    io.stdout.write(version() + '\n');
    return EXIT.ok;
  }
  // `s3sift help detect` is `s3sift detect --help`.
  if (name === 'help') return main([...rest, '--help'], streams);
  return dispatch(COMMANDS, [name, ...rest], 's3sift', io);
}

/** Find the command `argv[0]` names among `commands` (and its subcommand), then run it inside the error boundary. */
async function dispatch(commands: readonly Command[], argv: readonly string[], parents: string, io: Io): Promise<number> {
  const [name = '', ...rest] = argv;
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    const what = name.startsWith('-') ? `option ${name} (options go after the command)` : `command '${name}'${suggestion(name, commands.map((c) => c.name), (c) => `'${c}'`)}`;
    io.stderr.line(`error: unknown ${what}`);
    io.stderr.write(`\nCommands: ${commands.map((c) => c.name).join(', ')}\nRun '${parents} --help' for what each does.\n`);
    return EXIT.usage;
  }
  if (cmd.subcommands) {
    // Options may come before the subcommand (`athena --database d detect`): the subcommand is the first word that names one.
    const names = cmd.subcommands.map((c) => c.name);
    const at = rest[0]?.startsWith('-') ? rest.findIndex((a) => names.includes(a)) : 0;
    const sub = at < 0 ? undefined : rest[at];
    if (sub === undefined || (at === 0 && (sub === '--help' || sub === '-h'))) {
      const asked = sub !== undefined || wantsHelp(rest);
      if (asked) io.stdout.write(cmd.help(parents) + '\n');
      else io.stderr.write(`error: ${parents} ${cmd.name} needs a command: ${names.join(', ')}\n\n${cmd.help(parents)}\n`);
      return asked ? EXIT.ok : EXIT.usage;
    }
    return dispatch(cmd.subcommands, [sub, ...rest.slice(0, at), ...rest.slice(at + 1)], `${parents} ${cmd.name}`, io);
  }
  if (wantsHelp(rest)) {
    io.stdout.write(cmd.help(parents) + '\n');
    return EXIT.ok;
  }
  try {
    return await cmd.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.line(`error: ${err.message}`);
      io.stderr.write(`\n${cmd.usage(parents)}\nRun '${parents} ${cmd.name} --help' for every option and examples.\n`);
      return EXIT.usage;
    }
    if (err instanceof S3siftError && err.code !== 'internal') {
      io.stderr.line(`error: ${err.message}`);
      return EXIT.usage;
    }
    io.stderr.line(`internal error: ${describe(err)}`);
    if (io.env.S3SIFT_DEBUG) io.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    else io.stderr.write('(set S3SIFT_DEBUG=1 for the stack trace, and please report it)\n');
    return EXIT.internal;
  }
}
