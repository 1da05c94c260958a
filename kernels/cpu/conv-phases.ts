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
}

/** Whether the convolution is dilated at stride 1: the shapes this module rewrites. */
const dilated = (w: Conv2dInfo) =>
  w.strideH === 1 && w.strideW === 1 && ((w.dilationH ?? 1) > 1 || (w.dilationW ?? 1) > 1);

function phasesOf(w: Conv2dInfo): Phase[] {
  const dH = w.dilationH ?? 1,
    dW = w.dilationW ?? 1;
  const phases: Phase[] = [];
  for (let i = 0; i < dH; i++)
    for (let j = 0; j < dW; j++) {
      const outH = Math.ceil((w.outH - i) / dH),
        outW = Math.ceil((w.outW - j) / dW);
      const geometry = { inH: outH + w.kH - 1, inW: outW + w.kW - 1, outH, outW, padTop: 0, padLeft: 0 };
      phases.push({ i, j, w: { ...w, ...geometry, dilationH: 1, dilationW: 1 } });
    }
  return phases;
}

/**
 * Phase (i, j) of `src` [batch, h, wd, c] seen with `top`/`left` padding and steps dH, dW:
 * [batch, inH, inW, c], zeros where it falls in the padding.
 */
function extract(
  src: Float32Array,
  h: number,
  wd: number,
  c: number,
  top: number,
  left: number,
  dH: number,
  dW: number,
  p: Phase,
  inH: number,
  inW: number,
): Float32Array {
  const { batch } = p.w;
  const out = allocateZeroed(batch * inH * inW * c);
  for (let b = 0; b < batch; b++)
    for (let r = 0; r < inH; r++) {
      const y = p.i + r * dH - top;
      if (y < 0 || y >= h) continue;
      for (let s = 0; s < inW; s++) {
        const x = p.j + s * dW - left;
        if (x < 0 || x >= wd) continue;
        // Channel runs are short (a subarray per pixel cost more than the copy).
        for (let t = 0, from = ((b * h + y) * wd + x) * c, to = ((b * inH + r) * inW + s) * c; t < c; t++)
          out[to + t] = src[from + t];
      }
    }
  return out;
}

/** Writes phase (i, j)'s [batch, rows, cols, c] into `dst` [batch, h, wd, c] at rows i + r·dH − top, columns j + s·dW − left (those inside). */
function place(
  part: Float32Array,
  rows: number,
  cols: number,
  dst: Float32Array,
  h: number,
  wd: number,
  c: number,
  top: number,
  left: number,
  dH: number,
  dW: number,
  p: Phase,
) {
  for (let b = 0; b < p.w.batch; b++)
    for (let r = 0; r < rows; r++) {
      const y = p.i + r * dH - top;
      if (y < 0 || y >= h) continue;
      for (let s = 0; s < cols; s++) {
        const x = p.j + s * dW - left;
        if (x < 0 || x >= wd) continue;
        for (let t = 0, from = ((b * rows + r) * cols + s) * c, to = ((b * h + y) * wd + x) * c; t < c; t++)
          dst[to + t] = part[from + t];
      }
    }
}

const steps = (w: Conv2dInfo): [number, number] => [w.dilationH ?? 1, w.dilationW ?? 1];

export function dilatedForward(
  x: Float32Array,
  f: Float32Array,
  bias: Float32Array | null,
  relu: boolean,
  w: Conv2dInfo,
  convs: PhaseConvs,
): Float32Array | null {
  if (!dilated(w)) return null;
  const [dH, dW] = steps(w);
  const out = allocate(w.batch * w.outH * w.outW * w.outC);
  for (const p of phasesOf(w)) {
    if (p.w.outH <= 0 || p.w.outW <= 0) continue;
    const part = convs.forward(
      extract(x, w.inH, w.inW, w.channels, w.padTop, w.padLeft, dH, dW, p, p.w.inH, p.w.inW),
      f,
      bias,
      relu,
      p.w,
    );
    if (part === null) return null;
    place(part, p.w.outH, p.w.outW, out, w.outH, w.outW, w.outC, 0, 0, dH, dW, p);
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
  const [dH, dW] = steps(w);
  const dx = allocateZeroed(w.batch * w.inH * w.inW * w.channels);
  for (const p of phasesOf(w)) {
    if (p.w.outH <= 0 || p.w.outW <= 0) continue; // no output reads this phase: its gradient stays zero
    const part = convs.inputGrad(extract(dy, w.outH, w.outW, w.outC, 0, 0, dH, dW, p, p.w.outH, p.w.outW), f, p.w);
    if (part === null) return null;
    place(part, p.w.inH, p.w.inW, dx, w.inH, w.inW, w.channels, w.padTop, w.padLeft, dH, dW, p);
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
  const [dH, dW] = steps(w);
  const df = allocateZeroed(w.kH * w.kW * w.channels * w.outC);
  for (const p of phasesOf(w)) {
    if (p.w.outH <= 0 || p.w.outW <= 0) continue;
    const xs = extract(x, w.inH, w.inW, w.channels, w.padTop, w.padLeft, dH, dW, p, p.w.inH, p.w.inW);
    const part = convs.filterGrad(xs, extract(dy, w.outH, w.outW, w.outC, 0, 0, dH, dW, p, p.w.outH, p.w.outW), p.w);
    if (part === null) return null;
    for (let q = 0; q < df.length; q++) df[q] += part[q];
  }
  return df;
}
