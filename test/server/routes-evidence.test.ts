/** Reading a record back from its log file (server/evidence.ts readBack): bounded, and saying why when it cannot. */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { RAW_LINE_BYTES, RAW_SCAN_BYTES, readBack } from '../../server/evidence.js';
import { tempDir } from '../helpers/dataset.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const file = (name: string, body: string | Buffer): string => {
  const p = join(tmp.dir, name);
  writeFileSync(p, body);
  return p;
};
const lines = ['first line', 'second "line" with \u00e9', 'third\r', 'fourth'].join('\n');

describe('readBack: access logs', () => {
  it('reads the n-th line of a plain or gzipped file, without its CR', async () => {
    const plain = file('a.log', lines);
    const gz = file('a.log.gz', gzipSync(lines));
    for (const p of [plain, gz]) {
      expect(await readBack('access_log', p, 1)).toEqual({ text: 'first line', note: null });
      expect(await readBack('access_log', p, 2)).toEqual({ text: 'second "line" with \u00e9', note: null });
      expect(await readBack('access_log', p, 3)).toEqual({ text: 'third', note: null });
      expect(await readBack('access_log', p, 4)).toEqual({ text: 'fourth', note: null });
    }
    // A gzipped file whose name does not say so is still read (the bytes say).
    expect(await readBack('access_log', file('a-no-ext', gzipSync(lines)), 4)).toEqual({ text: 'fourth', note: null });
  });

  it('says so past the last line, for a line 0, for a file gone, a folder, s3:// and standard input', async () => {
    const p = file('b.log', lines);
    expect(await readBack('access_log', p, 5)).toEqual({ text: null, note: expect.stringMatching(/fewer than 5 lines/) });
    expect(await readBack('access_log', p, 0)).toEqual({ text: null, note: 'no line number recorded' });
    expect(await readBack('access_log', join(tmp.dir, 'gone.log'), 1)).toEqual({ text: null, note: 'file no longer exists' });
    expect((await readBack('access_log', 'relative/gone.log', 1)).note).toMatch(/^file no longer exists \(a relative name, looked for in /);
    expect((await readBack('access_log', tmp.dir, 1)).note).toBe('not a regular file: not read back');
    expect(await readBack('access_log', 's3://bucket/key.log', 1)).toEqual({ text: null, note: 's3:// source: not read back' });
    expect(await readBack('access_log', '-', 1)).toEqual({ text: null, note: 'read from standard input: not read back' });
    // A file that is not gzip after all: said, not thrown.
    expect((await readBack('access_log', file('bad.gz', Buffer.from([0x1f, 0x8b, 0, 1, 2, 3])), 1)).note).toMatch(/^file cannot be read/);
  });

  it('cuts a line longer than the cap and says so', async () => {
    const long = 'x'.repeat(RAW_LINE_BYTES + 10);
    const r = await readBack('access_log', file('long.log', `a\n${long}\nb`), 2);
    expect([r.text?.length, r.note]).toEqual([RAW_LINE_BYTES, expect.stringMatching(/line longer than .* cut there/)]);
    expect(await readBack('access_log', join(tmp.dir, 'long.log'), 3)).toEqual({ text: 'b', note: null });
  });

  it('cuts a line that runs past the scan cap too (it starts within it: not "past the first MiB")', async () => {
    const p = file('huge-line.log', Buffer.concat([Buffer.alloc(RAW_SCAN_BYTES + (1 << 20), 0x79), Buffer.from('\nsecond\n')]));
    const r = await readBack('access_log', p, 1);
    expect([r.text?.length, r.text?.slice(0, 3), r.note]).toEqual([RAW_LINE_BYTES, 'yyy', expect.stringMatching(/line longer than .* cut there/)]);
    // The line after it does start past the cap: not read back, and said.
    expect((await readBack('access_log', p, 2)).note).toMatch(/past the first 64 MiB/);
  });

  it.runIf(existsSync('/proc/self/fd'))('closes the file after reading a line from the middle of a gzipped one (no descriptor left open per request)', async () => {
    const p = file('many.log.gz', gzipSync(Array.from({ length: 200_000 }, (_, i) => `line ${i} ${'x'.repeat(50)}`).join('\n')));
    const open = (): number => readdirSync('/proc/self/fd').length;
    const before = open();
    for (let i = 0; i < 20; i++) expect(await readBack('access_log', p, 2)).toEqual({ text: `line 1 ${'x'.repeat(50)}`, note: null });
    await new Promise((r) => setTimeout(r, 50));
    expect(open() - before).toBeLessThan(5);
  });
});

describe('readBack: CloudTrail', () => {
  const records = [{ eventID: 'e1', eventName: 'GetObject' }, { eventID: 'e2', eventName: "Put'Object\u202e" }];
  it('gives the n-th record of a Records file (plain or gzipped) or a JSON array', async () => {
    for (const p of [file('ct.json', JSON.stringify({ Records: records })), file('ct.json.gz', gzipSync(JSON.stringify({ Records: records }))), file('arr.json', JSON.stringify(records))]) {
      expect(JSON.parse((await readBack('cloudtrail', p, 2)).text as string)).toEqual(records[1]);
      expect((await readBack('cloudtrail', p, 3)).note).toMatch(/holds 2 records now, not 3/);
    }
  });

  it('gives the n-th line of NDJSON', async () => {
    const p = file('ct.ndjson', records.map((r) => JSON.stringify(r)).join('\n'));
    expect(JSON.parse((await readBack('cloudtrail', p, 2)).text as string)).toEqual(records[1]);
    expect((await readBack('cloudtrail', p, 3)).note).toMatch(/fewer than 3 lines/);
  });

  it('numbers the records of several Records documents in one file on from one to the next, as ingest does', async () => {
    const p = file('two-docs.json', `${JSON.stringify({ Records: records })}\n${JSON.stringify({ Records: [{ eventID: 'e3', eventName: 'GetObject' }] })}\n`);
    expect(JSON.parse((await readBack('cloudtrail', p, 3, 'e3')).text as string)).toEqual({ eventID: 'e3', eventName: 'GetObject' });
    expect((await readBack('cloudtrail', p, 4)).note).toMatch(/holds 3 records now, not 4/);
  });

  it('gives line n of a CloudTrail Lake CSV export (not JSON: the splitter finds no record there)', async () => {
    const csv = ['eventid,eventname,requestparameters', 'e1,GetObject,"{""bucketName"":""b""}"', '"[x]",PutObject,"{}"'].join('\n');
    const p = file('result_1.csv', csv);
    expect(await readBack('cloudtrail', p, 2)).toEqual({ text: 'e1,GetObject,"{""bucketName"":""b""}"', note: null });
    expect(await readBack('cloudtrail', p, 3)).toEqual({ text: '"[x]",PutObject,"{}"', note: null });
  });

  it('gives the record that starts on line n of pretty-printed records, whole', async () => {
    const p = file('pretty.json', `${JSON.stringify(records[0], null, 2)}\n${JSON.stringify(records[1], null, 2)}\n`);
    expect(JSON.parse((await readBack('cloudtrail', p, 5, 'e2')).text as string)).toEqual(records[1]);
  });

  it('gives no record that is not the event asked for (a file that changed, or numbered from 1 in each document by an earlier ingest)', async () => {
    const p = file('two-docs-old.json', `${JSON.stringify({ Records: records })}\n${JSON.stringify({ Records: [{ eventID: 'e3', eventName: 'GetObject' }] })}\n`);
    const r = await readBack('cloudtrail', p, 1, 'e3');
    expect(r).toEqual({ text: null, note: expect.stringMatching(/^the record at this place in the file is not this event/) });
    const ct = file('ct-one.json', JSON.stringify({ Records: records }));
    expect(JSON.parse((await readBack('cloudtrail', ct, 2, 'e2')).text as string)).toEqual(records[1]);
    expect((await readBack('cloudtrail', ct, 2, 'e1')).text).toBeNull();
  });
});

describe('GET /api/findings/:finding_id when a log file is gone since ingest', () => {
  it('still gives the records from the dataset, and says the file no longer exists', async () => {
    const { cpSync, rmSync } = await import('node:fs');
    const { ingest } = await import('../../ingest/ingest.js');
    const { createApp } = await import('../../server/app.js');
    const { SAMPLES } = await import('../helpers/dataset.js');
    const logs = join(tmp.dir, 'logs');
    cpSync(new URL('.', SAMPLES).pathname, logs, { recursive: true });
    const data = join(tmp.dir, 'data');
    await ingest([logs], { data, format: 'auto', force: false, strict: false });
    const app = await createApp({ data });
    try {
      const list = (await (await app.app.request('/api/findings?detection=mass-delete')).json()) as { rows: Array<{ finding_id: string; source_file: string }> };
      const f = list.rows[0] as { finding_id: string; source_file: string };
      expect(f.source_file.startsWith(logs)).toBe(true);
      rmSync(f.source_file);
      const e = (await (await app.app.request(`/api/findings/${f.finding_id}`)).json()) as { events: { access_log: { rows: unknown[] } }; raw: Array<{ source_file: string; text: string | null; note: string | null }> };
      expect(e.events.access_log.rows.length).toBeGreaterThan(0);
      expect(e.raw.find((r) => r.source_file === f.source_file)).toMatchObject({ text: null, note: 'file no longer exists' });
      // The other source's file is still there and still read.
      expect(e.raw.some((r) => r.source_file !== f.source_file && r.text !== null)).toBe(true);
    } finally {
      app.close();
    }
  }, 120_000);
});

describe('GET /api/findings/:finding_id for a CloudTrail file of two Records documents', () => {
  it('lists the finding\'s own event and reads back its own record, numbered on from the first document', async () => {
    const { mkdirSync } = await import('node:fs');
    const { ingest } = await import('../../ingest/ingest.js');
    const { createApp } = await import('../../server/app.js');
    const rec = (i: number): Record<string, unknown> => ({
      eventVersion: '1.08', eventTime: `2025-03-12T08:00:0${i}Z`, eventSource: 's3.amazonaws.com', eventName: 'GetObject', awsRegion: 'us-east-1', sourceIPAddress: `10.0.0.${i}`,
      requestID: `REQ${i}`, eventID: `ev${i}`, userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::111122223333:user/u' }, requestParameters: { bucketName: 'b', key: `k${i}` }, eventType: 'AwsApiCall', recipientAccountId: '111122223333',
    });
    const logs = join(tmp.dir, 'two-doc-logs');
    mkdirSync(logs);
    file('two-doc-logs/two.json', `${JSON.stringify({ Records: [rec(1), rec(2)] })}\n${JSON.stringify({ Records: [rec(3)] })}\n`);
    const rules = join(tmp.dir, 'two-doc-rules');
    mkdirSync(rules);
    file('two-doc-rules/ev3-only.yaml', `id: ev3-only
title: "The third event"
description: The event ev3.
severity: low
sources: [cloudtrail]
sql: |
  SELECT event_time, source, bucket, "key", principal, source_ip, request_id, event_id, source_file, source_line
  FROM s3_requests WHERE source = 'cloudtrail' AND event_id = 'ev3'
tests:
  - name: fires
    records:
      - base: s3-data-event
        eventID: ev3
    fires: [1]
  - name: quiet
    records:
      - base: access-log
    expect: 0
`);
    const data = join(tmp.dir, 'two-doc-data');
    await ingest([logs], { data, format: 'auto', force: false, strict: false });
    const app = await createApp({ data, rules: [rules] });
    try {
      const list = (await (await app.app.request('/api/findings?detection=ev3-only')).json()) as { rows: Array<{ finding_id: string; source_line: number }> };
      expect(list.rows.map((r) => r.source_line)).toEqual([3]);
      const e = (await (await app.app.request(`/api/findings/${list.rows[0]?.finding_id}`)).json()) as { events: { cloudtrail: { rows: Array<{ event_id: string }> } }; raw: Array<{ text: string | null; note: string | null }> };
      expect(e.events.cloudtrail.rows.map((r) => r.event_id)).toEqual(['ev3']);
      expect(e.raw).toHaveLength(1);
      expect([JSON.parse(e.raw[0]?.text as string), e.raw[0]?.note]).toEqual([rec(3), null]);
    } finally {
      app.close();
    }
  }, 120_000);
});
