import { ArgumentError, ShapeError, fmtShape } from '../../errors.js';
import type { Conv2dInfo, Window2d } from '../../../kernels/types.js';
import { backend } from '../../backend/index.js';
import type { Random } from '../random.js';
import { Tensor } from '../tensor.js';
import { normalizeAxis } from '../shape.js';
import { exp } from './elementwise.js';
import { allocate } from '../../../kernels/buffers.js';

/**
 * x + bias on the last axis, then relu if asked: one pass each way (the backend's biasActivation),
 * where add (which materializes the broadcast bias) and relu took three forward and three
 * backward. The same values and the same sums in the same order, so the same bits.
 */
export function biasAdd(x: Tensor, bias: Tensor, activation: 'linear' | 'relu' = 'linear'): Tensor {
  const channels = x.shape[x.rank - 1];
  if (bias.rank !== 1 || bias.shape[0] !== channels)
    throw new ShapeError(
      'biasAdd',
      `bias ${fmtShape(bias.shape)} does not match the last axis of ${fmtShape(x.shape)}`,
    );
  const relu = activation === 'relu';
  const out = backend().biasActivation(x.data, bias.data, relu);
  return Tensor.record(new Tensor(out, x.shape), [x, bias], (g) => {
    const { dz, dbias } = backend().biasActivationGrad(out, g, channels, relu);
    return [dz, dbias];
  });
}

/** [m,k] · [k,n] → [m,n]. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.rank !== 2 || b.rank !== 2) {
    throw new ShapeError('matmul', `expects two matrices (rank 2), got ${fmtShape(a.shape)} x ${fmtShape(b.shape)}`);
  }
  const [m, k] = a.shape;
  const [k2, n] = b.shape;
  if (k !== k2) throw new ShapeError('matmul', `inner dimensions differ: ${fmtShape(a.shape)} x ${fmtShape(b.shape)}`);
  const out = backend().matmul(a.data, b.data, m, k, n, false, false);
  return Tensor.record(new Tensor(out, [m, n]), [a, b], (g) => [
    a.requiresGrad ? backend().matmul(g, b.data, m, n, k, false, true) : null, // dA = dC · Bᵀ
    b.requiresGrad ? backend().matmul(a.data, g, k, m, n, true, false) : null, // dB = Aᵀ · dC
  ]);
}

export type Padding = 'same' | 'valid';

export interface Conv2dOptions {
  strides?: number | [number, number];
  padding?: Padding;
  /** Spacing of the filter's taps (atrous convolution); strides and dilation may not both exceed 1, as in TensorFlow. */
  dilationRate?: number | [number, number];
}

function pair(op: string, name: string, v: number | [number, number]): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : v;
  if (p.length !== 2 || !p.every((s) => Number.isInteger(s) && s >= 1)) {
    throw new ArgumentError(`${op}: ${name} must be a positive integer or a pair of them, got ${JSON.stringify(v)}`);
  }
  return p;
}

/** Output size and leading padding of one spatial dim, as TensorFlow computes them. */
function outDim(op: string, size: number, k: number, s: number, padding: Padding): [number, number] {
  if (padding === 'same') {
    const out = Math.ceil(size / s);
    return [out, Math.floor(Math.max((out - 1) * s + k - size, 0) / 2)];
  }
  if (padding !== 'valid')
    throw new ArgumentError(`${op}: padding must be 'same' or 'valid', got '${String(padding)}'`);
  if (size < k) throw new ShapeError(op, `window ${k} is larger than the input size ${size} with 'valid' padding`);
  return [Math.floor((size - k) / s) + 1, 0];
}

function window2d(
  op: string,
  xShape: number[],
  kH: number,
  kW: number,
  strides: [number, number],
  padding: Padding,
): Window2d {
  const [batch, inH, inW, channels] = xShape;
  const [outH, padTop] = outDim(op, inH, kH, strides[0], padding);
  const [outW, padLeft] = outDim(op, inW, kW, strides[1], padding);
  return { batch, inH, inW, channels, kH, kW, strideH: strides[0], strideW: strides[1], padTop, padLeft, outH, outW };
}

