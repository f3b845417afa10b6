/**
 * The generator scripts' command lines: `--help` prints the usage, a bad flag
 * or a number that is not a whole number gets the usage and exit code 2.
 */
import { parseArgs } from 'node:util';

type StringOptions = Record<string, { type: 'string'; default?: string }>;

/** The flags' values, or null when --help was asked for (the usage is printed). */
export function scriptArgs<O extends StringOptions>(help: string, options: O, wholeNumbers: ReadonlyArray<keyof O & string>): Record<keyof O, string | undefined> | null {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ options: { ...options, help: { type: 'boolean', short: 'h' } } }));
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n\n${help}\n`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(help + '\n');
    return null;
  }
  for (const k of wholeNumbers) {
    if (!/^\d+$/.test(String(values[k]))) {
      process.stderr.write(`error: --${k} takes a whole number (got ${JSON.stringify(values[k])})\n\n${help}\n`);
      process.exit(2);
    }
  }
  return values as Record<keyof O, string | undefined>;
}
