import { allocate, copyOut } from '../buffers.js';
import type { Conv2dInfo } from '../types.js';
import { type DirectConvKernels, directConvHeap, directConvKernels, pixelsPerBlock } from './conv-simd.js';

/**
 * The direct convolutions of conv-simd.ts behind the im2col kernels' contract: inputs are
 * copied into the kernels' memory with their padding made explicit, results copied out.
 * Each function returns null where `directConvApplies` declines the shape (or SIMD is
 * missing), and the caller falls back to im2col.
 */

const unitSteps = (w: Conv2dInfo) =>
  w.strideH === 1 && w.strideW === 1 && (w.dilationH ?? 1) === 1 && (w.dilationW ?? 1) === 1;
const isMatmul = (w: Conv2dInfo) => w.kH === 1 && w.kW === 1 && w.padTop === 0 && w.padLeft === 0;

/** The widest layer the bench timed (beyond it im2col, whose matmul gains with width). */
const DIRECT_MAX_OUT_CHANNELS = 64;

/**
 * Whether a convolution producing `outC` channels from `inC` runs direct (the forward pass,
 * and the input gradient with the channel counts swapped): at stride 1, undilated, with 4 to
 * 64 output channels in fours (f32x4 lanes, 16 a kernel call), and not a 1×1 unpadded one
 * (a plain matmul already): where `npm run bench -- conv-direct` found direct faster (numbers in
 * docs/BENCHMARKS.md). Fixed in code, never measured at run time, so every process computes
 * the same bits.
 */
export function directConvApplies(w: Conv2dInfo, _inC: number, outC: number): boolean {
  return unitSteps(w) && !isMatmul(w) && outC % 4 === 0 && outC >= 4 && outC <= DIRECT_MAX_OUT_CHANNELS;
}

/**
 * The filter gradient's rule: the same, but im2col where fewer than 4 input channels meet
 * more than 16 output channels, where the same bench found direct slower.
 */
export function directFilterGradApplies(w: Conv2dInfo): boolean {
  return directConvApplies(w, w.channels, w.outC) && !(w.channels < 4 && w.outC > 16);
}

export interface DirectOptions {
  /** Where to write the result (default: a buffer of its own). */
  into?: Float32Array;
}

/**
 * Copies `src` [batch, h, w, c] into the heap at float offset `at` as [batch, hp, wp, c] with
 * `top` zero rows and `left` zero columns before it (and zeros after, to fill hp × wp).
 */
function copyPadded(
  src: Float32Array,
  heap: Float32Array,
  at: number,
  batch: number,
  h: number,
  w: number,
  c: number,
  hp: number,
  wp: number,
  top: number,
  left: number,
): void {
  if (hp === h && wp === w && top === 0 && left === 0) {
    heap.set(src, at);
    return;
  }
  heap.fill(0, at, at + batch * hp * wp * c);
  const rows = Math.min(h, hp - top),
    run = Math.min(w, wp - left) * c;
  for (let b = 0; b < batch; b++) {
    for (let y = 0; y < rows; y++) {
      const from = (b * h + y) * w * c;
      heap.set(src.subarray(from, from + run), at + ((b * hp + y + top) * wp + left) * c);
    }
  }
}

/** A layer's output channels as kernel calls: [first channel, f32x4 vectors (≤ 4)] per slice of 16. */
const slices = (channels: number) =>
  Array.from({ length: Math.ceil(channels / 16) }, (_, i) => [16 * i, Math.min(4, (channels - 16 * i) / 4)] as const);

type SliceKernels = Array<readonly [number, DirectConvKernels]>;
const bySlices = new Map<number, SliceKernels | null>();

/** The kernels for every slice of `channels`, or null without SIMD (looked up once per channel count). */
function kernelsFor(channels: number): SliceKernels | null {
  let found = bySlices.get(channels);
  if (found === undefined) {
    const all = slices(channels).map(([first, v]) => [first, directConvKernels(v)] as const);
    found = all.every(([, k]) => k !== null) ? (all as SliceKernels) : null;
    bySlices.set(channels, found);
  }
  return found;
}

/** The padded input's dims: every window of the output inside it. */
const paddedDims = (w: Conv2dInfo) => [w.outH + w.kH - 1, w.outW + w.kW - 1] as const;

/** act(conv2d(x, f) + bias): bias may be null (zeros). */
export function conv2dDirect(
  x: Float32Array,
  f: Float32Array,
  bias: Float32Array | null,
  relu: boolean,
  w: Conv2dInfo,
  { into }: DirectOptions = {},
): Float32Array | null {
  if (!directConvApplies(w, w.channels, w.outC)) return null;
  const kernels = kernelsFor(w.outC);
  if (kernels === null) return null;
  const [hp, wp] = paddedDims(w);
  const xAt = 0,
    fAt = w.batch * hp * wp * w.channels,
    bAt = fAt + f.length,
    outAt = bAt + w.outC;
  const outLength = w.batch * w.outH * w.outW * w.outC;
  const heap = directConvHeap((outAt + outLength) * 4);
  copyPadded(x, heap, xAt, w.batch, w.inH, w.inW, w.channels, hp, wp, w.padTop, w.padLeft);
  heap.set(f, fAt);
  if (bias === null) heap.fill(0, bAt, bAt + w.outC);
  else heap.set(bias, bAt);
  for (const [c0, k] of kernels) {
    k.forward(
      xAt * 4,
      (fAt + c0) * 4,
      (bAt + c0) * 4,
      (outAt + c0) * 4,
      w.batch,
      hp,
      wp,
      w.channels,
      w.kH,
      w.kW,
      w.outH,
      w.outW,
      relu ? 1 : 0,
      w.outC * 4,
    );
  }
  return copyOut(heap, outAt, outLength, into);
}

