import { UsageError } from '../../common/errors.js';
import { publish } from '../../ingest/publish.js';
import { s3Client } from '../../ingest/s3.js';
import type { Command } from '../command.js';
import { formatCount } from '../progress.js';
import { DEFAULT_DATA, s3Flags, s3ReachFlags } from './ingest.js';

export const publishCommand: Command = {
  name: 'publish',
  summary: 'upload the dataset to S3 for Athena',
  help: `Usage: s3sift publish [--data DIR] s3://BUCKET/PREFIX [--endpoint-url U] [--region R] [--profile P]

Upload the dataset's Parquet files to S3 in the layout 's3sift athena ddl'
expects (PREFIX/access_log/date=.../*.parquet, PREFIX/cloudtrail/...). Files
already there with the same size are left alone, so a re-run uploads only
what is new; large files go up in parts. Files under PREFIX's table folders
that the dataset no longer has (rows a later ingest replaced) are deleted,
so Athena never counts a row twice.

Options:
  --data DIR        dataset folder (default ${DEFAULT_DATA})
  --endpoint-url U  any S3-compatible endpoint (path-style)
  --region R, --profile P   AWS region and profile (default: the standard chain)
  -h, --help        show this help`,
  options: {
    data: { type: 'string', default: DEFAULT_DATA },
    ...s3ReachFlags,
  },
  async run(values, positionals, io) {
    const [uri, ...rest] = positionals;
    if (!uri || rest.length || !uri.startsWith('s3://')) throw new UsageError('publish takes one s3://BUCKET/PREFIX');
    const client = s3Client(s3Flags(values, io));
    try {
      const s = await publish(values.data as string, uri, client, (k) => io.stderr.write(`uploaded ${k}\n`));
      io.stdout.write(`published ${values.data as string} to ${uri}: ${formatCount(s.uploaded.length)} file(s) uploaded (${(s.bytes / 1e6).toFixed(1)} MB), ${formatCount(s.unchanged)} already there, ${formatCount(s.deleted.length)} stale file(s) deleted\n`);
    } finally {
      client.destroy();
    }
    return 0;
  },
};
