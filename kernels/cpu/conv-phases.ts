import { allocate, allocateZeroed } from '../buffers.js';
import type { Conv2dInfo } from '../types.js';

/**
 * A dilated convolution at stride 1 as dH·dW undilated ones, so that it runs on the direct
 * SIMD kernels (which read a filter row's taps contiguously) instead of im2col. Output pixel
 * (i + a·dH, j + b·dW) reads only padded input rows i + (a + ky)·dH and columns j + (b + kx)·dW:
 * phase (i, j) of the output is the undilated convolution of phase (i, j) of the padded input,
 * [rows i, i + dH, …] × [columns j, j + dW, …]. Every padded input position lies in exactly one
 * phase, so the input gradient is assembled without adds; the filter gradient adds the phases'
 * in a fixed order.
 */
export interface PhaseConvs {
  forward(
    x: Float32Array,
    f: Float32Array,
    bias: Float32Array | null,
    relu: boolean,
    w: Conv2dInfo,
  ): Float32Array | null;
  inputGrad(dy: Float32Array, f: Float32Array, w: Conv2dInfo): Float32Array | null;
  filterGrad(x: Float32Array, dy: Float32Array, w: Conv2dInfo): Float32Array | null;
}

interface Phase {
  i: number;
  j: number;
  /** The phase's undilated, unpadded geometry. */
  w: Conv2dInfo;
  /** The whole convolution's. */
  outer: Conv2dInfo;
}

const steps = (w: Conv2dInfo): [number, number] => [w.dilationH ?? 1, w.dilationW ?? 1];

/** Whether the convolution is dilated at stride 1: the shapes this module rewrites. */
const dilated = (w: Conv2dInfo) =>
  w.strideH === 1 && w.strideW === 1 && ((w.dilationH ?? 1) > 1 || (w.dilationW ?? 1) > 1);

function phasesOf(w: Conv2dInfo): Phase[] {
  const [dH, dW] = steps(w);
  const phases: Phase[] = [];
  for (let i = 0; i < dH; i++)
    for (let j = 0; j < dW; j++) {
      const outH = Math.ceil((w.outH - i) / dH),
        outW = Math.ceil((w.outW - j) / dW);
      const geometry = { inH: outH + w.kH - 1, inW: outW + w.kW - 1, outH, outW, padTop: 0, padLeft: 0 };
      phases.push({ i, j, w: { ...w, ...geometry, dilationH: 1, dilationW: 1 }, outer: w });
    }
  return phases;
}

/** Where a phase lies in a full [batch, h, wd, c] array: its padding and steps. */
interface Frame {
  h: number;
  wd: number;
  c: number;
  top: number;
  left: number;
}

/**
 * Copies between phase p of `full` (rows i + r·dH − top, columns j + s·dW − left, those inside)
 * and `part` [batch, rows, cols, c]: into `part` when `gather`, else back into `full`.
 */
function transfer(
  full: Float32Array,
  f: Frame,
  part: Float32Array,
  rows: number,
  cols: number,
  p: Phase,
  gather: boolean,
) {
  const [dH, dW] = steps(p.outer);
  const { h, wd, c, top, left } = f;
  for (let b = 0; b < p.w.batch; b++)
    for (let r = 0; r < rows; r++) {
      const y = p.i + r * dH - top;
      if (y < 0 || y >= h) continue;
      for (let s = 0; s < cols; s++) {
        const x = p.j + s * dW - left;
        if (x < 0 || x >= wd) continue;
        // Channel runs are short: a loop, where a subarray per pixel cost more than the copy.
        const at = ((b * h + y) * wd + x) * c,
          q = ((b * rows + r) * cols + s) * c;
        if (gather) for (let t = 0; t < c; t++) part[q + t] = full[at + t];
        else for (let t = 0; t < c; t++) full[at + t] = part[q + t];
      }
    }
}

/** Phase p of `full` as [batch, rows, cols, c], zeros where it falls in the padding. */
function extract(full: Float32Array, f: Frame, rows: number, cols: number, p: Phase): Float32Array {
  const part = allocateZeroed(p.w.batch * rows * cols * f.c);
  transfer(full, f, part, rows, cols, p, true);
  return part;
}

/** The input, the output and their frames (the input's padding made explicit). */
const inputFrame = (w: Conv2dInfo): Frame => ({ h: w.inH, wd: w.inW, c: w.channels, top: w.padTop, left: w.padLeft });
const outputFrame = (w: Conv2dInfo): Frame => ({ h: w.outH, wd: w.outW, c: w.outC, top: 0, left: 0 });
const hasOutput = (p: Phase) => p.w.outH > 0 && p.w.outW > 0;

export function dilatedForward(
  x: Float32Array,
  f: Float32Array,
  bias: Float32Array | null,
  relu: boolean,
  w: Conv2dInfo,
  convs: PhaseConvs,
): Float32Array | null {
  if (!dilated(w)) return null;
  const out = allocate(w.batch * w.outH * w.outW * w.outC);
  for (const p of phasesOf(w).filter(hasOutput)) {
    const part = convs.forward(extract(x, inputFrame(w), p.w.inH, p.w.inW, p), f, bias, relu, p.w);
    if (part === null) return null;
    transfer(out, outputFrame(w), part, p.w.outH, p.w.outW, p, false);
  }
  return out;
}

export function dilatedInputGrad(
  dy: Float32Array,
  f: Float32Array,
  w: Conv2dInfo,
  convs: PhaseConvs,
): Float32Array | null {
  if (!dilated(w)) return null;
  const dx = allocateZeroed(w.batch * w.inH * w.inW * w.channels);
  // A phase no output reads keeps a zero gradient.
  for (const p of phasesOf(w).filter(hasOutput)) {
    const part = convs.inputGrad(extract(dy, outputFrame(w), p.w.outH, p.w.outW, p), f, p.w);
    if (part === null) return null;
    transfer(dx, inputFrame(w), part, p.w.inH, p.w.inW, p, false);
  }
  return dx;
}

export function dilatedFilterGrad(
  x: Float32Array,
  dy: Float32Array,
  w: Conv2dInfo,
  convs: PhaseConvs,
): Float32Array | null {
  if (!dilated(w)) return null;
  const df = allocateZeroed(w.kH * w.kW * w.channels * w.outC);
  for (const p of phasesOf(w).filter(hasOutput)) {
    const xs = extract(x, inputFrame(w), p.w.inH, p.w.inW, p);
    const part = convs.filterGrad(xs, extract(dy, outputFrame(w), p.w.outH, p.w.outW, p), p.w);
    if (part === null) return null;
    for (let q = 0; q < df.length; q++) df[q] += part[q];
  }
  return df;
}
