import { allocateZeroed } from '../buffers.js';
import type { Conv2dInfo, Window2d } from '../types.js';
import { matmul } from './matmul.js';

/** The matmul a convolution runs on (the backend may pass one that uses several threads). */
export type Matmul = (
  a: Float32Array,
  b: Float32Array,
  m: number,
  k: number,
  n: number,
  transA?: boolean,
  transB?: boolean,
  out?: Float32Array,
) => Float32Array;

/**
 * Convolution as im2col + matmul: each output pixel's receptive field becomes one row
 * of `cols` [batch·outH·outW, kH·kW·C] (zeros where the window hangs over the padding),
 * so forward and both gradients are single matmuls on the packed CPU kernel.
 */
export function im2col(
  x: Float32Array,
  w: Window2d,
  cols = new Float32Array(w.batch * w.outH * w.outW * w.kH * w.kW * w.channels),
): Float32Array {
  transfer(x, cols, w, false);
  return cols;
}

/** The adjoint of im2col: adds every row of `cols` back onto the pixels it was read from. */
export function col2im(
  cols: Float32Array,
  w: Window2d,
  x = allocateZeroed(w.batch * w.inH * w.inW * w.channels),
): Float32Array {
  transfer(x, cols, w, true);
  return x;
}

/**
 * Moves values between the image and its im2col matrix: gathers (im2col) or scatter-adds
 * (col2im). For window row ky of an output pixel the kW·C values are contiguous in NHWC, so
 * a window wholly inside the image is kH straight runs, copied by the tight loops of
 * `interiorGather`/`interiorScatter`; only windows over the border go tap by tap. The two
 * directions are separate loops: a branch on the direction inside them halved the speed.
 */
function transfer(x: Float32Array, cols: Float32Array, w: Window2d, scatter: boolean): void {
  const { batch, inH, inW, channels: c, kH, kW, strideH, strideW, padTop, padLeft, outH, outW } = w;
  const dH = w.dilationH ?? 1,
    dW = w.dilationW ?? 1;
  if (
    c === 1 &&
    !scatter &&
    strideW === 1 &&
    dW === 1 &&
    padTop === 0 &&
    padLeft === 0 &&
    (outH - 1) * strideH + (kH - 1) * dH < inH &&
    outW + kW - 1 <= inW
  ) {
    gatherOneChannel(x, cols, w);
    return;
  }
  const run = kW * c;
  const patch = kH * run;
  let d = 0;
  for (let b = 0; b < batch; b++) {
    for (let oy = 0; oy < outH; oy++) {
      const y0 = oy * strideH - padTop;
      const rowsInside = y0 >= 0 && y0 + (kH - 1) * dH < inH;
      for (let ox = 0; ox < outW; ox++, d += patch) {
        const x0 = ox * strideW - padLeft;
        if (rowsInside && dW === 1 && x0 >= 0 && x0 + kW <= inW) {
          const src = ((b * inH + y0) * inW + x0) * c;
          if (scatter) interiorScatter(x, cols, src, d, kH, run, dH * inW * c);
          else interiorGather(x, cols, src, d, kH, run, dH * inW * c);
        } else if (rowsInside && x0 >= 0 && x0 + (kW - 1) * dW < inW) {
          // A dilated window inside the image: kH·kW runs of c values, dW·c apart along a row.
          const src = ((b * inH + y0) * inW + x0) * c;
          for (let ky = 0; ky < kH; ky++)
            if (scatter) interiorScatter(x, cols, src + ky * dH * inW * c, d + ky * run, kW, c, dW * c);
            else interiorGather(x, cols, src + ky * dH * inW * c, d + ky * run, kW, c, dW * c);
        } else {
          borderWindow(x, cols, w, b, y0, x0, d, scatter, dH, dW);
        }
      }
    }
  }
}

/**
 * im2col of a one-channel image whose every window is inside it (a first layer on grey
 * images): per window tap, one loop along the output row, where a run per window would be
 * one tap row of kW values.
 */
function gatherOneChannel(x: Float32Array, cols: Float32Array, w: Window2d): void {
  const { batch, inH, inW, kH, kW, strideH, outH, outW } = w;
  const dH = w.dilationH ?? 1;
  const patch = kH * kW;
  for (let b = 0; b < batch; b++) {
    for (let oy = 0; oy < outH; oy++) {
      const pixel = (b * outH + oy) * outW;
      for (let ky = 0; ky < kH; ky++) {
        const row = (b * inH + oy * strideH + ky * dH) * inW;
        for (let kx = 0; kx < kW; kx++) {
          for (let ox = 0, d = pixel * patch + ky * kW + kx, s = row + kx; ox < outW; ox++, d += patch, s++)
            cols[d] = x[s];
        }
      }
    }
  }
}

function interiorGather(
  x: Float32Array,
  cols: Float32Array,
  src: number,
  d: number,
  kH: number,
  run: number,
  rowStep: number,
): void {
  for (let ky = 0; ky < kH; ky++, src += rowStep) for (let t = 0, s = src; t < run; t++) cols[d++] = x[s++];
}

function interiorScatter(
  x: Float32Array,
  cols: Float32Array,
  src: number,
  d: number,
  kH: number,
  run: number,
  rowStep: number,
): void {
  for (let ky = 0; ky < kH; ky++, src += rowStep) for (let t = 0, s = src; t < run; t++) x[s++] += cols[d++];
}

