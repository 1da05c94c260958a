/**
 * Does a second thread pay for matmul on this 2-core machine? The packed WebAssembly SIMD
 * matmul on one thread, against the same kernel splitting C's rows between this thread and a
 * worker over shared memory (the main thread blocks on Atomics.wait, as a synchronous backend
 * would). Medians of 5. `npm run bench -- matmul-threads`
 */
import { Worker } from 'node:worker_threads';
import { matmul } from '../kernels/cpu/matmul.js';
import { Random } from '../src/node/index.js';
import { table, timeMedian } from './common.js';
import type { RowBlockJob } from './threads/worker.js';

export async function run(): Promise<void> {
  const worker = new Worker(new URL('./threads/bootstrap.mjs', import.meta.url));
  // The worker must have loaded before the main thread blocks on Atomics.wait.
  await new Promise<void>((resolve, reject) => { worker.once('message', () => resolve()); worker.once('error', reject); });
  const rows: Array<Array<string | number>> = [];
  const rng = new Random(1);
  for (const n of process.argv.includes('--quick') ? [256, 512] : [128, 256, 512, 1024, 2048]) {
    const sab = new SharedArrayBuffer(3 * n * n * 4);
    const all = new Float32Array(sab);
    rng.fillUniform(all.subarray(0, 2 * n * n), -1, 1);
    const [a, b] = [all.subarray(0, n * n), all.subarray(n * n, 2 * n * n)];
    const serial = await timeMedian(() => matmul(a, b, n, n, n), { warmup: 2, runs: 5 });
    const done = new SharedArrayBuffer(4);
    const flag = new Int32Array(done);
    const half = n >> 1;
    const twoThreads = () => {
      Atomics.store(flag, 0, 0);
      const job: RowBlockJob = { sab, done, a: 0, b: n * n, c: 2 * n * n, rows: [half, n], k: n, n };
      worker.postMessage(job);
      matmul(a.subarray(0, half * n), b, half, n, n, false, false, all.subarray(2 * n * n, 2 * n * n + half * n));
      Atomics.wait(flag, 0, 0);
    };
    const parallel = await timeMedian(twoThreads, { warmup: 2, runs: 5 });
    const check = all.subarray(2 * n * n).slice();
    const reference = matmul(a, b, n, n, n);
    const maxDiff = reference.reduce((m, v, i) => Math.max(m, Math.abs(v - check[i])), 0);
    rows.push([n, (2 * n ** 3) / serial / 1e6, (2 * n ** 3) / parallel / 1e6, serial / parallel, maxDiff]);
  }
  await worker.terminate();
  console.log('\nmatmul n×n×n, GFLOP/s, one thread vs this thread + one worker (rows split, shared memory)');
  console.log(table(['n', '1 thread', '2 threads', 'speed-up', 'max |diff|'], rows));
}