/** The geometry of conv2d(x, filter, options), validated. */
function convInfo(op: string, x: Tensor, filter: Tensor, options: Conv2dOptions): Conv2dInfo {
  if (x.rank !== 4) throw new ShapeError(op, `input must be rank 4 NHWC, got ${fmtShape(x.shape)}`);
  if (filter.rank !== 4)
    throw new ShapeError(op, `filter must be rank 4 [kh,kw,inC,outC], got ${fmtShape(filter.shape)}`);
  const [kH, kW, inC, outC] = filter.shape;
  if (inC !== x.shape[3]) {
    throw new ShapeError(
      op,
      `depth of input ${fmtShape(x.shape)} (${x.shape[3]}) must match input depth of filter ${fmtShape(filter.shape)} (${inC})`,
    );
  }
  const strides = pair(op, 'strides', options.strides ?? 1);
  const [dH, dW] = pair(op, 'dilationRate', options.dilationRate ?? 1);
  if ((dH > 1 || dW > 1) && (strides[0] > 1 || strides[1] > 1)) {
    throw new ArgumentError(
      `${op}: strides ${JSON.stringify(options.strides)} and dilationRate ${JSON.stringify(options.dilationRate)} cannot both be above 1 (as in TensorFlow and Keras)`,
    );
  }
  // A dilated window covers (k−1)·d+1 pixels: its output size and padding are those of that window.
  const window = window2d(op, x.shape, (kH - 1) * dH + 1, (kW - 1) * dW + 1, strides, options.padding ?? 'valid');
  return { ...window, kH, kW, ...(dH > 1 || dW > 1 ? { dilationH: dH, dilationW: dW } : {}), outC };
}

/** 2-D convolution: x NHWC [batch,h,w,inC], filter [kh,kw,inC,outC] → [batch,outH,outW,outC]. */
export function conv2d(x: Tensor, filter: Tensor, options: Conv2dOptions = {}): Tensor {
  const info = convInfo('conv2d', x, filter, options);
  const out = backend().conv2d(x.data, filter.data, info);
  return Tensor.record(new Tensor(out, [info.batch, info.outH, info.outW, info.outC]), [x, filter], (g) => [
    x.requiresGrad ? backend().conv2dBackpropInput(g, filter.data, info) : null,
    filter.requiresGrad ? backend().conv2dBackpropFilter(x.data, g, info) : null,
  ]);
}

/**
 * act(conv2d(x, filter) + bias) as one op, as TensorFlow.js's fused.conv2d: the same bits as
 * the ops apart, with one pass fewer each way. Where the CPU runs the convolution direct, the
 * kernel adds the bias and applies the relu as it stores; backward masks the gradient and sums
 * the bias's once, for both convolution gradients.
 */
export function fusedConv2d(
  x: Tensor,
  filter: Tensor,
  bias: Tensor,
  activation: 'linear' | 'relu',
  options: Conv2dOptions = {},
): Tensor {
  const info = convInfo('fusedConv2d', x, filter, options);
  if (bias.rank !== 1 || bias.shape[0] !== info.outC)
    throw new ShapeError(
      'fusedConv2d',
      `bias ${fmtShape(bias.shape)} does not match the filter's ${info.outC} output channels`,
    );
  const relu = activation === 'relu';
  const out =
    backend().conv2dBiasActivation?.(x.data, filter.data, bias.data, relu, info) ??
    backend().biasActivation(backend().conv2d(x.data, filter.data, info), bias.data, relu);
  return Tensor.record(new Tensor(out, [info.batch, info.outH, info.outW, info.outC]), [x, filter, bias], (g) => {
    const { dz, dbias } = backend().biasActivationGrad(out, g, info.outC, relu);
    return [
      x.requiresGrad ? backend().conv2dBackpropInput(dz, filter.data, info) : null,
      filter.requiresGrad ? backend().conv2dBackpropFilter(x.data, dz, info) : null,
      dbias,
    ];
  });
}

export interface Pool2dOptions {
  poolSize?: number | [number, number];
  strides?: number | [number, number];
  padding?: Padding;
}

/** Max pooling over NHWC; strides default to the pool size, padding to 'valid'. */
export function maxPool2d(x: Tensor, options: Pool2dOptions = {}): Tensor {
  if (x.rank !== 4) throw new ShapeError('maxPool2d', `input must be rank 4 NHWC, got ${fmtShape(x.shape)}`);
  const [kH, kW] = pair('maxPool2d', 'poolSize', options.poolSize ?? 2);
  const strides = pair('maxPool2d', 'strides', options.strides ?? [kH, kW]);
  const info = window2d('maxPool2d', x.shape, kH, kW, strides, options.padding ?? 'valid');
  const { out, argmax } = backend().maxPool2d(x.data, info);
  return Tensor.record(new Tensor(out, [info.batch, info.outH, info.outW, info.channels]), [x], (g) => [
    backend().maxPool2dBackward(g, argmax, x.size),
  ]);
}

