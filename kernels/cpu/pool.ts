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
