/**
 * docs/contract.md lists the names users and programs rely on; this suite
 * holds the code to that page, so a rename fails here before it reaches a
 * user's script.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../cli/command.js';
import { COMMANDS } from '../cli/commands/index.js';
import { main } from '../cli/main.js';
import { ingest } from '../ingest/ingest.js';
import { ACCESS_LOG, CLOUDTRAIL } from '../ingest/schema.js';
import { openDataset } from '../query/dataset.js';
import { DETECTION_KEYS, DETECTION_TEST_KEYS } from '../query/detection.js';
import { BASE_NAMES, RECORD_KEYS } from '../query/test-records.js';
import { COVERAGE_FIELDS, FINDING_FIELDS, findingFieldsTable, SEVERITIES } from '../query/finding.js';
import { createApp } from '../server/app.js';
import { captureIo } from './helpers/io.js';
import { emptyDataset, SAMPLES, tempDir } from './helpers/dataset.js';

const doc = readFileSync(new URL('../docs/contract.md', import.meta.url), 'utf8');

/** The text of the section under `heading` (up to the next heading of any level). */
function section(heading: string): string {
  const at = doc.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`docs/contract.md has no section ${heading}`);
  const rest = doc.slice(at + heading.length + 2);
  const end = rest.search(/\n#{2,3} /);
  return end < 0 ? rest : rest.slice(0, end);
}

/** The first back-quoted, comma-separated list of names in a section. */
function nameList(heading: string): string[] {
  const m = /`([a-z_]+(?:,\s+[a-z_]+)+)`/.exec(section(heading));
  if (!m?.[1]) throw new Error(`no list of names under ${heading}`);
  return m[1].split(',').map((s) => s.trim());
}

/** Rows of the first markdown table of a section, cells trimmed. */
function tableRows(heading: string): string[][] {
  const lines = section(heading).split('\n');
  const start = lines.findIndex((l) => l.startsWith('|'));
  const end = lines.findIndex((l, i) => i > start && !l.startsWith('|'));
  return lines
    .slice(start, end < 0 ? undefined : end)
    .filter((l) => !/^\|[-| ]+\|$/.test(l))
    .slice(1)
    .map((l) => l.slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim()));
}

/** `names` appear in `actual` in the same order (other names may sit between). */
function inOrder(names: readonly string[], actual: readonly string[]): void {
  expect(names.filter((n) => !actual.includes(n))).toEqual([]);
  expect(actual.filter((n) => names.includes(n))).toEqual(names);
}

