import { overview } from '../query/index.js';
import { formatCount } from './progress.js';

/** "dataset ./s3sift-data now holds: ..." */
export async function datasetOverview(dir: string): Promise<string> {
  const tables = await overview(dir);
  const lines = [`dataset ${dir} now holds:`];
  for (const t of tables) {
    const span = t.first && t.last ? `, ${t.first.toISOString()} .. ${t.last.toISOString()}` : '';
    lines.push(`  ${t.table}: ${formatCount(t.rows)} rows, ${formatCount(t.buckets)} bucket${t.buckets === 1 ? '' : 's'}${span}`);
  }
  return lines.join('\n');
}
