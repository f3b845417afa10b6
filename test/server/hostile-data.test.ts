/**
 * A planted log value reaches the server's own output and its SQL text
 * (issue 15): a NUL and terminal escapes in a bucket name must neither stop
 * posture (over HTTP or not) nor reach the operator's terminal raw when an
 * internal error quotes them.
 */
import { readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../../ingest/ingest.js';
import { createApp } from '../../server/app.js';
import { tempDir } from '../helpers/dataset.js';

const EVIL = 'evil\u001b]0;pwned\u0007\u001b[2J\u0000';
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

let tmp: { dir: string; cleanup: () => void };
let data: string;
beforeAll(async () => {
  tmp = tempDir();
  data = join(tmp.dir, 'data-\u001bc');
  const record = {
    eventVersion: '1.09', eventTime: '2025-03-10T08:00:00Z', eventSource: 's3.amazonaws.com', eventName: 'PutBucketVersioning', awsRegion: 'us-east-1',
    sourceIPAddress: '203.0.113.9', userAgent: 'aws-cli', userIdentity: { type: 'IAMUser', principalId: 'AIDA', arn: 'arn:aws:iam::111122223333:user/alice', accountId: '111122223333' },
    requestParameters: { bucketName: EVIL, VersioningConfiguration: { Status: 'Suspended' } }, responseElements: null, requestID: 'R1', eventID: 'E1',
    readOnly: false, eventType: 'AwsApiCall', managementEvent: true, eventCategory: 'Management', recipientAccountId: '111122223333',
  };
  const file = join(tmp.dir, 'trail.ndjson');
  writeFileSync(file, JSON.stringify(record) + '\n');
  const s = await ingest([file], { data, format: 'auto', force: false, strict: false });
  expect([s.rows, s.rejected]).toEqual([1, 0]);
});
afterAll(() => tmp.cleanup());

describe('a bucket name holding a NUL and terminal escapes', () => {
  it('is a bucket like any other in posture, with its exposure window counted', async () => {
    const logged: string[] = [];
    const open = await createApp({ data, log: (l) => logged.push(l) });
    try {
      const r = await open.app.request(`/api/posture?at=2025-03-11T00:00:00Z`);
      expect(r.status).toBe(200);
      const j = (await r.json()) as { rows: Array<{ bucket: string; setting: string; value: string }> };
      expect(j.rows.filter((x) => x.setting === 'versioning').map((x) => [x.bucket, x.value])).toEqual([[EVIL, 'Suspended']]);
      expect(logged).toEqual([]);
    } finally {
      await open.close();
    }
  });

  it("a dataset error that quotes it is logged escaped, one line per line, and the client learns nothing of it", async () => {
    const logged: string[] = [];
    const open = await createApp({ data, log: (l) => logged.push(l) });
    // Take the Parquet file away under the running server (the dataset's folder name holds an escape): the next
    // query fails inside DuckDB, and no damaged file is there to name (a damaged one is a 400 naming it: below).
    const dir = join(data, 'cloudtrail');
    const part = readdirSync(dir, { recursive: true }).map(String).find((f) => f.endsWith('.parquet')) as string;
    try {
      renameSync(join(dir, part), join(tmp.dir, 'moved-away'));
      const r = await open.app.request(`/api/posture?at=2025-03-11T00:00:00Z`);
      // A damaged file is the dataset's state, not a fault of the server's: 503 (try again once it is fixed), naming no path.
      expect(r.status).toBe(503);
      expect(await r.json()).toEqual({ ok: false, error: 'the dataset cannot be read now: a file of it changed or was damaged under the server (the server log names it)', status: 503 });
      expect(logged).toHaveLength(1);
      expect(logged[0]).toMatch(/^error 503 on GET \/api\/posture: /);
      expect(logged[0]).toContain('data-\\u001bc');
      for (const line of (logged[0] as string).split('\n')) expect(line).not.toMatch(RAW);
    } finally {
      // Back where the manifest names it.
      renameSync(join(tmp.dir, 'moved-away'), join(dir, part));
      await open.close();
    }
  });

  it('a damaged Parquet file is a 503 naming it (the escape JSON-encoded), not an internal error, and its log line is escaped', async () => {
    const logged: string[] = [];
    const open = await createApp({ data, log: (l) => logged.push(l) });
    try {
      const dir = join(data, 'cloudtrail');
      const part = readdirSync(dir, { recursive: true }).map(String).find((f) => f.endsWith('.parquet')) as string;
      writeFileSync(join(dir, part), 'not parquet');
      const r = await open.app.request(`/api/posture?at=2025-03-11T00:00:00Z`);
      // The dataset's state, not the request's fault: 503 (server/errors.ts), the file named.
      expect(r.status).toBe(503);
      const text = await r.text();
      expect(text).not.toMatch(RAW);
      expect((JSON.parse(text) as { error: string }).error).toContain(`${join(dir, part)}: cannot read this Parquet file`);
      expect(logged).toHaveLength(1);
      for (const line of (logged[0] as string).split('\n')) expect(line).not.toMatch(RAW);
    } finally {
      await open.close();
    }
  });
});
