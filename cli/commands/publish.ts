import { UsageError } from '../../common/errors.js';
import { defineCommand, EXIT } from '../command.js';
import { dataFlag, s3Options, s3ReachFlags } from '../common-flags.js';
import { formatCount } from '../progress.js';

export const publishCommand = defineCommand({
  name: 'publish',
  summary: 'upload the dataset to S3 for Athena',
  usage: 's3://BUCKET/PREFIX [options]',
  description: `
Upload the dataset's Parquet files to S3 in the layout 's3sift athena ddl'
expects (PREFIX/access_log/date=.../*.parquet, PREFIX/cloudtrail/...). Files
already there with the same size are left alone, so a re-run uploads only
what is new; large files go up in parts. Files under PREFIX's table folders
that the dataset no longer has (rows a later ingest replaced) are deleted,
so Athena never counts a row twice. The IAM permissions it needs: docs/s3.md.`,
  flags: { data: dataFlag, ...s3ReachFlags },
  examples: ['s3sift publish s3://sec-data/s3sift', 's3sift publish s3://sec-data/s3sift --data ./s3sift-data --profile security'],
  async run({ flags: f, positionals }, io) {
    const [uri, ...rest] = positionals;
    if (!uri || rest.length || !uri.startsWith('s3://')) throw new UsageError('publish takes one s3://BUCKET/PREFIX');
    const [{ publish }, { s3Client }] = await Promise.all([import('../../ingest/publish.js'), import('../../ingest/s3.js')]);
    const client = s3Client(s3Options(f, io));
    try {
      const s = await publish(f.data, uri, client, (k) => io.stderr.write(`uploaded ${k}\n`));
      io.stdout.write(`published ${f.data} to ${uri}: ${formatCount(s.uploaded.length)} file(s) uploaded (${(s.bytes / 1e6).toFixed(1)} MB), ${formatCount(s.unchanged)} already there, ${formatCount(s.deleted.length)} stale file(s) deleted\n`);
    } finally {
      client.destroy();
    }
    return EXIT.ok;
  },
});