describe('docs/contract.md holds', () => {
  it('the access_log and cloudtrail columns, in order', () => {
    inOrder(nameList('### `access_log`'), ACCESS_LOG.columns.map((c) => c.name));
    inOrder(nameList('### `cloudtrail`'), CLOUDTRAIL.columns.map((c) => c.name));
  });

  it('the s3_requests columns, in order', async () => {
    const tmp = tempDir();
    const ds = await openDataset(await emptyDataset(tmp.dir));
    try {
      const cols = (await ds.conn.runAndReadAll('DESCRIBE s3_requests')).getRows().map((r) => String(r[0]));
      inOrder(nameList('### `s3_requests` (a view over both)'), cols);
    } finally {
      ds.close();
      tmp.cleanup();
    }
  });

  it('the detection file keys and test keys, and the severities', () => {
    const lists = [...section('## Detection files').matchAll(/^`([a-z_]+(?:, [a-z_]+)+)`$/gm)].map((m) => (m[1] ?? '').split(', '));
    expect(lists).toEqual([[...DETECTION_KEYS], [...DETECTION_TEST_KEYS], [...RECORD_KEYS]]);
    expect(section('## Detection files')).toContain(`with the bases ${BASE_NAMES.map((b) => `\`${b}\``).join(', ').replace(/, ([^,]*)$/, ' and $1')}.`);
    expect(section('## Findings')).toContain(`one of \`${SEVERITIES.join(', ')}\``);
  });

  it('the finding fields: the name list, and the table of types and meanings as query/finding.ts declares them', () => {
    expect(nameList('## Findings')).toEqual([...FINDING_FIELDS]);
    expect(section('## Findings')).toContain(findingFieldsTable());
  });

  it('the coverage fields', () => {
    expect(nameList('### Coverage: what was not checked')).toEqual([...COVERAGE_FIELDS]);
  });

  it('the exit codes', () => {
    const codes = section('## Command line').split('Exit codes:')[1] ?? '';
    const listed = codes.split('\n').filter((l) => /^\| \d+ \|/.test(l)).map((l) => Number(/\d+/.exec(l)?.[0]));
    expect(listed.sort((a, b) => a - b)).toEqual(Object.values(EXIT).sort((a, b) => a - b));
  });

  it('every command, subcommand and flag it lists, on the command that takes it', () => {
    const rows = tableRows('## Command line');
    expect(rows.length).toBeGreaterThan(8);
    for (const [usage, flags] of rows) {
      const [name, sub] = /^`s3sift ([a-z]+)(?: ([a-z]+))?/.exec(usage ?? '')?.slice(1) ?? [];
      const cmd = COMMANDS.find((c) => c.name === name);
      expect(cmd, `command ${name}`).toBeDefined();
      const target = cmd?.subcommands ? cmd.subcommands.find((c) => c.name === sub) : cmd;
      expect(target, `${usage}`).toBeDefined();
      for (const f of (flags ?? '').match(/--[a-z-]+/g) ?? []) expect(Object.keys(target?.flags ?? {}), `${usage} ${f}`).toContain(f.slice(2));
    }
  });

  it('every HTTP route it lists, and no other', async () => {
    const tmp = tempDir();
    const app = await createApp({ data: await emptyDataset(tmp.dir) });
    try {
      const served = app.app.routes.filter((r) => r.method !== 'ALL' && !r.path.startsWith('/assets/')).map((r) => `${r.method} ${r.path}`);
      const listed = tableRows('## HTTP API (`s3sift serve`)').map(([m, p]) => `${m} ${(p ?? '').replaceAll('`', '')}`);
      expect([...new Set(served)].sort()).toEqual(listed.sort());
    } finally {
      app.close();
      tmp.cleanup();
    }
  });
});

describe('findings as the contract gives them', () => {
  const tmp = tempDir();
  const data = join(tmp.dir, 'data');
  beforeAll(async () => {
    await ingest([new URL('.', SAMPLES).pathname], { data, format: 'auto', force: false, strict: false });
  });
  afterAll(() => tmp.cleanup());

  it('have exactly the listed fields, in order, in ndjson, json and csv', async () => {
    const fields = nameList('## Findings');
    const run = async (format: string): Promise<string> => {
      const io = captureIo();
      const code = await main(['detect', '--data', data, '--format', format], io);
      // The samples hold records older than the TLS field: the formats without coverage say so on stderr, in one line.
      const notice = /^not checked: \d+ detections? could not judge some of the data \([a-z0-9, -]+\); --format json or table says what and why\n$/;
      expect([code, io.err()]).toEqual([EXIT.ok, format === 'json' ? '' : expect.stringMatching(notice)]);
      return io.out();
    };
    const ndjson = (await run('ndjson')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(ndjson.length).toBeGreaterThan(0);
    for (const f of ndjson) {
      expect(Object.keys(f)).toEqual(fields);
      expect(SEVERITIES).toContain(f.severity);
      expect(typeof f.details).toBe('object');
    }
    const json = JSON.parse(await run('json')) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual(['findings', 'summary', 'coverage']);
    const coverage = json.coverage as Array<Record<string, unknown>>;
    expect(coverage.length).toBeGreaterThan(0);
    for (const c of coverage) expect(Object.keys(c)).toEqual(nameList('### Coverage: what was not checked').filter((k) => k in c));
    expect(coverage.map((c) => Object.keys(c).length)).toContain(COVERAGE_FIELDS.length);
    expect((await run('csv')).split('\n')[0]).toBe(fields.join(','));
    const ocsf = (await run('ocsf')).trim().split('\n').map((l) => JSON.parse(l) as { class_uid: number });
    expect(new Set(ocsf.map((o) => o.class_uid))).toEqual(new Set([2004]));
  });
});
