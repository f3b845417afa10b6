import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyConfig } from '../../query/config-apply.js';
import { parseConfig } from '../../query/config.js';
import { loadDetections } from '../../query/detection.js';
import { createApp, type App } from '../../server/app.js';
import { SAMPLES } from '../helpers/dataset.js';
import { samplesDataset } from './samples.js';

let tmp: { dir: string; data: string; cleanup: () => void };
let plain: App;
let configured: App;
beforeAll(async () => {
  tmp = await samplesDataset();
  const file = new URL('s3sift.yaml', SAMPLES).pathname;
  const applied = applyConfig(parseConfig(readFileSync(file, 'utf8'), file), { detections: await loadDetections([]) });
  plain = await createApp({ data: tmp.data });
  configured = await createApp({ data: tmp.data, overrides: applied.overrides, suppress: applied.suppress });
});
afterAll(() => {
  plain.close();
  configured.close();
  tmp.cleanup();
});

type Answer = { rows: Array<{ detection_id: string; key: string | null }>; suppressed: { count: number; rules: Array<{ count: number; reason: string }> } };

describe('serve with the config (s3sift.yaml)', () => {
  it('/api/findings leaves out what the suppress rules silence and says how many, in a header and in JSON', async () => {
    const all = (await (await plain.app.request('/api/findings?detection=anonymous-access')).json()) as Answer;
    const res = await configured.app.request('/api/findings?detection=anonymous-access');
    const some = (await res.json()) as Answer;
    expect(all.rows).toHaveLength(41);
    expect(all.suppressed.count).toBe(0);
    expect(some.rows.map((r) => r.key)).toEqual(['index.html']);
    expect(res.headers.get('x-suppressed')).toBe('40');
    expect(some.suppressed.count).toBe(40);
    expect(some.suppressed.rules[0]?.reason).toMatch(/^web-assets is the public website's image store/);
  });

  it('the findings table user SQL and the dashboard read holds the findings kept, not those suppressed', async () => {
    const count = async (d: App): Promise<number> => {
      const res = await d.app.request('/api/query', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sql: "SELECT count(*) AS n FROM findings WHERE detection_id = 'anonymous-access'" }) });
      return Number(((await res.json()) as { rows: Array<{ n: number }> }).rows[0]?.n);
    };
    const kept = ((await (await configured.app.request('/api/findings?detection=anonymous-access')).json()) as Answer).rows.length;
    expect(await count(configured)).toBe(kept);
    expect(await count(plain)).toBeGreaterThan(kept);
  });

  it("the config's accounts and params reach the detections: the trusted partner is not cross-account", async () => {
    const cross = async (d: App): Promise<Answer> => (await (await d.app.request('/api/findings?detection=cross-account-access')).json()) as Answer;
    expect((await cross(plain)).rows.length).toBeGreaterThan(0);
    expect((await cross(configured)).rows).toEqual([]);
  });
});
