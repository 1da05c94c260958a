import { layOut, normalizeKernel } from './normalize-simd.js';
import { allocate, allocateInt32, allocateZeroed } from '../buffers.js';
import type { Window2d } from '../types.js';
import { maxPool2x2Simd } from './pool-simd.js';

/**
 * Max pooling over NHWC windows. Returns the pooled values and, per output, the flat
 * index of the input it came from (the first maximum), which is all backward needs.
 * Window cells in the padding never win; a NaN does (the first one), as in PyTorch.
 */
export function maxPool2d(x: Float32Array, w: Window2d): { out: Float32Array; argmax: Int32Array } {
  const { batch, inH, inW, channels: c, kH, kW, strideH, strideW, padTop, padLeft, outH, outW } = w;
  const out = allocate(batch * outH * outW * c);
  const argmax = allocateInt32(out.length);
  if (
    kH === 2 &&
    kW === 2 &&
    strideH === 2 &&
    strideW === 2 &&
    padTop === 0 &&
    padLeft === 0 &&
    2 * outH <= inH &&
    2 * outW <= inW
  ) {
    if (!maxPool2x2Simd(x, batch, inH, inW, c, outH, outW, out, argmax)) maxPool2x2(x, w, out, argmax);
    return { out, argmax };
  }
  let o = 0;
  for (let b = 0; b < batch; b++) {
    for (let oy = 0; oy < outH; oy++) {
      const y0 = Math.max(0, oy * strideH - padTop);
      const y1 = Math.min(inH, oy * strideH - padTop + kH);
      for (let ox = 0; ox < outW; ox++, o += c) {
        const x0 = Math.max(0, ox * strideW - padLeft);
        const x1 = Math.min(inW, ox * strideW - padLeft + kW);
        for (let ch = 0; ch < c; ch++) {
          let best = -Infinity;
          let bestAt = -1;
          for (let iy = y0; iy < y1; iy++) {
            for (let ix = x0; ix < x1; ix++) {
              const at = ((b * inH + iy) * inW + ix) * c + ch;
              const v = x[at];
              // `bestAt < 0` keeps a window of -Infinity from pointing nowhere.
              if (v > best || bestAt < 0 || (v !== v && best === best)) {
                best = v;
                bestAt = at;
              }
            }
          }
          out[o + ch] = best;
          argmax[o + ch] = bestAt;
        }
      }
    }
  }
  return { out, argmax };
}

/**
 * The common case, 2×2 windows at stride 2 wholly inside the input, without the general
 * window loops: the same cells in the same order, so the same winner.
 */
function maxPool2x2(x: Float32Array, w: Window2d, out: Float32Array, argmax: Int32Array): void {
  const { batch, inH, inW, channels: c, outH, outW } = w;
  const down = inW * c;
  let o = 0;
  for (let b = 0; b < batch; b++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0, base = (b * inH + 2 * oy) * inW * c; ox < outW; ox++, base += 2 * c) {
        for (let ch = 0; ch < c; ch++, o++) {
          // Row-major over the window, as the general loop: a later cell wins only if larger, or the first NaN.
          const at = base + ch;
          let best = x[at];
          let bestAt = at;
          let v = x[at + c];
          if (v > best || (v !== v && best === best)) {
            best = v;
            bestAt = at + c;
          }
          v = x[at + down];
          if (v > best || (v !== v && best === best)) {
            best = v;
            bestAt = at + down;
          }
          v = x[at + down + c];
          if (v > best || (v !== v && best === best)) {
            best = v;
            bestAt = at + down + c;
          }
          out[o] = best;
          argmax[o] = bestAt;
        }
      }
    }
  }
}

/** Routes each output gradient to the input that won its window. */
export function maxPool2dBackward(dy: Float32Array, argmax: Int32Array, inputSize: number): Float32Array {
  const dx = allocateZeroed(inputSize);
  for (let i = 0; i < dy.length; i++) dx[argmax[i]] += dy[i];
  return dx;
}

