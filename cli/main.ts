/**
 * The s3sift command line: picks the command, parses its flags, and is the
 * one boundary where errors become messages and exit codes.
 */
import { version } from '../common/version.js';
import { S3siftError, UsageError, describe } from '../common/errors.js';
import { parse, type Command, type Io } from './command.js';
import { analyzeCommand, detectCommand } from './commands/detect.js';
import { athenaCommand } from './commands/athena.js';
import { detectionsCommand } from './commands/detections.js';
import { ingestCommand } from './commands/ingest.js';
import { postureCommand } from './commands/posture.js';
import { publishCommand } from './commands/publish.js';
import { queryCommand } from './commands/query.js';
import { serveCommand } from './commands/serve.js';

export const COMMANDS: readonly Command[] = [ingestCommand, analyzeCommand, detectCommand, queryCommand, detectionsCommand, postureCommand, serveCommand, athenaCommand, publishCommand];

export const EXIT = { ok: 0, findings: 1, usage: 2, strict: 3, internal: 70 } as const;

function topHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `s3sift — Amazon S3 security log analytics

Usage: s3sift COMMAND [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Run 's3sift COMMAND --help' for a command's options and examples.
  --version   print the version
  --help      show this help`;
}

/** Run the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[], io: Io = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env }): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout).write(topHelp() + '\n');
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '--version' || name === '-V') {
    io.stdout.write(version() + '\n');
    return EXIT.ok;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    io.stderr.write(`error: unknown command '${name}'\n\n${topHelp()}\n`);
    return EXIT.usage;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(cmd.help + '\n');
    return EXIT.ok;
  }
  try {
    const { values, positionals } = parse(cmd, rest);
    return await cmd.run(values, positionals, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`error: ${err.message}\n\n${cmd.help}\n`);
      return EXIT.usage;
    }
    if (err instanceof S3siftError && err.code !== 'internal') {
      io.stderr.write(`error: ${err.message}\n`);
      return EXIT.usage;
    }
    io.stderr.write(`internal error: ${describe(err)}\n`);
    if (io.env.S3SIFT_DEBUG) io.stderr.write(String((err as Error).stack) + '\n');
    else io.stderr.write('(set S3SIFT_DEBUG=1 for the stack trace, and please report it)\n');
    return EXIT.internal;
  }
}
