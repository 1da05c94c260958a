/**
 * A compute thread (src/backend/threads.ts): waits on its control block for a row block of
 * a matmul or a range of images of a direct convolution (src/backend/conv-threads.ts),
 * computes it from the shared buffer into the shared buffer, and says so.
 */
import { parentPort } from 'node:worker_threads';
import { matmulRows } from '../../kernels/cpu/matmul.js';
import {
  CONTROL,
  OP_CONV_FILTER_GRAD,
  OP_CONV_FORWARD,
  OP_CONV_INPUT_GRAD,
  OP_MATMUL,
  OP_REFRESH,
} from '../backend/threads.js';
import { chunksOf, conv2dBackpropInputDirect, conv2dDirect, filterGradChunks } from '../../kernels/cpu/conv-direct.js';
import { geometryFrom } from '../backend/conv-threads.js';

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
      matmulRows(
        data.subarray(aAt, aAt + m * k),
        data.subarray(bAt, bAt + k * n),
        m,
        k,
        n,
        transA === 1,
        transB === 1,
        data.subarray(cAt, cAt + (r1 - r0) * n),
        r0,
        r1,
      );
    }
    if (op === OP_CONV_FORWARD || op === OP_CONV_INPUT_GRAD || op === OP_CONV_FILTER_GRAD)
      convolve(op, control.subarray(CONTROL.PARAMS, CONTROL.PARAMS + 16));
    Atomics.store(control, CONTROL.DONE, seq);
    Atomics.notify(control, CONTROL.DONE);
    if (op === OP_REFRESH) return;
  }
}

/** One image range of a direct convolution pass: [xAt, fAt, biasAt (−1: none), outAt, relu, images, geometry…]. */
function convolve(op: number, params: Int32Array): void {
  const [xAt, fAt, bAt, outAt, relu, images] = params;
  const w = geometryFrom(images, params.subarray(6));
  const filterLength = w.kH * w.kW * w.channels * w.outC;
  const inImage = w.inH * w.inW * w.channels,
    outImage = w.outH * w.outW * w.outC;
  const f = data.subarray(fAt, fAt + filterLength);
  if (op === OP_CONV_FORWARD) {
    conv2dDirect(
      data.subarray(xAt, xAt + images * inImage),
      f,
      bAt < 0 ? null : data.subarray(bAt, bAt + w.outC),
      relu === 1,
      w,
      { into: data.subarray(outAt, outAt + images * outImage) },
    );
  } else if (op === OP_CONV_INPUT_GRAD) {
    conv2dBackpropInputDirect(data.subarray(xAt, xAt + images * outImage), f, w, {
      into: data.subarray(outAt, outAt + images * inImage),
    });
  } else {
    // xAt: the input images, fAt: their dy, outAt: the partial sums of their chunks.
    filterGradChunks(
      data.subarray(xAt, xAt + images * inImage),
      data.subarray(fAt, fAt + images * outImage),
      w,
      data.subarray(outAt, outAt + chunksOf(images) * filterLength),
    );
  }
}
