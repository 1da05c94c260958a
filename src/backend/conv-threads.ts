/**
 * The direct convolutions (kernels/cpu/conv-direct.ts) on every core: the batch is split
 * between this thread and the compute threads of threads.ts, whole images each. A forward or
 * input-gradient image depends on nothing but itself; the filter gradient is summed in
 * fixed chunks of FILTER_GRAD_CHUNK images, each thread makes whole chunks' partial sums and
 * this thread adds them in order. So every thread count gives the same bits. Convolutions
 * below MIN_CONV_MULTIPLY_ADDS (threads.ts) stay on this thread.
 */
import type { Conv2dInfo } from '../../kernels/types.js';
import {
  FILTER_GRAD_CHUNK,
  chunksOf,
  conv2dBackpropFilterDirect,
  conv2dBackpropInputDirect,
  conv2dDirect,
  directConvApplies,
  directFilterGradApplies,
  filterGradChunks,
  sumChunks,
} from '../../kernels/cpu/conv-direct.js';
import { allocate } from '../../kernels/buffers.js';
import {
  MIN_CONV_MULTIPLY_ADDS,
  OP_CONV_FILTER_GRAD,
  OP_CONV_FORWARD,
  OP_CONV_INPUT_GRAD,
  type ComputeThread,
  helpers,
  runOnHelpers,
} from './threads.js';

const multiplyAdds = (w: Conv2dInfo) => w.batch * w.outH * w.outW * w.kH * w.kW * w.channels * w.outC;

/** The geometry fields a compute thread needs (the direct kernels run at stride 1, undilated). */
const geometry = (w: Conv2dInfo) => [w.inH, w.inW, w.channels, w.kH, w.kW, w.padTop, w.padLeft, w.outH, w.outW, w.outC];

export function geometryFrom(batch: number, g: ArrayLike<number>): Conv2dInfo {
  const [inH, inW, channels, kH, kW, padTop, padLeft, outH, outW, outC] = Array.from(g);
  return { batch, inH, inW, channels, kH, kW, strideH: 1, strideW: 1, padTop, padLeft, outH, outW, outC };
}

/** Helpers for a direct convolution this large (`direct`: whether the pass runs direct at all), or none. */
function workersFor(w: Conv2dInfo, direct: boolean, minMultiplyAdds: number): ComputeThread[] {
  return direct && multiplyAdds(w) >= minMultiplyAdds && w.batch > 1 ? helpers().slice(0, w.batch - 1) : [];
}

/** Image ranges [first, end) for this thread (index 0) and each helper. */
function split(images: number, parts: number, unit = 1): Array<[number, number]> {
  const per = Math.ceil(images / parts / unit) * unit;
  return Array.from(
    { length: parts },
    (_, i) => [Math.min(images, i * per), Math.min(images, (i + 1) * per)] as [number, number],
  );
}

/**
 * A pass whose images are independent: `x` images in, `out` images out, each range computed
 * by `pass` (the direct kernel) here or by `op` on a helper, which calls the same kernel.
 */
function byImages(
  op: number,
  x: Float32Array,
  f: Float32Array,
  bias: Float32Array | null,
  relu: boolean,
  w: Conv2dInfo,
  inImage: number,
  outImage: number,
  workers: ComputeThread[],
  pass: (x: Float32Array, w: Conv2dInfo, into: Float32Array) => Float32Array | null,
): Float32Array | null {
  const batch = w.batch,
    out = allocate(batch * outImage);
  const ranges = split(batch, workers.length + 1);
  const [, ownEnd] = ranges[0];
  // Shared layout: filter | bias | the helpers' input images | their output images.
  const fAt = 0,
    bAt = f.length,
    xAt = bAt + (bias?.length ?? 0),
    outAt = xAt + (batch - ownEnd) * inImage;
  const at = (first: number, base: number, image: number) => base + (first - ownEnd) * image;
  let ok = true;
  const view = runOnHelpers(
    workers,
    outAt + (batch - ownEnd) * outImage,
    (v) => {
      v.set(f, fAt);
      if (bias) v.set(bias, bAt);
      v.set(x.subarray(ownEnd * inImage), xAt);
    },
    ranges
      .slice(1)
      .map(([first, end]) => [
        op,
        [
          at(first, xAt, inImage),
          fAt,
          bias ? bAt : -1,
          at(first, outAt, outImage),
          relu ? 1 : 0,
          end - first,
          ...geometry(w),
        ],
      ]),
    () => {
      ok = pass(x.subarray(0, ownEnd * inImage), { ...w, batch: ownEnd }, out.subarray(0, ownEnd * outImage)) !== null;
    },
    (i, v) => {
      const [first, end] = ranges[i + 1];
      pass(
        v.subarray(at(first, xAt, inImage), at(end, xAt, inImage)),
        { ...w, batch: end - first },
        v.subarray(at(first, outAt, outImage), at(end, outAt, outImage)),
      );
    },
  );
  if (!ok) return null;
  out.set(view.subarray(outAt, outAt + (batch - ownEnd) * outImage), ownEnd * outImage);
  return out;
}

