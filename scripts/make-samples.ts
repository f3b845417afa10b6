/**
 * Writes `samples/access-logs/` and `samples/cloudtrail/`: a small,
 * deliberate story in S3 server access logs and CloudTrail, one scene per
 * security topic, spread over four buckets and three days. Every record is written out below on purpose (no randomness),
 * so a finding in the samples can be traced to its scene. Re-run it only to
 * change the story: `node dist/scripts/make-samples.js`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { writeCloudTrailSamples } from './samples-cloudtrail.js';

const OWNER = 'a3f1c2d4e5b6978812ab34cd56ef7890a1b2c3d4e5f60718293a4b5c6d7e8f90';
const ACCOUNT = '111122223333';
const ALICE = `arn:aws:iam::${ACCOUNT}:user/alice`;
const ETL = `arn:aws:sts::${ACCOUNT}:assumed-role/etl-role/i-0a1b2c3d4e5f67890`;
const ROOT = `arn:aws:iam::${ACCOUNT}:root`;
const PARTNER = 'arn:aws:iam::444455556666:user/partner-sync';
const INTRUDER = `arn:aws:iam::${ACCOUNT}:user/ci-deployer`;
const SDK = 'aws-sdk-java/1.12.470 Linux/5.10.178-162.673.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/25.372-b07 java/1.8.0_372 vendor/Oracle_Corporation cfg/retry-mode/standard';
const CLI = 'aws-cli/2.13.0 Python/3.11.4 Linux/6.2.0 exe/x86_64.ubuntu.22 prompt/off command/s3.cp';
const BROWSER = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/115.0.0.0 Safari/537.36';
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

let seq = 0;
function rid(): string {
  seq++;
  return (0x3e57427f3e000000 + seq * 7919).toString(16).toUpperCase().slice(-16);
}
function hostId(): string {
  const base = 's9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi3';
  return base + String(1000 + seq).padStart(4, '0') + '=';
}
const p2 = (n: number): string => String(n).padStart(2, '0');
function ts(t: Date, tz = 0): string {
  const d = new Date(t.getTime() + tz * 60000);
  const sign = tz < 0 ? '-' : '+';
  return `[${p2(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} ${sign}${p2(Math.floor(Math.abs(tz) / 60))}${p2(Math.abs(tz) % 60)}]`;
}

export interface Req {
  at: string; // ISO time
  bucket: string;
  ip?: string;
  requester?: string;
  op: string;
  key?: string;
  uri?: string; // request line without quotes
  status?: number | '-';
  error?: string;
  sent?: number;
  size?: number;
  ua?: string;
  referrer?: string;
  version?: string;
  sig?: string;
  tls?: string; // '-' for plain HTTP
  auth?: string;
  acl?: 'Yes' | '-';
  requestId?: string;
  tz?: number;
}

function line(r: Req): string {
  const method = r.op.split('.')[1] ?? 'GET';
  const key = r.key ?? '-';
  const uri = r.uri ?? (r.op.startsWith('REST.') ? `${method} /${r.bucket}${key === '-' ? '' : '/' + key} HTTP/1.1` : '-');
  const tls = r.tls ?? 'TLSv1.2';
  const internal = r.requester === 'AmazonS3';
  return [
    OWNER,
    r.bucket,
    ts(new Date(r.at), r.tz),
    internal ? '-' : (r.ip ?? '203.0.113.10'),
    r.requester ?? '-',
    r.requestId,
    r.op,
    key,
    uri === '-' ? '-' : `"${uri}"`,
    r.status ?? (internal ? '-' : 200),
    r.error ?? '-',
    r.sent ?? '-',
    r.size ?? '-',
    internal ? '-' : 12 + (seq % 40),
    internal ? '-' : 3 + (seq % 9),
    `"${r.referrer ?? '-'}"`,
    internal ? '"-"' : `"${r.ua ?? SDK}"`,
    r.version ?? '-',
    hostId(),
    internal ? '-' : (r.sig ?? (r.requester ? 'SigV4' : '-')),
    internal || tls === '-' ? '-' : tls === 'TLSv1.3' ? 'TLS_AES_128_GCM_SHA256' : 'ECDHE-RSA-AES128-GCM-SHA256',
    internal ? '-' : (r.auth ?? (r.requester ? 'AuthHeader' : '-')),
    internal ? '-' : `${r.bucket}.s3.us-east-1.amazonaws.com`,
    internal ? '-' : tls,
    '-',
    r.acl ?? '-',
  ].join(' ');
}

function presigned(bucket: string, key: string, expires: number, sig: string, method = 'GET'): string {
  return `${method} /${bucket}/${key}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20250310%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20250310T090000Z&X-Amz-Expires=${expires}&X-Amz-SignedHeaders=host&X-Amz-Signature=${sig} HTTP/1.1`;
}

const files = new Map<string, string[]>();
/** Every request of the story, in order, with its request ID (CloudTrail logs some of them too). */
const story: Req[] = [];
function add(file: string, ...reqs: Req[]): void {
  const list = files.get(file) ?? [];
  for (const r of reqs) {
    r.requestId ??= rid();
    list.push(line(r));
    story.push(r);
  }
  files.set(file, list);
}
function at(day: number, h: number, m: number, s = 0): string {
  return new Date(Date.UTC(2025, 2, 10 + day, h, m, s)).toISOString();
}

