/**
 * Seeded generator of realistic S3 server access log lines, for benchmarks and
 * large-input tests. Same seed, same lines. It mixes in the quirks real logs
 * have (short records, IPv6, lifecycle records, raw quotes in the request-URI,
 * user agents with spaces and non-ASCII, other time zones, CRLF) at low rates.
 *
 *   node dist/scripts/gen-access-logs.js --lines 300000 --seed 7 > big.log
 */
import { createWriteStream } from 'node:fs';
import { scriptArgs } from './args.js';

/** Small, fast, seedable PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const OWNER = '79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be';
const BUCKETS = ['prod-data', 'prod-backups', 'web-assets', 'finance-reports', 'ml-datasets'];
const REQUESTERS = [
  OWNER,
  'arn:aws:iam::111122223333:user/alice',
  'arn:aws:iam::111122223333:user/bob',
  'arn:aws:sts::111122223333:assumed-role/etl-role/i-0abc123def456',
  'arn:aws:iam::444455556666:user/partner',
  'arn:aws:iam::111122223333:root',
  '-',
];
const USER_AGENTS = [
  'aws-sdk-java/1.12.470 Linux/5.10.178-162.673.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/25.372-b07 java/1.8.0_372 vendor/Oracle_Corporation cfg/retry-mode/standard',
  'aws-cli/2.13.0 Python/3.11.4 Linux/6.2.0 exe/x86_64.ubuntu.22 prompt/off command/s3.cp',
  'Boto3/1.28.1 md/Botocore#1.31.1 ua/2.0 os/linux#5.15.0 md/arch#x86_64 lang/python#3.10.12 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.31.1',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/115.0.0.0 Safari/537.36',
  'S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.488 Linux/5.10.184-154.731.amzn2int.x86_64',
  'curl/8.1.2',
  'Téléchargeur/1.0 (édition spéciale; ü)',
];
const OPS: Array<[string, string, number]> = [
  // operation, method, weight
  ['REST.GET.OBJECT', 'GET', 50],
  ['REST.PUT.OBJECT', 'PUT', 15],
  ['REST.HEAD.OBJECT', 'HEAD', 12],
  ['REST.GET.BUCKET', 'GET', 8],
  ['REST.DELETE.OBJECT', 'DELETE', 4],
  ['REST.COPY.OBJECT', 'PUT', 2],
  ['REST.POST.MULTI_OBJECT_DELETE', 'POST', 1],
  ['REST.GET.ACL', 'GET', 2],
  ['REST.PUT.ACL', 'PUT', 1],
  ['REST.GET.BUCKETPOLICY', 'GET', 2],
  ['REST.GET.VERSIONING', 'GET', 2],
  ['S3.EXPIRE.OBJECT', '', 1],
];
const TOTAL_WEIGHT = OPS.reduce((s, o) => s + o[2], 0);

export interface GenOptions {
  lines: number;
  seed?: number;
  /** Epoch ms of the first record; records advance through `days` days. */
  start?: number;
  days?: number;
  /** Rate of quirky lines (0..1), default 0.02. */
  quirks?: number;
}

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)] as T;
}

function hex(r: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += '0123456789ABCDEF'[Math.floor(r() * 16)];
  return s;
}

function b64(r: () => number, n: number): string {
  const a = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  let s = '';
  for (let i = 0; i < n; i++) s += a[Math.floor(r() * 64)];
  return s;
}