/**
 * Average pooling over NHWC windows, as TensorFlow: a window's average is over its cells
 * inside the input (padding cells do not count). Returns the outputs.
 */
export function avgPool2d(x: Float32Array, w: Window2d): Float32Array {
  const out = allocateZeroed(w.batch * w.outH * w.outW * w.channels);
  eachWindow(w, (o, at, count) => {
    out[o] += x[at] / count;
  });
  return out;
}

/** Spreads each output's gradient evenly over the input cells of its window. */
export function avgPool2dBackward(dy: Float32Array, w: Window2d): Float32Array {
  const dx = allocateZeroed(w.batch * w.inH * w.inW * w.channels);
  eachWindow(w, (o, at, count) => {
    dx[at] += dy[o] / count;
  });
  return dx;
}

/**
 * The mean of every channel over all `positions` of each of `batch` images ([batch, positions,
 * channels] → [batch, channels]): sums in float64, one pass.
 */
export function globalAvgPool(x: Float32Array, batch: number, positions: number, channels: number): Float32Array {
  const out = allocate(batch * channels);
  const k = channels % 4 === 0 && positions > 0 ? normalizeKernel() : null;
  if (k !== null) {
    // Each image's channel sums by the normalization's float64 column pass: the loop's sums, in its order.
    const { at, f32, f64 } = layOut(k, { x: [x.length, 4], sums: [batch * channels, 8] });
    f32.set(x, at.x / 4);
    f64.fill(0, at.sums / 8, at.sums / 8 + batch * channels);
    for (let b = 0; b < batch; b++)
      k.colSums(at.x + 4 * b * positions * channels, positions, channels / 4, at.sums + 8 * b * channels);
    for (let i = 0; i < batch * channels; i++) out[i] = f64[at.sums / 8 + i] / positions;
    return out;
  }
  const sum = new Float64Array(channels);
  for (let b = 0; b < batch; b++) {
    sum.fill(0);
    const base = b * positions * channels;
    for (let p = 0; p < positions; p++) {
      const at = base + p * channels;
      for (let k = 0; k < channels; k++) sum[k] += x[at + k];
    }
    for (let k = 0; k < channels; k++) out[b * channels + k] = sum[k] / positions;
  }
  return out;
}

/** Each image's channel gradient, spread evenly over its positions: its first row computed, then copied in doubling blocks. */
export function globalAvgPoolBackward(
  dy: Float32Array,
  batch: number,
  positions: number,
  channels: number,
): Float32Array {
  const dx = allocate(batch * positions * channels);
  for (let b = 0; b < batch; b++) {
    const base = b * positions * channels,
      end = base + positions * channels;
    if (positions === 0) continue;
    for (let k = 0; k < channels; k++) dx[base + k] = dy[b * channels + k] / positions;
    for (let filled = channels; base + filled < end; filled *= 2)
      dx.copyWithin(base + filled, base, Math.min(base + filled, end - filled));
  }
  return dx;
}

/** Calls visit(output index, input index, cells in that window) for every input cell of every window. */
function eachWindow(w: Window2d, visit: (o: number, at: number, count: number) => void): void {
  const { batch, inH, inW, channels: c, kH, kW, strideH, strideW, padTop, padLeft, outH, outW } = w;
  let o = 0;
  for (let b = 0; b < batch; b++) {
    for (let oy = 0; oy < outH; oy++) {
      const y0 = Math.max(0, oy * strideH - padTop),
        y1 = Math.min(inH, oy * strideH - padTop + kH);
      for (let ox = 0; ox < outW; ox++, o += c) {
        const x0 = Math.max(0, ox * strideW - padLeft),
          x1 = Math.min(inW, ox * strideW - padLeft + kW);
        const count = (y1 - y0) * (x1 - x0);
        for (let iy = y0; iy < y1; iy++) {
          for (let ix = x0; ix < x1; ix++) {
            const base = ((b * inH + iy) * inW + ix) * c;
            for (let ch = 0; ch < c; ch++) visit(o + ch, base + ch, count);
          }
        }
      }
    }
  }
}