// Day 1, prod-data: the ordinary day: the ETL role reads and writes data files.
for (let i = 0; i < 60; i++) {
  const h = 1 + Math.floor(i / 4);
  const m = (i * 7) % 60;
  const key = `sales/2025/03/part-${String(i).padStart(4, '0')}.parquet`;
  add('prod-data/2025-03-10.log', {
    at: at(0, h, m), bucket: 'prod-data', ip: '10.0.12.34', requester: ETL, op: i % 3 === 0 ? 'REST.PUT.OBJECT' : 'REST.GET.OBJECT',
    key, sent: i % 3 === 0 ? undefined : 1_048_576 + i * 1000, size: 1_048_576 + i * 1000, tls: 'TLSv1.3',
  });
}
// Alice browses in the console.
for (let i = 0; i < 20; i++) {
  add('prod-data/2025-03-10.log', {
    at: at(0, 9, 2 * i, 5), bucket: 'prod-data', ip: '198.51.100.7', requester: ALICE, op: i % 5 === 0 ? 'REST.GET.BUCKET' : 'REST.HEAD.OBJECT',
    key: i % 5 === 0 ? undefined : `reports/q${1 + (i % 4)}.csv`, ua: 'S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.488 Linux/5.10.184-154.731.amzn2int.x86_64',
    sent: 245, referrer: 'https://s3.console.aws.amazon.com/s3/buckets/prod-data?region=us-east-1&tab=objects',
  });
}
// Encryption in transit: a legacy job on plain HTTP, an old client on TLS 1.0, SigV2.
add('prod-data/2025-03-10.log',
  { at: at(0, 10, 0), bucket: 'prod-data', ip: '192.0.2.44', requester: ETL, op: 'REST.GET.OBJECT', key: 'legacy/export.csv', sent: 52311, size: 52311, tls: '-', ua: 'legacy-exporter/0.9 (curl 7.29.0)' },
  { at: at(0, 10, 5), bucket: 'prod-data', ip: '192.0.2.45', requester: ETL, op: 'REST.GET.OBJECT', key: 'legacy/export.csv', sent: 52311, size: 52311, tls: 'TLSV1', ua: 'Java/1.6.0_45' },
  { at: at(0, 10, 9), bucket: 'prod-data', ip: '192.0.2.45', requester: ETL, op: 'REST.PUT.OBJECT', key: 'legacy/import.csv', size: 8812, tls: 'TLSv1.1', sig: 'SigV2', ua: 'boto/2.49.0 Python/2.7.18' },
);
// Pre-signed URLs: one for a week, shared: used from four addresses; one normal.
const leaked = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
['203.0.113.50', '198.18.0.23', '100.64.7.9', '203.0.113.77'].forEach((ip, i) =>
  add('prod-data/2025-03-10.log', {
    at: at(0, 14, 10 + i * 9), bucket: 'prod-data', ip, requester: ALICE, op: 'REST.GET.OBJECT', key: 'reports/payroll-2025-02.xlsx',
    uri: presigned('prod-data', 'reports/payroll-2025-02.xlsx', 604800, leaked), auth: 'QueryString', sent: 88211, size: 88211, ua: BROWSER,
  }),
);
add('prod-data/2025-03-10.log', {
  at: at(0, 15, 0), bucket: 'prod-data', ip: '198.51.100.7', requester: ALICE, op: 'REST.PUT.OBJECT', key: 'uploads/form.pdf',
  uri: presigned('prod-data', 'uploads/form.pdf', 3600, 'a'.repeat(64), 'PUT'), auth: 'QueryString', size: 30211, ua: BROWSER,
});

