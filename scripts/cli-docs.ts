/**
 * docs/cli.md, written from the commands' own declarations (the same text
 * `s3sift COMMAND --help` prints), so the reference cannot drift from the
 * parser. `npm run docs:cli` rewrites it; test/docs-cli.test.ts fails when
 * the committed page differs.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PACKAGE_ROOT } from '../common/package-root.js';
import { EXIT, EXIT_MEANINGS, type Command } from '../cli/command.js';
import { COMMANDS } from '../cli/commands/index.js';
import { topHelp } from '../cli/main.js';

export const CLI_DOC = join(PACKAGE_ROOT, 'docs', 'cli.md');

const block = (text: string): string => ['```text', text, '```'].join('\n');
const anchor = (title: string): string => title.toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-');

function commandSection(c: Command, parents: string, level: string): string[] {
  const title = `${parents} ${c.name}`;
  return [`${level} \`${title}\``, '', c.summary[0]?.toUpperCase() + c.summary.slice(1) + '.', '', block(c.help(parents)), '',
    ...(c.subcommands ?? []).flatMap((s) => commandSection(s, title, `${level}#`))];
}

/** The whole page. */
export function cliReference(): string {
  const titles = ['s3sift', ...COMMANDS.flatMap((c) => [`s3sift ${c.name}`, ...(c.subcommands ?? []).map((s) => `s3sift ${c.name} ${s.name}`)])];
  return [
    '# Command-line reference',
    '',
    'Every command, flag and exit code of `s3sift`, as `s3sift COMMAND --help` prints them.',
    'This page is generated from the commands\' flag declarations (`npm run docs:cli`), so it',
    'is always what the parser accepts; `test/docs-cli.test.ts` checks that it is up to date.',
    'Which of these names are kept stable is said in [contract.md](contract.md).',
    '`detect`, `analyze` and `serve` also read a config file, `s3sift.yaml` (`--config FILE`):',
    'accounts, parameters, intel lists and suppress rules, described in [config.md](config.md).',
    '`watch`, `findings` and `detect --new`, with a cron line and a systemd unit: [watch.md](watch.md).',
    '',
    'Log content is untrusted, and so are `--rules` files: in what s3sift writes for a person (the',
    'report, `--format table`, the ingest summary, `detections list`/`show`/`test`, messages on',
    'standard error) every control character and bidirectional mark shows as `\\uXXXX` (an escape',
    'as `\\u001b`, a newline inside a value as `\\u000a`), so a key cannot clear the screen, set the',
    'title or reverse the text. JSON, NDJSON, OCSF, Arrow and the Athena DDL are written byte for',
    'byte; CSV too, but for the `\'` put before text a spreadsheet would run as a formula, which',
    '`--csv-raw` leaves out ([contract.md](contract.md#csv)).',
    '',
    ...titles.map((t) => `- [\`${t}\`](#${anchor(t)})`),
    '- [Exit codes](#exit-codes)',
    '',
    '## `s3sift`',
    '',
    block(topHelp()),
    '',
    ...COMMANDS.flatMap((c) => commandSection(c, 's3sift', '##')),
    '## Exit codes',
    '',
    '| code | meaning |',
    '|---|---|',
    ...Object.entries(EXIT).map(([name, code]) => `| ${code} | ${EXIT_MEANINGS[name as keyof typeof EXIT]} |`),
    '',
  ].join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(CLI_DOC, cliReference());
  process.stdout.write(`wrote ${CLI_DOC}\n`);
}
