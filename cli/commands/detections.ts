import { UsageError } from '../../common/errors.js';
import { terminalSafe } from '../../common/terminal.js';
import type { Detection } from '../../query/detection.js';
import { defineCommand, defineGroup, EXIT } from '../command.js';
import { findingFlags } from '../common-flags.js';

/**
 * One detection in full. A file from --rules is as untrusted as the logs:
 * each line is escaped for a terminal, and only the description and the SQL,
 * written over several lines, keep their line breaks.
 */
function show(d: Detection): string {
  const params = Object.entries(d.params).map(([k, p]) => `  ${k} = ${JSON.stringify(p.default)}    ${p.description}`);
  const lines = (text: string): string[] => text.trim().split('\n');
  return [
    `${d.id}  (${d.severity})`,
    d.title,
    '',
    ...lines(d.description),
    '',
    `sources:    ${d.sources.join(', ')}`,
    `tags:       ${d.tags.join(', ') || '-'}`,
    ...(d.references.length ? ['references:', ...d.references.map((r) => `  ${r}`)] : []),
    ...(params.length ? ['params (--param NAME=VALUE):', ...params] : []),
    `tests:      ${d.tests.map((t) => `${t.name} (expect ${t.expect})`).join('; ')}`,
    `file:       ${d.file}`,
    '',
    ...lines(d.sql),
    ...(d.coverage ? ['', '-- coverage: what it cannot judge in the data (scope, reason, records)', ...lines(d.coverage)] : []),
  ].map(terminalSafe).join('\n');
}

const load = async (rules: string[]): Promise<Detection[]> => (await import('../../query/detection.js')).loadDetections(rules);
const noArguments = (name: string, positionals: readonly string[]): void => {
  if (positionals.length) throw new UsageError(`detections ${name} takes no arguments (got ${positionals.join(' ')})`);
};

const list = defineCommand({
  name: 'list',
  summary: 'every detection: id, severity, sources, title',
  usage: '[options]',
  description: 'List the detection library (the built-in one, and the files of --rules folders).',
  flags: { rules: findingFlags.rules },
  examples: ['s3sift detections list', 's3sift detections list --rules ./my-rules'],
  async run({ flags, positionals }, io) {
    noArguments('list', positionals);
    const all = await load(flags.rules);
    const { textTable } = await import('../../query/format.js');
    const rows = all.map((d) => ({ id: d.id, severity: d.severity, sources: d.sources.join(','), title: d.title }));
    io.stdout.write(textTable(['id', 'severity', 'sources', 'title'], rows, 90) + `\n(${all.length} detections)\n`);
    return EXIT.ok;
  },
});

const showCommand = defineCommand({
  name: 'show',
  summary: 'one detection in full: what it means, parameters, tests, SQL',
  usage: 'ID [options]',
  description: 'Show one detection: its description (what it means and what to do), parameters with defaults, tests, file and SQL (and its coverage SQL, what it cannot judge, if it has one).',
  flags: { rules: findingFlags.rules },
  examples: ['s3sift detections show presigned-url-long-expiry'],
  async run({ flags, positionals }, io) {
    const [id, ...extra] = positionals;
    if (!id || extra.length) throw new UsageError('detections show takes one detection ID');
    const all = await load(flags.rules);
    const d = all.find((x) => x.id === id);
    if (!d) {
      const { suggestion } = await import('../flags.js');
      throw new UsageError(`no detection ${JSON.stringify(id)}${suggestion(id, all.map((x) => x.id), (x) => x)} (see 's3sift detections list')`);
    }
    io.stdout.write(show(d) + '\n');
    return EXIT.ok;
  },
});

const test = defineCommand({
  name: 'test',
  summary: "run the detections' own tests through the real parsers and SQL",
  usage: '[options]',
  description: `
Run every detection's own tests: the records of each test (base events with
the fields that differ, or raw lines) go through the real parsers into a
fresh dataset, and the detection's real SQL must fire on exactly the records
the test names (fires:) and give the number of findings it says (expect:).
Write your own detections with tests (docs/detections.md) and run them here.`,
  flags: { rules: findingFlags.rules, only: findingFlags.only },
  notes: 'Exit codes: 0 every test passed, 1 a test failed, 2 a detection file that does not hold together.',
  examples: ['s3sift detections test', 's3sift detections test --rules ./my-rules --only my-detection'],
  async run({ flags, positionals }, io) {
    noArguments('test', positionals);
    const all = await load(flags.rules);
    const { selectDetections } = await import('../../query/detect.js');
    const picked = selectDetections(all, flags.only);
    const { runDetectionTests } = await import('../../query/detection-tests.js');
    const outcomes = await runDetectionTests(picked, (o) => {
      const mark = o.ok ? 'ok  ' : 'FAIL';
      const wanted = [o.expected !== undefined ? `${o.expected} finding(s)` : '', o.expectedFires ? `fires [${o.expectedFires.join(', ')}]` : ''].filter(Boolean).join(' that ');
      const why = o.error ? `: ${o.error}` : o.ok ? '' : o.mixed.length ? `: evidence of several records: ${o.mixed.join('; ')}` : `: expected ${wanted}, got ${o.got} finding(s) from [${o.fired.join(', ')}]`;
      io.stdout.line(`${mark} ${o.detection} / ${o.test}${why}`);
    });
    const failed = outcomes.filter((o) => !o.ok).length;
    io.stdout.write(`\n${outcomes.length - failed} passed, ${failed} failed, ${picked.length} detections\n`);
    return failed ? EXIT.findings : EXIT.ok;
  },
});

export const detectionsCommand = defineGroup({
  name: 'detections',
  summary: 'list, show and test the detection library',
  description: `
The detection library: one YAML file per detection, with its SQL and its own
tests (docs/detections.md, "Writing a detection"). --rules DIR adds your own;
a file that does not hold together is refused with its name and the reason.`,
  subcommands: [list, showCommand, test],
});
