/**
 * Access-log lines for tests that compare two ways of reading them: every
 * line of the repository's fixtures and samples, and lines made to break a
 * splitter.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { CONFORMANCE, SAMPLES } from './dataset.js';

/** Every access-log line of the repository's fixtures and samples (plain or gzipped). */
export function fixtureLines(): string[] {
  const lines: string[] = [];
  const cases = JSON.parse(readFileSync(new URL('logstash/access-log-cases.json', CONFORMANCE), 'utf8')) as { cases: { line: string }[] };
  for (const c of cases.cases) lines.push(c.line);
  lines.push(...readFileSync(new URL('aws-docs/access-log-example.log', CONFORMANCE), 'utf8').split('\n'));
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else {
        const raw = readFileSync(path);
        lines.push(...(name.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8').split('\n'));
      }
    }
  };
  walk(new URL('access-logs', SAMPLES).pathname);
  return lines;
}

const BASE = [
  '79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be', 'amzn-s3-demo-bucket', '[06/Feb/2019:00:00:38 +0000]',
  '192.0.2.3', 'arn:aws:iam::123456789012:user/alice', '3E57427F3EXAMPLE', 'REST.GET.OBJECT', 'photos/cat.jpg',
  '"GET /amzn-s3-demo-bucket/photos/cat.jpg?X-Amz-Expires=300 HTTP/1.1"', '200', '-', '1024', '2048', '70', '10', '"-"',
  '"S3Console/0.4"', '-', 'AbC=', 'SigV4', 'ECDHE-RSA-AES128-GCM-SHA256', 'AuthHeader', 'amzn-s3-demo-bucket.s3.us-west-1.amazonaws.com',
  'TLSv1.2', '-', 'Yes', 'us-east-1',
];
export const line = (over: Record<number, string>, count = 27, sep = ' '): string => BASE.map((f, i) => over[i] ?? f).slice(0, count).join(sep);

/** Lines made to break a splitter: quotes, spaces, control bytes, lengths, field counts. */
export function hostileLines(): string[] {
  return [
    line({}),
    line({}, 18), line({}, 19), line({}, 24), line({}, 25), line({}, 26),
    line({}) + ' newfield1 - x', line({}) + ' -', line({}) + ' ' + Array.from({ length: 40 }, (_, i) => `f${i}`).join(' '),
    line({}, 27, '  '), ' ' + line({}), line({}) + '   ', line({}) + '\r', line({}) + '\t', line({}) + ' \r',
    line({ 7: 'key\twith\ttabs' }), line({ 7: 'a\rb' }), line({ 7: 'a\x01b' }), line({ 7: 'a\x00b' }), line({ 16: '"agent\twith tab"' }),
    line({ 8: '"GET /a"b" HTTP/1.1"' }), line({ 8: '"GET /a" b HTTP/1.1"' }), line({ 15: '"ref " "x"' }), line({ 16: '"ag"ent" x"' }),
    line({ 16: '"a" "b" SigV4"' }), line({ 8: '""' }), line({ 8: '"-"' }), line({ 8: '-' }), line({ 15: '""' }), line({ 16: '"-"' }),
    line({ 7: 'key with spaces' }), line({ 7: '-' }), line({ 7: '--' }), line({ 7: '"' }), line({ 7: '\\N' }), line({ 7: 'NULL' }),
    line({ 9: '-', 11: '-', 12: '-', 13: '-', 14: '-' }), line({ 9: '007', 11: '0000000000000001' }), line({ 11: '9007199254740991' }),
    line({ 13: '2147483647' }), line({ 25: '-' }), line({ 25: 'Yes' }), line({ 0: '-', 1: '-', 3: '-', 4: '-', 5: '-', 6: '-' }),
    line({ 2: '[29/Feb/2024:23:59:60 -1130]' }), line({ 2: '[01/Jan/1970:00:00:00 +0000]' }),
    line({ 8: '"get /lower HTTP/1.1"' }), line({ 8: '"GET"' }), line({ 8: '"GET  /two-spaces HTTP/1.1"' }),
    line({ 8: '"PUT /k?x-amz-expires=12345678901 HTTP/1.1"' }), line({ 8: '"PUT /k?a=1&X-AMZ-EXPIRES=604800&b HTTP/1.1"' }),
    line({ 7: 'ключ/日本語/😀', 16: '"Mozilla/5.0 (ü)"' }), line({ 7: 'k\uFFFDk' }), line({ 7: 'x'.repeat(100_000) }),
    line({ 16: `"${'a "b" '.repeat(500)}"` }), line({ 7: 'a;b,c|d' }), line({ 17: '3HL4kqtJvjVBH40Nrjfkd' }),
    '          ', '', '\t', 'garbage', line({}, 17), line({ 9: 'abc' }), line({ 25: 'No' }), line({ 2: '[bad time]' }),
  ];
}
