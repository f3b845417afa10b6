import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAccessLogLine } from '../../ingest/access-log/parse.js';
import { STAGED_ORDER } from '../../ingest/access-log/stage-row.js';
import { Reject } from '../../ingest/reject.js';
import { parseCloudTrailRecord, Skip } from '../../ingest/cloudtrail/record.js';
import { ACCESS_LOG, CLOUDTRAIL, duckdbCreateTable, markdownColumns, type SqlType } from '../../ingest/schema.js';
import { CONFORMANCE } from '../helpers/dataset.js';

/** Whether a JS value fits a declared column type (null fits any). */
function fits(type: SqlType, v: unknown): boolean {
  if (v === null) return true;
  switch (type) {
    case 'VARCHAR':
    case 'JSON':
      return typeof v === 'string';
    case 'INTEGER':
      return Number.isInteger(v) && (v as number) >= -(2 ** 31) && (v as number) < 2 ** 31;
    case 'BIGINT':
      return Number.isSafeInteger(v);
    case 'BOOLEAN':
      return typeof v === 'boolean';
    case 'TIMESTAMP':
      return v instanceof Date && !Number.isNaN(v.getTime());
    case 'VARCHAR[]':
      return Array.isArray(v) && v.every((x) => typeof x === 'string');
  }
}

describe('the access_log declaration', () => {
  it('lists the staged columns in order, source_file and source_line last', () => {
    const names = ACCESS_LOG.columns.map((c) => c.name);
    expect(names.slice(-2)).toEqual(['source_file', 'source_line']);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual([...STAGED_ORDER]);
  });

  it('matches every row the parser makes, column for column and type for type', () => {
    const lines = [
      ...readFileSync(new URL('aws-docs/access-log-example.log', CONFORMANCE), 'utf8').split('\n'),
      ...(JSON.parse(readFileSync(new URL('logstash/access-log-cases.json', CONFORMANCE), 'utf8')) as { cases: { line: string }[] }).cases.map((c) => c.line),
    ].filter((l) => l.trim());
    const declared = ACCESS_LOG.columns.filter((c) => c.name !== 'source_file' && c.name !== 'source_line');
    for (const line of lines) {
      const row = parseAccessLogLine(line);
      if (row instanceof Reject) throw new Error(row.reason);
      expect(Object.keys(row).sort()).toEqual(declared.map((c) => c.name).sort());
      for (const c of declared) expect([c.name, fits(c.type, (row as unknown as Record<string, unknown>)[c.name])]).toEqual([c.name, true]);
    }
  });

  it('renders DuckDB DDL and the docs table from the same declaration', () => {
    const ddl = duckdbCreateTable(ACCESS_LOG);
    expect(ddl).toContain('"key" VARCHAR');
    expect(ddl).toContain('"event_time" TIMESTAMP');
    expect(ddl).toContain('"extra_fields" VARCHAR[]');
    const md = markdownColumns(ACCESS_LOG);
    expect(md.split('\n')).toHaveLength(ACCESS_LOG.columns.length + 2);
  });

  it('is the table docs/dataset.md documents', () => {
    const doc = readFileSync(new URL('../../docs/dataset.md', import.meta.url), 'utf8');
    expect(doc).toContain(markdownColumns(ACCESS_LOG));
  });
});

describe('the cloudtrail declaration', () => {
  it('lists source_file and source_line last, each name once', () => {
    const names = CLOUDTRAIL.columns.map((c) => c.name);
    expect(names.slice(-2)).toEqual(['source_file', 'source_line']);
    expect(new Set(names).size).toBe(names.length);
  });

  it('matches every row the parser makes from the conformance records, column for column and type for type', () => {
    const files = ['aws-docs/cloudtrail-s3-example.json'];
    const records = files.flatMap((f) => (JSON.parse(readFileSync(new URL(f, CONFORMANCE), 'utf8')) as { Records: unknown[] }).Records);
    const panther = (JSON.parse(readFileSync(new URL('panther/cloudtrail-rule-tests.json', CONFORMANCE), 'utf8')) as { cases: Array<{ record: unknown }> }).cases;
    const declared = CLOUDTRAIL.columns.filter((c) => c.name !== 'source_file' && c.name !== 'source_line');
    for (const rec of [...records, ...panther.map((c) => c.record)]) {
      const row = parseCloudTrailRecord(rec);
      if (row instanceof Reject || row instanceof Skip) throw new Error(row.reason);
      expect(Object.keys(row).sort()).toEqual(declared.map((c) => c.name).sort());
      for (const c of declared) expect([c.name, fits(c.type, (row as unknown as Record<string, unknown>)[c.name])]).toEqual([c.name, true]);
    }
  });

  it('is the table docs/dataset.md documents', () => {
    const doc = readFileSync(new URL('../../docs/dataset.md', import.meta.url), 'utf8');
    expect(doc).toContain(markdownColumns(CLOUDTRAIL));
  });
});
