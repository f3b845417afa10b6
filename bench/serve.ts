/**
 * `npm run bench` (fourth part): load on `s3sift serve` over loopback with
 * autocannon, bounded in time: throughput and p50/p99 latency of
 * `/api/detections` and of a saved dashboard query over a generated dataset
 * of 1M events, at 32 concurrent connections. Writes bench/out/serve.md.
 *
 *   node dist/bench/serve.js --events 1000000 --seconds 10
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { serve } from '../server/serve.js';
import { generateDataset } from './dataset.js';
import { OUT } from './harness.js';

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
  const { values } = parseArgs({ options: { events: { type: 'string', default: '1000000' }, seconds: { type: 'string', default: '10' }, connections: { type: 'string', default: '32' } } });
  const events = Number(values.events);
  const data = join(OUT, `detect-${events}`);
  await generateDataset(data, events);
  const s = await serve({ data, host: '127.0.0.1', port: 0 });
  const seconds = Number(values.seconds);
  const conns = Number(values.connections);
  const rows: string[] = [];
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
    rows.push(`| first answer of a saved query (computed, not cached) | - | ${coldMs.toFixed(0)} ms | - | - | - |`);
    for (const [label, path, target] of routes) {
      const r = await load(s.url + path, seconds, conns);
      process.stderr.write(`${label}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, ${r.errors} errors, ${r.non2xx} non-2xx\n`);
      rows.push(`| ${label} | ${r.rps.toFixed(0)} req/s | ${r.p50} ms | ${r.p99} ms | ${r.errors + r.non2xx} of ${r.requests.toLocaleString('en-US')} | ${target} |`);
    }
  } finally {
    await s.close();
  }
  const text = [
    `# Server load benchmark (${new Date().toISOString().slice(0, 10)}, ${process.version})`,
    '',
    `${events.toLocaleString('en-US')} generated events, autocannon on loopback, ${conns} connections, ${seconds} s per route.`,
    '',
    '| route | throughput | p50 | p99 | errors | target |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
  writeFileSync(join(OUT, 'serve.md'), text);
  process.stdout.write(text);
}

await main();
