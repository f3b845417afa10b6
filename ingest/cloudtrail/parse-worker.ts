/**
 * Entry point of a parse worker (a worker thread, see `parallel.ts`): reads
 * and stages the batches of values it is sent, and sends back the rows.
 */
import { parentPort } from 'node:worker_threads';
import { stageBatch } from './batch.js';

export interface BatchRequest {
  id: number;
  bytes: Uint8Array;
  offsets: Float64Array;
  fileIdx: number;
}

const port = parentPort;
if (port) {
  port.on('message', (m: BatchRequest) => {
    try {
      const b = Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength);
      const result = stageBatch(b, m.offsets, m.fileIdx);
      port.postMessage({ id: m.id, result }, result.staged.map((s) => s.rows.buffer as ArrayBuffer));
    } catch (err) {
      port.postMessage({ id: m.id, error: (err as Error).stack ?? String(err) });
    }
  });
}