// Day 2, prod-data: an intruder with stolen keys: denied probing, then a mass delete of versions.
for (let i = 0; i < 14; i++) {
  add('prod-data/2025-03-11.log', {
    at: at(1, 2, 10, i * 3), bucket: 'prod-data', ip: '185.220.101.4', requester: INTRUDER, op: i % 2 ? 'REST.GET.BUCKETPOLICY' : 'REST.GET.ACL',
    status: 403, error: 'AccessDenied', sent: 243, ua: 'python-requests/2.31.0',
  });
}
for (let i = 0; i < 25; i++) {
  add('prod-data/2025-03-11.log', {
    at: at(1, 2, 30, i * 2), bucket: 'prod-data', ip: '185.220.101.4', requester: INTRUDER, op: 'REST.DELETE.OBJECT',
    key: `sales/2025/03/part-${String(i).padStart(4, '0')}.parquet`, status: 204, version: `3HL4kqtJvjVBH40Nrjfkd${String(i).padStart(2, '0')}`,
    ua: 'python-requests/2.31.0', uri: `DELETE /prod-data/sales/2025/03/part-${String(i).padStart(4, '0')}.parquet?versionId=3HL4kqtJvjVBH40Nrjfkd${String(i).padStart(2, '0')} HTTP/1.1`,
  });
}
add('prod-data/2025-03-11.log', {
  at: at(1, 2, 45), bucket: 'prod-data', ip: '185.220.101.4', requester: INTRUDER, op: 'REST.POST.MULTI_OBJECT_DELETE', uri: 'POST /prod-data?delete HTTP/1.1',
  ua: 'python-requests/2.31.0', sent: 1432,
});
// The root user signs in to clean up (root activity), from IPv6.
add('prod-data/2025-03-11.log',
  { at: at(1, 8, 0), bucket: 'prod-data', ip: '2001:db8:85a3::8a2e:370:7334', requester: ROOT, op: 'REST.GET.VERSIONING', uri: 'GET /prod-data?versioning HTTP/1.1', sent: 113, ua: 'S3Console/0.4' },
  { at: at(1, 8, 1), bucket: 'prod-data', ip: '2001:db8:85a3::8a2e:370:7334', requester: ROOT, op: 'REST.PUT.VERSIONING', uri: 'PUT /prod-data?versioning HTTP/1.1', ua: 'S3Console/0.4' },
);
// Large egress: the partner account pulls a lot, cross-account.
for (let i = 0; i < 12; i++) {
  add('prod-data/2025-03-11.log', {
    at: at(1, 20, i * 4), bucket: 'prod-data', ip: '52.94.133.131', requester: PARTNER, op: 'REST.GET.OBJECT', key: `exports/full-dump-${i}.tar`,
    sent: 2_147_483_648, size: 2_147_483_648, ua: CLI,
  });
}

