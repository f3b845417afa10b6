/**
 * `npm run bench` (fourth part): load on `s3sift serve` over loopback with
 * autocannon, bounded in time: throughput and p50/p99 latency of
 * `/api/detections` and of a saved dashboard query over a generated dataset
 * of 1M events, at 32 concurrent connections. Writes bench/out/serve.md.
 *
 *   node dist/bench/serve.js --events 1000000 --seconds 10
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { serve } from '../server/serve.js';
import { generateDataset } from './dataset.js';
import { median, OUT, ratio, saveSection, type Figure } from './harness.js';

interface Load {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  requests: number;
}

async function load(url: string, seconds: number, connections: number): Promise<Load> {
  const r = await autocannon({ url, connections, duration: seconds, pipelining: 1 });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.timeouts, non2xx: r.non2xx, requests: r.requests.total };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { events: { type: 'string', default: '1000000' }, seconds: { type: 'string', default: '5' }, connections: { type: 'string', default: '32' }, runs: { type: 'string', default: '3' } } });
  const events = Number(values.events);
  const data = join(OUT, `detect-${events}`);
  await generateDataset(data, events);
  const s = await serve({ data, host: '127.0.0.1', port: 0 });
  const seconds = Number(values.seconds);
  const conns = Number(values.connections);
  const runs = Number(values.runs);
  const figures: Figure[] = [];
  try {
    const routes: Array<[string, string, string]> = [
      ['GET /api/detections', '/api/detections', '≥ 2,000 req/s, 0 errors'],
      ['GET /api/queries/top_principals (saved query)', '/api/queries/top_principals?since=2025-03-11T00:00:00Z&until=2025-03-14T00:00:00Z', 'p99 ≤ 100 ms, 0 errors'],
      ['GET /api/queries/tls_versions?bucket=prod-data (saved query)', '/api/queries/tls_versions?bucket=prod-data', 'p99 ≤ 100 ms, 0 errors'],
    ];
    // The first answer of a saved query is computed; later ones come from the cache until the dataset changes.
    const t0 = performance.now();
    const cold = await fetch(`${s.url}/api/queries/top_principals?since=2025-03-12T00:00:00Z`);
    if (!cold.ok) throw new Error(`cold query: ${cold.status}`);
    const coldMs = performance.now() - t0;
    process.stderr.write(`first (uncached) top_principals: ${coldMs.toFixed(0)} ms\n`);
    figures.push({ figure: 'first answer of a saved query (computed, not cached)', s3sift: `${coldMs.toFixed(0)} ms`, reference: '-', ratio: '-', target: '≤ 1 s' });
    // The reference: GET /health on the same server in the same run, the cost of the HTTP stack alone.
    for (const [label, path, target] of routes) {
      const ours: Load[] = [];
      const ref: Load[] = [];
      for (let i = 0; i < runs; i++) {
        ref.push(await load(s.url + '/health', seconds, conns));
        ours.push(await load(s.url + path, seconds, conns));
        process.stderr.write(`${label}, run ${i + 1}: ${ours.at(-1)?.rps.toFixed(0)} req/s (p99 ${ours.at(-1)?.p99} ms); /health ${ref.at(-1)?.rps.toFixed(0)} req/s\n`);
      }
      const rps = median(ours.map((r) => r.rps));
      const refRps = median(ref.map((r) => r.rps));
      const failed = ours.reduce((n, r) => n + r.errors + r.non2xx, 0);
      const total = ours.reduce((n, r) => n + r.requests, 0);
      figures.push({ figure: `${label}, throughput`, s3sift: `${rps.toFixed(0)} req/s`, reference: `${refRps.toFixed(0)} req/s`, ratio: ratio(rps, refRps), target });
      figures.push({ figure: `${label}, p50 / p99 latency`, s3sift: `${median(ours.map((r) => r.p50))} / ${median(ours.map((r) => r.p99))} ms`, reference: `${median(ref.map((r) => r.p50))} / ${median(ref.map((r) => r.p99))} ms`, ratio: '-', target });
      figures.push({ figure: `${label}, failed requests`, s3sift: `${failed} of ${total.toLocaleString('en-US')}`, reference: '-', ratio: '-', target: '0' });
    }
  } finally {
    await s.close();
  }
  saveSection('serve', {
    title: 'Server load benchmark',
    about: `${events.toLocaleString('en-US')} generated events; autocannon on loopback, ${conns} connections, ${seconds} s per route and run. Reference: \`GET /health\` on the same server in the same run (the HTTP stack alone), alternated with each route.`,
    runs,
    figures,
  });
}

await main();
