/** What a dataset holds, per table: rows, time span, buckets. */
import { sqlIdentifier } from '../common/sql.js';
import { TABLES } from '../ingest/schema.js';
import { openDataset } from './dataset.js';

export interface TableOverview {
  table: string;
  rows: number;
  first: Date | null;
  last: Date | null;
  buckets: number;
}

export async function overview(dir: string): Promise<TableOverview[]> {
  const ds = await openDataset(dir);
  try {
    const out: TableOverview[] = [];
    for (const t of TABLES) {
      const r = await ds.conn.runAndReadAll(
        `SELECT count(*)::DOUBLE, epoch_ms(min(event_time))::DOUBLE, epoch_ms(max(event_time))::DOUBLE, count(DISTINCT bucket)::DOUBLE FROM ${sqlIdentifier(t.name)}`,
      );
      const [rows, first, last, buckets] = (r.getRows()[0] ?? []) as (number | null)[];
      out.push({
        table: t.name,
        rows: rows ?? 0,
        first: first == null ? null : new Date(first),
        last: last == null ? null : new Date(last),
        buckets: buckets ?? 0,
      });
    }
    return out;
  } finally {
    ds.close();
  }
}