// web-assets: a public website bucket: anonymous reads, hotlinks with odd referrers and agents.
for (let i = 0; i < 40; i++) {
  add('web-assets/2025-03-10.log', {
    at: at(0, 6 + Math.floor(i / 5), (i * 11) % 60), bucket: 'web-assets', ip: `203.0.113.${100 + i}`, op: 'REST.GET.OBJECT',
    key: `img/banner-${i % 6}.png`, sent: 20480 + i, size: 20480 + i, ua: i % 4 === 0 ? 'Téléchargeur/1.0 (édition spéciale; ü)' : BROWSER,
    referrer: i % 3 === 0 ? 'https://www.example.com/shop?q=winter sale, 50% (today)' : 'https://www.example.com/', acl: 'Yes',
  });
}
// A request-URI with a raw quote (a scanner's probe), logged as received.
add('web-assets/2025-03-10.log', {
  at: at(0, 13, 37), bucket: 'web-assets', ip: '45.146.164.110', op: 'REST.GET.OBJECT', key: 'index.html',
  uri: 'GET /web-assets/index.html?q="><script>alert(1)</script> HTTP/1.1', status: 200, sent: 5120, size: 5120, ua: 'sqlmap/1.7.2#stable (https://sqlmap.org)',
});
// Lifecycle expirations run by S3 itself.
for (let i = 0; i < 10; i++) {
  add('web-assets/2025-03-11.log', { at: at(1, 0, 5 + i), bucket: 'web-assets', requester: 'AmazonS3', op: 'S3.EXPIRE.OBJECT', key: `tmp/cache-${i}.bin`, size: 1024 * i });
}
// Log delivery writes into the log bucket (the system "log delivery group").
for (let i = 0; i < 12; i++) {
  add('logs-archive/2025-03-12.log', {
    at: at(2, i * 2, 1), bucket: 'logs-archive', ip: '54.240.197.233', requester: 'svc:logging.s3.amazonaws.com', op: 'REST.PUT.OBJECT',
    key: `access/prod-data/2025-03-12-${p2(i * 2)}-01-00-1A2B3C4D5E6F${p2(i)}`, size: 4096 + i * 100, ua: 'aws-internal/3', acl: 'Yes',
  });
}
// An auditor in another time zone (-0500) lists the log bucket.
for (let i = 0; i < 8; i++) {
  add('logs-archive/2025-03-12.log', {
    at: at(2, 15, i), tz: -300, bucket: 'logs-archive', ip: '198.51.100.200', requester: ALICE, op: 'REST.GET.BUCKET', uri: 'GET /logs-archive?list-type=2&prefix=access%2F HTTP/1.1', sent: 3811,
  });
}

// Old records (2019 format, 18 fields) and a gzipped file.
const old = [
  `${OWNER} prod-backups [14/Mar/2019:09:10:11 +0000] 198.51.100.9 ${ALICE} 7ACC4BE89EXAMPLE REST.GET.OBJECT db/backup-2019-03-13.sql.gz "GET /prod-backups/db/backup-2019-03-13.sql.gz HTTP/1.1" 200 - 734003200 734003200 5321 41 "-" "aws-cli/1.16.120 Python/2.7.15" -`,
  `${OWNER} prod-backups [14/Mar/2019:09:12:40 +0000] 198.51.100.9 ${ALICE} 8BDD5CF90EXAMPLE REST.PUT.OBJECT db/backup-2019-03-14.sql.gz "PUT /prod-backups/db/backup-2019-03-14.sql.gz HTTP/1.1" 200 - - 736100352 9120 12 "-" "aws-cli/1.16.120 Python/2.7.15" -`,
];

const out = 'samples/access-logs';
for (const [file, lines] of files) {
  const path = join(out, file);
  mkdirSync(join(path, '..'), { recursive: true });
  if (file === 'web-assets/2025-03-11.log') writeFileSync(path + '.gz', gzipSync(lines.join('\n') + '\n'));
  else writeFileSync(path, lines.join('\n') + '\n');
}
mkdirSync(join(out, 'prod-backups'), { recursive: true });
writeFileSync(join(out, 'prod-backups', '2019-03-14.log'), old.join('\r\n') + '\r\n');
// A file with damage: a truncated line, a bad time and a bad status among good ones.
const good = files.get('prod-data/2025-03-10.log') ?? [];
writeFileSync(
  join(out, 'prod-data', '2025-03-10-damaged.log'),
  [
    good[0]?.replace('part-0000', 'part-9000').replace(/[0-9A-F]{16} REST/, 'D4A1A9E0C0FFEE01 REST'),
    '',
    good[1]?.slice(0, 180),
    good[2]?.replace('[10/Mar/2025:', '[10/Mxr/2025:').replace(/[0-9A-F]{16} REST/, 'D4A1A9E0C0FFEE02 REST'),
    good[3]?.replace(' 200 ', ' 2OO ').replace(/[0-9A-F]{16} REST/, 'D4A1A9E0C0FFEE03 REST'),
    '   ',
  ].join('\n') + '\n',
);
console.log(`wrote ${[...files.values()].reduce((n, l) => n + l.length, 0) + old.length + 6} lines under ${out}`);
console.log(writeCloudTrailSamples('samples/cloudtrail', story));
