import { UsageError } from '../../common/errors.js';
import { defineCommand, EXIT } from '../command.js';
import { dataFlag } from '../common-flags.js';
import { choice, text, time } from '../flags.js';
import { stdoutFor } from '../terminal-io.js';

export const postureCommand = defineCommand({
  name: 'posture',
  summary: "each bucket's security settings at a time, who changed them, and exposure windows",
  usage: '[options]',
  description: `
Reconstruct each bucket's security settings from the successful CloudTrail
management calls that set them: versioning, MFA Delete, default encryption,
bucket policy (public or not; whether it denies uploads without
x-amz-server-side-encryption or with another algorithm; whether it denies
plain HTTP; whether it restricts to a VPC endpoint; other accounts it lets
in), ACL (public grants, log delivery group), Block Public Access, server
access logging (and whether it logs into the bucket itself), lifecycle
expiration, replication, Object Ownership. For each: its value at T, when and
by whom it was set. A setting no call in the logs has set is "unknown", never
a guess at AWS's default. Policies are judged by evaluating requests against
their statements (Principal, Action, Resource, Condition), not by matching
text.

Exposure windows: the periods a bucket was public, unversioned, without MFA
Delete, without a policy that enforces encryption, or without access logging,
with the number of requests (access log and CloudTrail, each request once)
that fell in each, and the change that closed it.

A successful DeleteBucket ends the bucket's life: it shows as deleted (when,
by whom, from where) with its settings as they were then, and every window
still open closes at the delete. A later CreateBucket of the name begins a
new life with every setting unknown again (noting it when the account
differs). Calls on the name between the two are listed, not applied.`,
  flags: {
    data: dataFlag,
    bucket: text({ value: 'B', help: 'one bucket (default: every bucket the logs show set, created or deleted)' }),
    at: time({ help: 'the time asked about (ISO 8601; default now): later calls are not considered' }),
    format: choice({ choices: ['table', 'json'], default: 'table', value: 'F', help: 'table or json' }),
  },
  examples: ['s3sift posture', 's3sift posture --bucket prod-data --at 2025-03-11T12:00:00Z', "s3sift posture --format json | jq '.buckets[].windows'"],
  async run({ flags: f, positionals }, io) {
    if (positionals.length) throw new UsageError(`posture takes no arguments (got ${positionals.join(' ')}); use --bucket`);
    const at = f.at ?? new Date();
    const [{ openDataset, datasetReadError }, { posture }, { renderPosture }] = await Promise.all([import('../../query/dataset.js'), import('../../query/posture.js'), import('../posture-report.js')]);
    const ds = await openDataset(f.data);
    try {
      // A Parquet file that cannot be read is named, not an internal error.
      const buckets = await posture(ds, { bucket: f.bucket, at }).catch(async (err: unknown) => {
        throw (await datasetReadError(ds, err)) ?? err;
      });
      stdoutFor(io, f.format).write(f.format === 'json' ? JSON.stringify({ at: at.toISOString(), buckets }, null, 1) + '\n' : renderPosture(buckets, at));
    } finally {
      ds.close();
    }
    return EXIT.ok;
  },
});
