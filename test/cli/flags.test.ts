import { describe, expect, it } from 'vitest';
import type { Command } from '../../cli/command.js';
import { COMMANDS } from '../../cli/commands/index.js';
import { bool, choice, editDistance, integer, list, parseFlags, renderFlags, repeated, suggestion, text, time } from '../../cli/flags.js';
import { parseTime } from '../../common/time.js';
import { UsageError } from '../../common/errors.js';

const table = {
  data: text({ value: 'DIR', help: 'dataset folder', default: './d' }),
  bucket: text({ value: 'B', help: 'one bucket' }),
  force: bool({ help: 'again' }),
  only: list({ value: 'ID,...', help: 'these' }),
  param: repeated({ value: 'NAME=VALUE', help: 'a parameter' }),
  format: choice({ choices: ['table', 'json'], default: 'table', help: 'how' }),
  'fail-on': choice({ choices: ['low', 'high'], help: 'when' }),
  port: integer({ help: 'port', min: 0, max: 65535, default: 8080 }),
  since: time({ help: 'from' }),
} as const;

/** The UsageError message parseFlags throws for `argv`. */
function refusal(argv: string[]): string {
  try {
    parseFlags(table, argv);
  } catch (err) {
    if (err instanceof UsageError) return err.message;
    throw err;
  }
  throw new Error(`accepted: ${argv.join(' ')}`);
}

describe('parseFlags', () => {
  it('gives every flag its typed value, defaults included', () => {
    const { values, positionals } = parseFlags(table, ['x.log', '--only', 'a,b', '--only', ' c ', '--param', 'list=1,2', '--force', '--port', '0', '--since', '2025-03-12', 'y.log']);
    expect(positionals).toEqual(['x.log', 'y.log']);
    expect(values).toEqual({
      data: './d', bucket: undefined, force: true, only: ['a', 'b', 'c'], param: ['list=1,2'], format: 'table', 'fail-on': undefined, port: 0,
      since: new Date('2025-03-12T00:00:00Z'),
    });
  });

  it('takes --flag=value, and the values after -- as positionals', () => {
    const { values, positionals } = parseFlags(table, ['--data=/tmp/x', '--', '--force']);
    expect(values.data).toBe('/tmp/x');
    expect(values.force).toBe(false);
    expect(positionals).toEqual(['--force']);
  });

  it('names an unknown flag and suggests the close one', () => {
    expect(refusal(['--sinse', '2025-03-12'])).toBe('unknown option --sinse (did you mean --since?)');
    expect(refusal(['--fial-on', 'high'])).toBe('unknown option --fial-on (did you mean --fail-on?)');
    expect(refusal(['--formta=json'])).toBe('unknown option --formta (did you mean --format?)');
    expect(refusal(['--frobnicate'])).toBe('unknown option --frobnicate');
    expect(refusal(['-x'])).toBe('unknown option -x');
  });

  it('refuses a missing value, a value for a switch, and bad values, saying what is allowed', () => {
    expect(refusal(['--bucket'])).toBe('--bucket needs a value: --bucket B');
    expect(refusal(['--force=yes'])).toBe('--force is a switch and takes no value');
    expect(refusal(['--format', 'jsno'])).toBe('--format must be one of table, json (got "jsno") (did you mean json?)');
    expect(refusal(['--port', '70000'])).toBe('--port must be a whole number from 0 to 65535 (got "70000")');
    expect(refusal(['--port', '8e3'])).toBe('--port must be a whole number from 0 to 65535 (got "8e3")');
    expect(refusal(['--port', '-1'])).toBe('--port needs a value: --port N (a value that starts with - is written --port=-...)');
    expect(refusal(['--port=-1'])).toBe('--port must be a whole number from 0 to 65535 (got "-1")');
    expect(refusal(['--data='])).toBe('--data was given an empty value');
    expect(refusal(['--only='])).toBe('--only was given an empty value');
    expect(refusal(['--param', ''])).toBe('--param was given an empty value');
    expect(refusal(['--since', 'yesterday'])).toMatch(/^--since must be an ISO 8601 date or time/);
  });
});

describe('parseTime', () => {
  it('reads ISO 8601 dates and times as UTC unless an offset is given', () => {
    expect(parseTime('2025-03-12')?.toISOString()).toBe('2025-03-12T00:00:00.000Z');
    expect(parseTime('2025-03-12T08:00')?.toISOString()).toBe('2025-03-12T08:00:00.000Z');
    expect(parseTime('2025-03-12 08:00:01.5')?.toISOString()).toBe('2025-03-12T08:00:01.500Z');
    expect(parseTime('2025-03-12T08:00:00+02:00')?.toISOString()).toBe('2025-03-12T06:00:00.000Z');
    expect(parseTime('2025-03-12T08:00:00-0500')?.toISOString()).toBe('2025-03-12T13:00:00.000Z');
    expect(parseTime('2024-02-29')?.toISOString()).toBe('2024-02-29T00:00:00.000Z');
    // Impossible dates are refused, not rolled over into the next month or day as Date would.
    for (const bad of ['2025-13-01', '2025-02-29', '2025-02-30', '2025-04-31T00:00Z', '2025-03-12T24:00:00Z', '2025-03-12T25:00', '2025-03-12T08:60', '2025-03-12T08:00+25:00',
      '12/03/2025', 'March 3 2025', 'now', '']) expect([bad, parseTime(bad)]).toEqual([bad, undefined]);
  });
});

describe('suggestions', () => {
  it('count a swap of neighbours as one edit', () => {
    expect(editDistance('sinse', 'since')).toBe(1);
    expect(editDistance('detcet', 'detect')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
  });

  it('suggest only what is close', () => {
    expect(suggestion('sinc', ['since', 'until'])).toBe(' (did you mean --since?)');
    expect(suggestion('xyz', ['since', 'until'])).toBe('');
  });
});

describe('help', () => {
  const all = COMMANDS.flatMap((c): Array<[string, Command]> => (c.subcommands ? c.subcommands.map((s) => [`${c.name} ${s.name}`, s]) : [[c.name, c]]));

  it("gives examples that use only the flags their command takes", () => {
    // The option list is rendered from the flag table; the examples are free text and could drift.
    let checked = 0;
    for (const [name, cmd] of all) {
      const examples = cmd.help().split('\nExamples:\n')[1] ?? '';
      for (const line of examples.split('\n').filter((l) => l.trim().startsWith(`s3sift ${name}`))) {
        for (const flag of line.match(/(?<=\s)--[a-z][a-z-]*/g) ?? []) {
          expect([line.trim(), Object.keys(cmd.flags)]).toEqual([line.trim(), expect.arrayContaining([flag.slice(2)])]);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(20);
  });

  it('shows defaults and value names', () => {
    const help = renderFlags(table);
    expect(help).toContain('--data DIR');
    expect(help).toContain('dataset folder (default ./d)');
    expect(help).toMatch(/--param NAME=VALUE +a parameter; repeatable/);
    expect(help).toMatch(/--force {2,}again/);
  });
});