export function parallelConvForward(
  x: Float32Array,
  f: Float32Array,
  bias: Float32Array | null,
  relu: boolean,
  w: Conv2dInfo,
  minMultiplyAdds = MIN_CONV_MULTIPLY_ADDS,
): Float32Array | null {
  const workers = workersFor(w, directConvApplies(w, w.channels, w.outC), minMultiplyAdds);
  if (workers.length === 0) return conv2dDirect(x, f, bias, relu, w);
  return byImages(
    OP_CONV_FORWARD,
    x,
    f,
    bias,
    relu,
    w,
    w.inH * w.inW * w.channels,
    w.outH * w.outW * w.outC,
    workers,
    (xs, sub, into) => conv2dDirect(xs, f, bias, relu, sub, { into }),
  );
}

export function parallelConvInputGrad(
  dy: Float32Array,
  f: Float32Array,
  w: Conv2dInfo,
  minMultiplyAdds = MIN_CONV_MULTIPLY_ADDS,
): Float32Array | null {
  const workers = workersFor(w, directConvApplies(w, w.outC, w.channels), minMultiplyAdds);
  if (workers.length === 0) return conv2dBackpropInputDirect(dy, f, w);
  return byImages(
    OP_CONV_INPUT_GRAD,
    dy,
    f,
    null,
    false,
    w,
    w.outH * w.outW * w.outC,
    w.inH * w.inW * w.channels,
    workers,
    (dys, sub, into) => conv2dBackpropInputDirect(dys, f, sub, { into }),
  );
}

export function parallelConvFilterGrad(
  x: Float32Array,
  dy: Float32Array,
  w: Conv2dInfo,
  minMultiplyAdds = MIN_CONV_MULTIPLY_ADDS,
): Float32Array | null {
  const chunks = chunksOf(w.batch);
  const workers = workersFor(w, directFilterGradApplies(w), minMultiplyAdds).slice(0, chunks - 1);
  if (workers.length === 0) return conv2dBackpropFilterDirect(x, dy, w);
  const inImage = w.inH * w.inW * w.channels,
    outImage = w.outH * w.outW * w.outC,
    filterLength = w.kH * w.kW * w.channels * w.outC;
  const ranges = split(w.batch, workers.length + 1, FILTER_GRAD_CHUNK);
  const [, ownEnd] = ranges[0];
  const partials = allocate(chunks * filterLength);
  const ownChunks = chunksOf(ownEnd);
  // Shared layout: the helpers' input images | their dy images | their chunks' partial sums.
  const xAt = 0,
    dyAt = (w.batch - ownEnd) * inImage,
    pAt = dyAt + (w.batch - ownEnd) * outImage;
  const sub = (first: number, end: number) => ({ ...w, batch: end - first });
  const views = (v: Float32Array, first: number, end: number) =>
    [
      v.subarray(xAt + (first - ownEnd) * inImage, xAt + (end - ownEnd) * inImage),
      v.subarray(dyAt + (first - ownEnd) * outImage, dyAt + (end - ownEnd) * outImage),
      v.subarray(
        pAt + (first / FILTER_GRAD_CHUNK - ownChunks) * filterLength,
        pAt + (chunksOf(end) - ownChunks) * filterLength,
      ),
    ] as const;
  let ok = true;
  const view = runOnHelpers(
    workers,
    pAt + (chunks - ownChunks) * filterLength,
    (v) => {
      v.set(x.subarray(ownEnd * inImage), xAt);
      v.set(dy.subarray(ownEnd * outImage), dyAt);
    },
    ranges
      .slice(1)
      .map(([first, end]) => [
        OP_CONV_FILTER_GRAD,
        [
          xAt + (first - ownEnd) * inImage,
          dyAt + (first - ownEnd) * outImage,
          -1,
          pAt + (first / FILTER_GRAD_CHUNK - ownChunks) * filterLength,
          0,
          end - first,
          ...geometry(w),
        ],
      ]),
    () => {
      ok = filterGradChunks(
        x.subarray(0, ownEnd * inImage),
        dy.subarray(0, ownEnd * outImage),
        sub(0, ownEnd),
        partials.subarray(0, ownChunks * filterLength),
      );
    },
    (i, v) => {
      const [first, end] = ranges[i + 1];
      const [xs, dys, into] = views(v, first, end);
      filterGradChunks(xs, dys, sub(first, end), into);
    },
  );
  if (!ok) return null;
  partials.set(view.subarray(pAt, pAt + (chunks - ownChunks) * filterLength), ownChunks * filterLength);
  return sumChunks(partials, chunks, filterLength);
}