/**
 * dL/dx as the forward kernel over dy padded by kH−1−padTop (and so on): a stride-1
 * convolution's input gradient is the convolution of dy with the filter turned 180° and
 * its channel axes swapped.
 */
export function conv2dBackpropInputDirect(
  dy: Float32Array,
  f: Float32Array,
  w: Conv2dInfo,
  { into }: DirectOptions = {},
): Float32Array | null {
  if (!directConvApplies(w, w.outC, w.channels)) return null;
  const kernels = kernelsFor(w.channels);
  if (kernels === null) return null;
  const { kH, kW, channels: c, outC } = w;
  const hp = w.inH + kH - 1,
    wp = w.inW + kW - 1;
  const dyAt = 0,
    fAt = w.batch * hp * wp * outC,
    bAt = fAt + f.length,
    outAt = bAt + c;
  const outLength = w.batch * w.inH * w.inW * c;
  const heap = directConvHeap((outAt + outLength) * 4);
  copyPadded(dy, heap, dyAt, w.batch, w.outH, w.outW, outC, hp, wp, kH - 1 - w.padTop, kW - 1 - w.padLeft);
  for (let ky = 0; ky < kH; ky++) {
    for (let kx = 0; kx < kW; kx++) {
      const from = ((kH - 1 - ky) * kW + (kW - 1 - kx)) * c * outC,
        to = fAt + (ky * kW + kx) * outC * c;
      for (let o = 0; o < outC; o++) for (let i = 0; i < c; i++) heap[to + o * c + i] = f[from + i * outC + o];
    }
  }
  heap.fill(0, bAt, bAt + c);
  for (const [c0, k] of kernels) {
    k.forward(
      dyAt * 4,
      (fAt + c0) * 4,
      (bAt + c0) * 4,
      (outAt + c0) * 4,
      w.batch,
      hp,
      wp,
      outC,
      kH,
      kW,
      w.inH,
      w.inW,
      0,
      c * 4,
    );
  }
  return copyOut(heap, outAt, outLength, into);
}

/**
 * The filter gradient sums over the batch in chunks of this many images, each chunk's sum
 * made alone and the chunks' added in order: compute threads take whole chunks, and the
 * result is the same bits for any thread count (src/backend/conv-threads.ts).
 */
export const FILTER_GRAD_CHUNK = 8;

export const chunksOf = (batch: number) => Math.ceil(batch / FILTER_GRAD_CHUNK);

/** dL/df = Σ over pixels of the input window ⊗ dy, taps in filter order, chunk by chunk. */
export function conv2dBackpropFilterDirect(x: Float32Array, dy: Float32Array, w: Conv2dInfo): Float32Array | null {
  if (!directFilterGradApplies(w)) return null;
  const filterLength = w.kH * w.kW * w.channels * w.outC,
    chunks = chunksOf(w.batch);
  const partials = allocate(chunks * filterLength);
  if (!filterGradChunks(x, dy, w, partials)) return null;
  return sumChunks(partials, chunks, filterLength);
}

/** Adds `chunks` partial filter gradients in order. */
export function sumChunks(
  partials: Float32Array,
  chunks: number,
  filterLength: number,
  into = allocate(filterLength),
): Float32Array {
  into.set(partials.subarray(0, filterLength));
  for (let c = 1; c < chunks; c++)
    for (let i = 0, at = c * filterLength; i < filterLength; i++) into[i] += partials[at + i];
  return into;
}

/**
 * The partial filter gradient of each FILTER_GRAD_CHUNK-image chunk of `x` and `dy` (w.batch
 * images, from a chunk boundary), into `into` one after another; false without SIMD.
 */
export function filterGradChunks(x: Float32Array, dy: Float32Array, w: Conv2dInfo, into: Float32Array): boolean {
  const kernels = kernelsFor(w.outC);
  if (kernels === null) return false;
  const [hp, wp] = paddedDims(w);
  const run = w.kW * w.channels;
  // Taps a call for each slice: as many as fit its registers and divide the filter row.
  const tapsOf = (v: number) => {
    let taps = pixelsPerBlock(v);
    while (run % taps !== 0) taps--;
    return taps;
  };
  const filterLength = w.kH * w.kW * w.channels * w.outC,
    chunks = chunksOf(w.batch);
  const imageIn = hp * wp * w.channels,
    imageOut = w.outH * w.outW * w.outC;
  const xAt = 0,
    dyAt = w.batch * imageIn,
    dfAt = dyAt + dy.length;
  const heap = directConvHeap((dfAt + chunks * filterLength) * 4);
  copyPadded(x, heap, xAt, w.batch, w.inH, w.inW, w.channels, hp, wp, w.padTop, w.padLeft);
  heap.set(dy, dyAt);
  heap.fill(0, dfAt, dfAt + chunks * filterLength);
  for (let c = 0; c < chunks; c++) {
    const first = c * FILTER_GRAD_CHUNK,
      count = Math.min(FILTER_GRAD_CHUNK, w.batch - first);
    for (const [c0, k] of kernels) {
      k.filterGrad[tapsOf(k.outVectors)](
        (xAt + first * imageIn) * 4,
        (dyAt + first * imageOut + c0) * 4,
        (dfAt + c * filterLength + c0) * 4,
        count,
        hp,
        wp,
        w.channels,
        w.kH,
        w.kW,
        w.outH,
        w.outW,
        w.outC * 4,
      );
    }
  }
  copyOut(heap, dfAt, chunks * filterLength, into);
  return true;
}