/** A window that hangs over the border (or is dilated across a row): tap by tap, zeros outside. */
function borderWindow(
  x: Float32Array,
  cols: Float32Array,
  w: Window2d,
  b: number,
  y0: number,
  x0: number,
  d: number,
  scatter: boolean,
  dH: number,
  dW: number,
): void {
  const { inH, inW, channels: c, kH, kW } = w;
  for (let ky = 0; ky < kH; ky++) {
    const iy = y0 + ky * dH;
    for (let kx = 0; kx < kW; kx++, d += c) {
      const ix = x0 + kx * dW;
      if (iy < 0 || iy >= inH || ix < 0 || ix >= inW) {
        if (!scatter) cols.fill(0, d, d + c);
        continue;
      }
      const src = ((b * inH + iy) * inW + ix) * c;
      if (scatter) for (let t = 0; t < c; t++) x[src + t] += cols[d + t];
      else for (let t = 0; t < c; t++) cols[d + t] = x[src + t];
    }
  }
}

const rowsOf = (w: Conv2dInfo) => w.batch * w.outH * w.outW;
const patchOf = (w: Conv2dInfo) => w.kH * w.kW * w.channels;

// The im2col matrix is consumed at once by matmul's packing, so one buffer is reused
// across calls: fresh multi-megabyte arrays cost a page fault per 4 KiB on first touch.
let scratch = new Float32Array(0);
function colsBuffer(w: Conv2dInfo): Float32Array<ArrayBuffer> {
  const n = rowsOf(w) * patchOf(w);
  if (scratch.length < n) scratch = new Float32Array(n);
  return scratch.subarray(0, n);
}

/**
 * The im2col matrix of the last forward convolution of each window shape, and the input it
 * was made from: the filter gradient of that input (the backward pass) takes it instead of
 * gathering the same matrix again. Held weakly, at most KEPT_WINDOWS shapes.
 */
const forwardCols = new Map<string, { x: WeakRef<Float32Array>; cols: Float32Array<ArrayBuffer> }>();
const KEPT_WINDOWS = 8;

const windowKey = (w: Conv2dInfo) =>
  [
    w.batch,
    w.inH,
    w.inW,
    w.channels,
    w.kH,
    w.kW,
    w.strideH,
    w.strideW,
    w.padTop,
    w.padLeft,
    w.outH,
    w.outW,
    w.dilationH ?? 1,
    w.dilationW ?? 1,
  ].join(',');

/** The im2col matrix of `x` for a forward convolution, gathered into the buffer kept for its window shape. */
function forwardColsOf(x: Float32Array, info: Conv2dInfo): Float32Array {
  const key = windowKey(info);
  let kept = forwardCols.get(key);
  if (kept === undefined) {
    if (forwardCols.size >= KEPT_WINDOWS) forwardCols.delete(forwardCols.keys().next().value!);
    kept = { x: new WeakRef(x), cols: new Float32Array(rowsOf(info) * patchOf(info)) };
    forwardCols.set(key, kept);
  }
  kept.x = new WeakRef(x);
  return im2col(x, info, kept.cols);
}

/** The im2col matrix of `x`: the one its forward convolution gathered while it is still kept, else gathered now. */
function colsOf(x: Float32Array, info: Conv2dInfo): Float32Array {
  const kept = forwardCols.get(windowKey(info));
  return kept?.x.deref() === x ? kept.cols : im2col(x, info, colsBuffer(info));
}

/** y[b,oy,ox,o] = Σ x[b, oy·s+ky·d−pad, ox·s+kx·d−pad, c] · f[ky,kx,c,o] (NHWC, filter HWIO, dilation d). */
export function conv2d(x: Float32Array, filter: Float32Array, info: Conv2dInfo, mm: Matmul = matmul): Float32Array {
  if (is1x1(info)) return mm(x, filter, rowsOf(info), info.channels, info.outC);
  return mm(forwardColsOf(x, info), filter, rowsOf(info), patchOf(info), info.outC);
}

/** dL/dx from dL/dy: dy · fᵀ, scattered back through the windows. */
export function conv2dBackpropInput(
  dy: Float32Array,
  filter: Float32Array,
  info: Conv2dInfo,
  mm: Matmul = matmul,
): Float32Array {
  if (is1x1(info)) return mm(dy, filter, rowsOf(info), info.outC, info.channels, false, true);
  return col2im(mm(dy, filter, rowsOf(info), info.outC, patchOf(info), false, true, colsBuffer(info)), info);
}

/** dL/df from x and dL/dy: colsᵀ · dy. */
export function conv2dBackpropFilter(
  x: Float32Array,
  dy: Float32Array,
  info: Conv2dInfo,
  mm: Matmul = matmul,
): Float32Array {
  const cols = is1x1(info) ? x : colsOf(x, info);
  return mm(cols, dy, patchOf(info), rowsOf(info), info.outC, true, false);
}

/** A 1×1, stride-1, unpadded convolution is already a matmul over pixels: skip im2col. */
function is1x1(w: Conv2dInfo): boolean {
  return w.kH === 1 && w.kW === 1 && w.strideH === 1 && w.strideW === 1 && w.padTop === 0 && w.padLeft === 0;
}