function two(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

function logTime(ms: number, tzMinutes: number): string {
  const d = new Date(ms + tzMinutes * 60000);
  const sign = tzMinutes < 0 ? '-' : '+';
  const tz = Math.abs(tzMinutes);
  return `[${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(
    d.getUTCMinutes(),
  )}:${two(d.getUTCSeconds())} ${sign}${two(Math.floor(tz / 60))}${two(tz % 60)}]`;
}

/** Yields `lines` access-log lines (without line ends, except CRLF quirks keep their `\r`). */
export function* generateAccessLogLines(opts: GenOptions): Generator<string> {
  const r = rng(opts.seed ?? 1);
  const start = opts.start ?? Date.UTC(2025, 2, 10);
  const span = (opts.days ?? 7) * 86400000;
  const quirks = opts.quirks ?? 0.02;
  for (let i = 0; i < opts.lines; i++) {
    const t = start + Math.floor((i / opts.lines) * span);
    let w = r() * TOTAL_WEIGHT;
    let op = OPS[0] as [string, string, number];
    for (const o of OPS) {
      w -= o[2];
      if (w <= 0) {
        op = o;
        break;
      }
    }
    const bucket = pick(r, BUCKETS);
    const lifecycle = op[0] === 'S3.EXPIRE.OBJECT';
    const key = `data/${2020 + Math.floor(r() * 5)}/part-${Math.floor(r() * 100000)}.parquet`;
    const q = r() < quirks ? Math.floor(r() * 8) : -1;
    const ip = lifecycle ? '-' : q === 0 ? `2001:db8:${hex(r, 4)}::${hex(r, 2)}` : `${10 + Math.floor(r() * 200)}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}`;
    const requester = lifecycle ? 'AmazonS3' : q === 1 ? 'svc:replication.s3.amazonaws.com' : pick(r, REQUESTERS);
    const presigned = !lifecycle && r() < 0.05;
    let uri: string;
    if (lifecycle) uri = '-';
    else if (presigned)
      uri = `"${op[1]} /${bucket}/${key}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20250310%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20250310T000000Z&X-Amz-Expires=${pick(r, [300, 3600, 86400, 604800])}&X-Amz-SignedHeaders=host&X-Amz-Signature=${hex(r, 64).toLowerCase()} HTTP/1.1"`;
    else if (q === 2) uri = `"${op[1]} /${bucket}/${key}?q="quoted" value HTTP/1.1"`;
    else uri = `"${op[1]} /${bucket}/${key} HTTP/1.1"`;
    const failed = r() < 0.03;
    const status = lifecycle ? '-' : failed ? '403' : op[1] === 'DELETE' ? '204' : '200';
    const err = failed ? 'AccessDenied' : '-';
    const size = Math.floor(r() * 5_000_000);
    const sent = op[1] === 'GET' && !failed ? String(size) : failed ? '243' : '-';
    const objSize = lifecycle || op[1] !== 'PUT' ? (op[1] === 'GET' ? String(size) : '-') : String(size);
    const plain = !lifecycle && r() < 0.02;
    const tls = lifecycle || plain ? '-' : q === 3 ? 'TLSv1.1' : r() < 0.03 ? 'TLSV1' : r() < 0.5 ? 'TLSv1.3' : 'TLSv1.2';
    const cipher = tls === '-' ? '-' : tls === 'TLSv1.3' ? 'TLS_AES_128_GCM_SHA256' : 'ECDHE-RSA-AES128-GCM-SHA256';
    const sig = lifecycle ? '-' : r() < 0.02 ? 'SigV2' : 'SigV4';
    const auth = lifecycle ? '-' : presigned ? 'QueryString' : 'AuthHeader';
    const ua = lifecycle ? '-' : `"${pick(r, USER_AGENTS)}"`;
    const ref = q === 4 ? '"https://example.com/a page (copy), «draft»"' : '"-"';
    const version = op[1] === 'DELETE' && r() < 0.3 ? b64(r, 32) : '-';
    const tz = q === 5 ? -300 : 0;
    const fields = [
      OWNER,
      bucket,
      logTime(t, tz),
      ip,
      requester,
      hex(r, 16),
      op[0],
      lifecycle || op[0] === 'REST.GET.BUCKET' ? '-' : key,
      uri,
      status,
      err,
      sent,
      objSize,
      String(1 + Math.floor(r() * 400)),
      lifecycle ? '-' : String(Math.floor(r() * 50)),
      lifecycle ? '"-"' : ref,
      lifecycle ? '"-"' : ua,
      version,
      b64(r, 76),
      sig,
      cipher,
      auth,
      lifecycle ? '-' : `${bucket}.s3.us-east-1.amazonaws.com`,
      tls,
      '-',
      lifecycle ? '-' : r() < 0.1 ? 'Yes' : '-',
      q === 6 ? 'us-west-2' : '-',
    ];
    // Older records end early; newer ones may carry fields this parser does not know.
    let line: string;
    if (q === 6) line = fields.slice(0, 18).join(' ');
    else if (q === 7) line = fields.slice(0, 24).join(' ') + ' ';
    else line = fields.join(' ');
    if (q === 5) line += '\r';
    yield line;
  }
}

const HELP = `Usage: npm run gen:access-logs -- [--lines N] [--seed S] [--days D] [--out FILE]

Write N generated S3 server access log lines (default 300000; stdout unless
--out), seeded (same seed, same lines), spread over D days (default 7) from
2025-03-10, with 2% quirky lines (quoted dashes, raw quotes in request-URIs,
IPv6, other time zones, 18-field records, CRLF, TLSV1.2) the parser must read.`;

async function main(): Promise<void> {
  const values = scriptArgs(HELP, {
    lines: { type: 'string', default: '300000' },
    seed: { type: 'string', default: '1' },
    days: { type: 'string', default: '7' },
    out: { type: 'string' },
  }, ['lines', 'seed', 'days']);
  if (!values) return;
  const out = values.out ? createWriteStream(values.out) : process.stdout;
  let buf = '';
  for (const line of generateAccessLogLines({ lines: Number(values.lines), seed: Number(values.seed), days: Number(values.days) })) {
    buf += line + '\n';
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await new Promise<void>((res) => out.once('drain', () => res()));
      buf = '';
    }
  }
  out.end(buf);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
