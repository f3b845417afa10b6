import { UsageError } from '../../common/errors.js';
import { runDetectionTests } from '../../query/detection-tests.js';
import { loadDetections, type Detection } from '../../query/detection.js';
import { textTable } from '../../query/format.js';
import type { Command } from '../command.js';

function show(d: Detection): string {
  const params = Object.entries(d.params).map(([k, p]) => `  ${k} = ${JSON.stringify(p.default)}    ${p.description}`);
  return [
    `${d.id}  (${d.severity})`,
    d.title,
    '',
    d.description.trim(),
    '',
    `sources:    ${d.sources.join(', ')}`,
    `tags:       ${d.tags.join(', ') || '-'}`,
    ...(d.references.length ? ['references:', ...d.references.map((r) => `  ${r}`)] : []),
    ...(params.length ? ['params (--param NAME=VALUE):', ...params] : []),
    `tests:      ${d.tests.map((t) => `${t.name} (expect ${t.expect})`).join('; ')}`,
    `file:       ${d.file}`,
    '',
    d.sql.trim(),
  ].join('\n');
}

export const detectionsCommand: Command = {
  name: 'detections',
  summary: 'list, show and test the detection library',
  help: `Usage: s3sift detections list|show ID|test [--rules DIR]...

  list       every detection: id, severity, sources, title
  show ID    one detection in full: what it means, parameters, tests, SQL
  test       run every detection's own tests (raw log lines and CloudTrail
             records through the real parsers and the real SQL); exit 1 if any fails

Options:
  --rules DIR   also load the detection files in DIR (validated the same way); repeatable
  --only ID,... with test: only these detections
  -h, --help    show this help

Detection files are YAML, one per detection (see the README, "Writing a
detection"); a file that does not hold together is refused with its name and
the reason.`,
  options: {
    rules: { type: 'string', multiple: true },
    only: { type: 'string', multiple: true },
  },
  async run(values, positionals, io) {
    const [action, id, ...extra] = positionals;
    const all = await loadDetections((values.rules as string[] | undefined) ?? []);
    if (action === 'list' && !id) {
      const rows = all.map((d) => ({ id: d.id, severity: d.severity, sources: d.sources.join(','), title: d.title }));
      io.stdout.write(textTable(['id', 'severity', 'sources', 'title'], rows, 90) + `\n(${all.length} detections)\n`);
      return 0;
    }
    if (action === 'show' && id && !extra.length) {
      const d = all.find((x) => x.id === id);
      if (!d) throw new UsageError(`no detection ${JSON.stringify(id)} (see 's3sift detections list')`);
      io.stdout.write(show(d) + '\n');
      return 0;
    }
    if (action === 'test' && !id) {
      const only = ((values.only as string[] | undefined) ?? []).flatMap((s) => s.split(','));
      const picked = only.length ? all.filter((d) => only.includes(d.id)) : all;
      const outcomes = await runDetectionTests(picked, (o) => {
        const mark = o.ok ? 'ok  ' : 'FAIL';
        const why = o.error ? `: ${o.error}` : o.ok ? '' : `: expected ${o.expected} finding(s), got ${o.got}`;
        io.stdout.write(`${mark} ${o.detection} / ${o.test}${why}\n`);
      });
      const failed = outcomes.filter((o) => !o.ok).length;
      io.stdout.write(`\n${outcomes.length - failed} passed, ${failed} failed, ${picked.length} detections\n`);
      return failed ? 1 : 0;
    }
    throw new UsageError('detections takes list, show ID, or test');
  },
};
