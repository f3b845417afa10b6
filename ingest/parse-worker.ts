/**
 * Entry point of a parse worker (a worker thread, see `parallel.ts`): reads
 * and stages the batches of access-log lines or CloudTrail values it is
 * sent, and sends back the rows.
 */
import { parentPort } from 'node:worker_threads';
import { stageAccessLogBatch } from './access-log/batch.js';
import { stageCloudTrailBatch } from './cloudtrail/batch.js';
import type { BatchKind } from './parallel.js';

export interface BatchRequest {
  id: number;
  kind: BatchKind;
  bytes: Uint8Array;
  offsets: Float64Array;
  fileIdx: number;
}

const port = parentPort;
if (port) {
  port.on('message', (m: BatchRequest) => {
    try {
      const b = Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength);
      const result = (m.kind === 'access-log' ? stageAccessLogBatch : stageCloudTrailBatch)(b, m.offsets, m.fileIdx);
      port.postMessage({ id: m.id, result }, result.staged.map((s) => s.rows.buffer as ArrayBuffer));
    } catch (err) {
      port.postMessage({ id: m.id, error: (err as Error).stack ?? String(err) });
    }
  });
}
