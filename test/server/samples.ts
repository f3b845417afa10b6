import { join } from 'node:path';
import { ingest } from '../../ingest/ingest.js';
import { SAMPLES, tempDir } from '../helpers/dataset.js';

/** The samples ingested into a fresh dataset folder (`data`) under a temporary folder (`dir`), removed by `cleanup`. */
export async function samplesDataset(): Promise<{ dir: string; data: string; cleanup: () => void }> {
  const tmp = tempDir();
  const data = join(tmp.dir, 'data');
  await ingest([new URL('.', SAMPLES).pathname], { data, format: 'auto', force: false, strict: false });
  return { ...tmp, data };
}
