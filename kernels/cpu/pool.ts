import type { Window2d } from '../types.js';

/**
 * Max pooling over NHWC windows. Returns the pooled values and, per output, the flat
 * index of the input it came from (the first maximum), which is all backward needs.
 * Window cells in the padding never win; a NaN does (the first one), as in PyTorch.
 */
export function maxPool2d(x: Float32Array, w: Window2d): { out: Float32Array; argmax: Int32Array } {
  const { batch, inH, inW, channels: c, kH, kW, strideH, strideW, padTop, padLeft, outH, outW } = w;
  const out = new Float32Array(batch * outH * outW * c);
  const argmax = new Int32Array(out.length);
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

/** Routes each output gradient to the input that won its window. */
export function maxPool2dBackward(dy: Float32Array, argmax: Int32Array, inputSize: number): Float32Array {
  const dx = new Float32Array(inputSize);
  for (let i = 0; i < dy.length; i++) dx[argmax[i]] += dy[i];
  return dx;
}

/**
 * Average pooling over NHWC windows, as TensorFlow: a window's average is over its cells
 * inside the input (padding cells do not count). Returns the outputs.
 */
export function avgPool2d(x: Float32Array, w: Window2d): Float32Array {
  const out = new Float32Array(w.batch * w.outH * w.outW * w.channels);
  eachWindow(w, (o, at, count) => { out[o] += x[at] / count; });
  return out;
}

/** Spreads each output's gradient evenly over the input cells of its window. */
export function avgPool2dBackward(dy: Float32Array, w: Window2d): Float32Array {
  const dx = new Float32Array(w.batch * w.inH * w.inW * w.channels);
  eachWindow(w, (o, at, count) => { dx[at] += dy[o] / count; });
  return dx;
}

/** Calls visit(output index, input index, cells in that window) for every input cell of every window. */
function eachWindow(w: Window2d, visit: (o: number, at: number, count: number) => void): void {
  const { batch, inH, inW, channels: c, kH, kW, strideH, strideW, padTop, padLeft, outH, outW } = w;
  let o = 0;
  for (let b = 0; b < batch; b++) {
    for (let oy = 0; oy < outH; oy++) {
      const y0 = Math.max(0, oy * strideH - padTop), y1 = Math.min(inH, oy * strideH - padTop + kH);
      for (let ox = 0; ox < outW; ox++, o += c) {
        const x0 = Math.max(0, ox * strideW - padLeft), x1 = Math.min(inW, ox * strideW - padLeft + kW);
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
