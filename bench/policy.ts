/**
 * `npm run bench` (policy part): s3sift's policy evaluator on policies built
 * to be slow (IAM wildcards that a backtracking regular expression takes
 * minutes on, bulk statements and condition values), next to a plain
 * policy of the same size, in the same process and run. The evaluator
 * matches wildcards without backtracking and spends a fixed work budget per
 * policy: past it, the policy is reported as too complex, not evaluated for
 * longer. Writes bench/out/policy.md.
 *
 *   node dist/bench/policy.js --runs 5
 */
import { parseArgs } from 'node:util';
import { analyzePolicy, parsePolicy, type Policy } from '../query/policy.js';
import { median, ratio, saveSection } from './harness.js';

const BUCKET = 'prod-data';
const values = (n: number, len: number): string[] => Array.from({ length: n }, (_, i) => `${String(i).padStart(4, '0')}${'a'.repeat(len - 4)}`);

/** The review's planted policy: a StringNotLike pattern of 13 `*` against 30- and 40-character values. */
const stars = (len: number): unknown => ({
  Statement: [
    { Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: '*', Condition: { StringNotLike: { 'aws:UserAgent': `${'*a'.repeat(13)}*b`, 'aws:Referer': values(6, len) } } },
    { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${BUCKET}/*`, Condition: { StringLike: { 'aws:Referer': values(6, len).map((v) => `*${v.split('').join('*')}*`) } } },
  ],
});
/** Bulk: many statements, each with wildcards and condition values (a policy over S3's 20 KB limit is refused before this). */
const bulk = (): unknown => ({
  Statement: Array.from({ length: 60 }, (_, i) => ({
    Effect: i % 2 ? 'Allow' : 'Deny', Principal: '*', Action: ['s3:Get*', `s3:Get${'?'.repeat(i % 20)}*`], Resource: `arn:aws:s3:::${BUCKET}/${'*?'.repeat(20)}${i}`,
    Condition: { StringLike: { 'aws:UserAgent': Array.from({ length: 12 }, (_, j) => `*${j}*${i}*`) } },
  })),
});
/** The reference: a plain policy of as many statements, exact values, no wildcards to speak of. */
const plain = (n: number): unknown => ({
  Statement: Array.from({ length: n }, (_, i) => ({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::1111222233${String(i % 100).padStart(2, '0')}:root` }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${BUCKET}/reports/${i}.csv` })),
});

function time(doc: unknown): { seconds: number; tooComplex: boolean } {
  const policy = parsePolicy(JSON.stringify(doc)) as Policy;
  const t0 = performance.now();
  const a = analyzePolicy(policy, BUCKET, '111122223333');
  return { seconds: (performance.now() - t0) / 1000, tooComplex: a.tooComplex };
}

const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const runs = Number(args.runs);
const cases: Array<[string, () => unknown, () => unknown]> = [
  ["13 '*' StringNotLike, 30-character values", () => stars(30), () => plain(2)],
  ["13 '*' StringNotLike, 40-character values", () => stars(40), () => plain(2)],
  ['60 statements of wildcards and condition values', bulk, () => plain(60)],
];
const figures = [];
const notes = [];
for (const [label, hostile, reference] of cases) {
  const us: number[] = [];
  const ref: number[] = [];
  let tooComplex = false;
  for (let i = 0; i < runs; i++) {
    ref.push(time(reference()).seconds);
    const h = time(hostile());
    us.push(h.seconds);
    tooComplex = h.tooComplex;
  }
  const [u, r] = [median(us), median(ref)];
  process.stderr.write(`${label}: ${u.toFixed(3)} s, plain policy ${r.toFixed(3)} s${tooComplex ? ' (too complex: reported so)' : ''}\n`);
  figures.push({ figure: `${label}, one analysis`, s3sift: `${u.toFixed(3)} s`, reference: `${r.toFixed(3)} s`, ratio: ratio(u, r, 0), target: '≤ 1 s (the work budget)' });
  if (tooComplex) notes.push(`${label}: past the work budget, reported as too complex to evaluate.`);
}
saveSection('policy', {
  title: 'Policy evaluator benchmark',
  about: 'Policies built to make a wildcard matcher backtrack, analysed as `detect` and `posture` do (analyzePolicy). Reference: a plain policy of as many statements, in the same process and run.',
  runs,
  figures,
  notes,
});
