import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Finding } from '../../query/finding.js';
import { mergeFindings, setStatus, updateState } from '../../query/findings-state.js';
import { createApp, type App } from '../../server/app.js';
import { dashboardHtml } from '../../server/dashboard.js';
import { samplesDataset } from './samples.js';

let tmp: { dir: string; data: string; cleanup: () => void };
let app: App;
beforeAll(async () => {
  tmp = await samplesDataset();
  app = await createApp({ data: tmp.data });
});
afterAll(() => {
  app.close();
  tmp.cleanup();
});

type Row = Finding & { status: string | null; status_by: string | null; status_reason: string | null };
const findings = async (query = ''): Promise<{ columns: Array<{ name: string }>; rows: Row[] }> => (await (await app.app.request(`/api/findings${query}`)).json()) as { columns: Array<{ name: string }>; rows: Row[] };

describe('GET /api/findings shows each finding\'s status from the findings state', () => {
  it('open before anything is recorded, then acknowledged with who and why', async () => {
    const before = await findings('?detection=mass-delete');
    expect(before.columns.map((c) => c.name).slice(-3)).toEqual(['status', 'status_by', 'status_reason']);
    expect(before.columns.map((c) => c.name)[0]).toBe('finding_id');
    expect(before.rows.map((r) => r.status)).toEqual(['open']);
    const one = before.rows[0] as Row;
    await updateState(tmp.data, (s) => mergeFindings(s, [one], new Date()));
    await setStatus(tmp.data, one.finding_id, 'acknowledged', 'alice', 'nightly cleanup job');
    const after = await findings('?detection=mass-delete');
    expect(after.rows[0]).toMatchObject({ finding_id: one.finding_id, status: 'acknowledged', status_by: 'alice', status_reason: 'nightly cleanup job' });
    // CSV carries the status too.
    const csv = await (await app.app.request('/api/findings?detection=mass-delete', { headers: { accept: 'text/csv' } })).text();
    expect(csv.split('\n')[0]).toMatch(/,status,status_by,status_reason$/);
  });

  it('a state that cannot be read gives status null (unknown), not open', async () => {
    const dir = join(tmp.data, 'findings');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'state.json'), '{not json');
    const r = await findings('?detection=mass-delete');
    expect(r.rows[0]?.status).toBeNull();
  });

  it('the dashboard has a findings panel that shows the status', () => {
    expect(dashboardHtml()).toContain('id="findings"');
    expect(dashboardHtml()).toContain("panel('findings', renderFindings)");
  });
});
