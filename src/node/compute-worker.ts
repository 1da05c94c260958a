/**
 * A compute thread (src/backend/threads.ts): waits on its control block for a row block of
 * a matmul, computes it from the shared buffer into the shared buffer, and says so.
 */
import { parentPort } from 'node:worker_threads';
import { matmulRows } from '../../kernels/cpu/matmul.js';
import { CONTROL, OP_MATMUL, OP_REFRESH } from '../backend/threads.js';

const port = parentPort;
if (port === null) throw new Error('compute-worker.ts runs as a worker thread (backend/threads.ts starts it)');

let control: Int32Array<ArrayBufferLike> = new Int32Array(0);
let data: Float32Array<ArrayBufferLike> = new Float32Array(0);
let seen = 0;

port.on('message', (message: { control?: SharedArrayBuffer; data?: SharedArrayBuffer }) => {
  if (message.control) {
    control = new Int32Array(message.control);
    port.postMessage('ready');
  }
  // Jobs come with a data buffer: until the first one there is nothing to wait for.
  if (message.data) {
    data = new Float32Array(message.data);
    serve();
  }
});

/** Takes jobs until told to go back to the event loop (a new buffer is coming as a message). */
function serve(): void {
  for (;;) {
    const seq = Atomics.load(control, CONTROL.SEQ);
    if (seq === seen) {
      Atomics.wait(control, CONTROL.SEQ, seq);
      continue;
    }
    seen = seq;
    const op = control[CONTROL.OP];
    if (op === OP_MATMUL) {
      const [aAt, bAt, cAt, m, k, n, transA, transB, r0, r1] = control.subarray(CONTROL.PARAMS, CONTROL.PARAMS + 10);
      matmulRows(data.subarray(aAt, aAt + m * k), data.subarray(bAt, bAt + k * n), m, k, n, transA === 1, transB === 1,
        data.subarray(cAt, cAt + (r1 - r0) * n), r0, r1);
    }
    Atomics.store(control, CONTROL.DONE, seq);
    Atomics.notify(control, CONTROL.DONE);
    if (op === OP_REFRESH) return;
  }
}
