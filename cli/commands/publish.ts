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
what is new; large files go up in parts. Files this dataset published to
PREFIX before and no longer has (rows a later ingest replaced) are deleted,
so Athena never counts a row twice: the dataset keeps what it published
where in _published.json. Nothing else under PREFIX is ever deleted: files
the dataset did not publish there are left alone and counted (the first
publish to a PREFIX deletes nothing). A dataset file or folder that cannot be
read stops publish before anything is uploaded or deleted; a failed upload
or delete is one line naming the object and S3's answer (exit 2). The IAM
permissions it needs: docs/s3.md.`,
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
      if (s.firstPublish) io.stderr.write(`note: first publish of this dataset to ${uri} (no record of an earlier one in ${f.data}/_published.json): nothing was deleted\n`);
      if (s.foreign.length) {
        io.stderr.write(`note: ${formatCount(s.foreign.length)} file(s) under ${uri} were not published from this dataset: left alone (first: ${s.foreign[0]}); if they hold rows this dataset also has, Athena counts them twice: remove them by hand\n`);
      }
    } finally {
      client.destroy();
    }
    return EXIT.ok;
  },
});