/** Average pooling over NHWC (padding cells not counted, as TensorFlow); strides default to the pool size. */
export function avgPool2d(x: Tensor, options: Pool2dOptions = {}): Tensor {
  if (x.rank !== 4) throw new ShapeError('avgPool2d', `input must be rank 4 NHWC, got ${fmtShape(x.shape)}`);
  const [kH, kW] = pair('avgPool2d', 'poolSize', options.poolSize ?? 2);
  const strides = pair('avgPool2d', 'strides', options.strides ?? [kH, kW]);
  const info = window2d('avgPool2d', x.shape, kH, kW, strides, options.padding ?? 'valid');
  return Tensor.record(
    new Tensor(backend().avgPool2d(x.data, info), [info.batch, info.outH, info.outW, info.channels]),
    [x],
    (g) => [backend().avgPool2dBackward(g, info)],
  );
}

/** The mean of each channel over every position of an NHWC batch: [b, h, w, c] → [b, c], one pass each way. */
export function globalAvgPool2d(x: Tensor): Tensor {
  if (x.rank !== 4) throw new ShapeError('globalAvgPool2d', `input must be rank 4 NHWC, got ${fmtShape(x.shape)}`);
  const [batch, h, w, channels] = x.shape;
  const positions = h * w;
  return Tensor.record(
    new Tensor(backend().globalAvgPool(x.data, batch, positions, channels), [batch, channels]),
    [x],
    (g) => [backend().globalAvgPoolBackward(g, batch, positions, channels)],
  );
}

/**
 * log(softmax(x)) along `axis`, stable: x − max − log Σ exp(x − max).
 * Backward: g − softmax · Σg (fused; composing it from primitives would lose precision).
 */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  const ax = normalizeAxis('logSoftmax', axis, x.rank);
  const len = x.shape[ax];
  let inner = 1;
  for (let d = ax + 1; d < x.rank; d++) inner *= x.shape[d];
  const outer = x.size / Math.max(len * inner, 1);
  const out = allocate(x.size);
  const src = x.data;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * len * inner + i;
      let m = -Infinity;
      for (let l = 0; l < len; l++) m = Math.max(m, src[base + l * inner]);
      let s = 0;
      for (let l = 0; l < len; l++) s += Math.exp(src[base + l * inner] - m);
      const shift = m + Math.log(s);
      for (let l = 0; l < len; l++) out[base + l * inner] = src[base + l * inner] - shift;
    }
  }
  return Tensor.record(new Tensor(out, x.shape), [x], (g) => {
    const gx = allocate(x.size);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const base = o * len * inner + i;
        let gs = 0;
        for (let l = 0; l < len; l++) gs += g[base + l * inner];
        for (let l = 0; l < len; l++) {
          const at = base + l * inner;
          gx[at] = g[at] - Math.exp(out[at]) * gs;
        }
      }
    }
    return [gx];
  });
}

export function softmax(x: Tensor, axis = -1): Tensor {
  return exp(logSoftmax(x, axis));
}

/** Inverted dropout: zeroes each value with probability `rate`, scales the rest by 1/(1−rate). */
export function dropout(x: Tensor, rate: number, rng: Random): Tensor {
  if (!(rate >= 0 && rate < 1)) throw new ArgumentError(`dropout: rate must be in [0, 1), got ${rate}`);
  if (rate === 0) return x;
  // One pass each way, the mask (0 or 1/(1 − rate)) kept for the backward pass. A value is
  // dropped when a 32-bit draw falls below rate·2³²: one draw a value, where a 53-bit
  // uniform took two (the generator was most of the op's time).
  const n = x.size,
    mask = allocate(n),
    out = allocate(n);
  // The scale as the mask stores it (float32), so out = x · mask exactly as a product of the two.
  const keep = Math.fround(1 / (1 - rate)),
    threshold = rate * 2 ** 32,
    xs = x.data;
  for (let i = 0; i < n; i++) {
    const m = rng.nextUint32() < threshold ? 0 : keep;
    mask[i] = m;
    out[i] = xs[i] * m;
  }
  return Tensor.record(new Tensor(out, x.shape), [x], (g) => {
    const gx = allocate(n);
    for (let i = 0; i < n; i++) gx[i] = g[i] * mask[i];
    return [gx];
  });
}
