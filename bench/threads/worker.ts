/** The second thread of bench/matmul-threads.ts: multiplies the row block it is sent, in shared memory. */
import { parentPort } from 'node:worker_threads';
import { matmul } from '../../kernels/cpu/matmul.js';

export interface RowBlockJob {
  sab: SharedArrayBuffer;
  done: SharedArrayBuffer;
  /** Float offsets of A (m×k), B (k×n) and C (m×n) in `sab`. */
  a: number;
  b: number;
  c: number;
  rows: [number, number];
  k: number;
  n: number;
}

parentPort!.postMessage('ready');
parentPort!.on('message', ({ sab, done, a, b, c, rows: [r0, r1], k, n }: RowBlockJob) => {
  const m = r1 - r0;
  matmul(new Float32Array(sab, (a + r0 * k) * 4, m * k), new Float32Array(sab, b * 4, k * n), m, k, n, false, false,
    new Float32Array(sab, (c + r0 * n) * 4, m * n));
  const flag = new Int32Array(done);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
});
