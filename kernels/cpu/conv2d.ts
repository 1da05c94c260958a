import type { Conv2dInfo, Window2d } from '../types.js';
import { matmul } from './matmul.js';

/**
 * Convolution as im2col + matmul: each output pixel's receptive field becomes one row
 * of `cols` [batch·outH·outW, kH·kW·C] (zeros where the window hangs over the padding),
 * so forward and both gradients are single matmuls on the packed CPU kernel.
 */
export function im2col(x: Float32Array, w: Window2d, cols = new Float32Array(w.batch * w.outH * w.outW * w.kH * w.kW * w.channels)): Float32Array {
  const { batch, inH, inW, channels: c, kH, kW, strideH, strideW, padTop, padLeft, outH, outW } = w;
  let d = 0;
  for (let b = 0; b < batch; b++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        for (let ky = 0; ky < kH; ky++) {
          const iy = oy * strideH - padTop + ky;
          for (let kx = 0; kx < kW; kx++, d += c) {
            const ix = ox * strideW - padLeft + kx;
            if (iy < 0 || iy >= inH || ix < 0 || ix >= inW) {
              cols.fill(0, d, d + c);
              continue;
            }
            const src = ((b * inH + iy) * inW + ix) * c;
            for (let ch = 0; ch < c; ch++) cols[d + ch] = x[src + ch];
          }
        }
      }
    }
  }
  return cols;
}

/** The adjoint of im2col: adds every row of `cols` back onto the pixels it was read from. */
export function col2im(cols: Float32Array, w: Window2d, x = new Float32Array(w.batch * w.inH * w.inW * w.channels)): Float32Array {
  const { batch, inH, inW, channels: c, kH, kW, strideH, strideW, padTop, padLeft, outH, outW } = w;
  let s = 0;
  for (let b = 0; b < batch; b++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        for (let ky = 0; ky < kH; ky++) {
          const iy = oy * strideH - padTop + ky;
          for (let kx = 0; kx < kW; kx++, s += c) {
            const ix = ox * strideW - padLeft + kx;
            if (iy < 0 || iy >= inH || ix < 0 || ix >= inW) continue;
            const dst = ((b * inH + iy) * inW + ix) * c;
            for (let ch = 0; ch < c; ch++) x[dst + ch] += cols[s + ch];
          }
        }
      }
    }
  }
  return x;
}

const rowsOf = (w: Conv2dInfo) => w.batch * w.outH * w.outW;
const patchOf = (w: Conv2dInfo) => w.kH * w.kW * w.channels;

/** y[b,oy,ox,o] = Σ x[b, oy·s+ky−pad, ox·s+kx−pad, c] · f[ky,kx,c,o] (NHWC, filter HWIO). */
export function conv2d(x: Float32Array, filter: Float32Array, info: Conv2dInfo): Float32Array {
  if (is1x1(info)) return matmul(x, filter, rowsOf(info), info.channels, info.outC);
  return matmul(im2col(x, info), filter, rowsOf(info), patchOf(info), info.outC);
}

/** dL/dx from dL/dy: dy · fᵀ, scattered back through the windows. */
export function conv2dBackpropInput(dy: Float32Array, filter: Float32Array, info: Conv2dInfo): Float32Array {
  if (is1x1(info)) return matmul(dy, filter, rowsOf(info), info.outC, info.channels, false, true);
  return col2im(matmul(dy, filter, rowsOf(info), info.outC, patchOf(info), false, true), info);
}

/** dL/df from x and dL/dy: colsᵀ · dy. */
export function conv2dBackpropFilter(x: Float32Array, dy: Float32Array, info: Conv2dInfo): Float32Array {
  const cols = is1x1(info) ? x : im2col(x, info);
  return matmul(cols, dy, patchOf(info), rowsOf(info), info.outC, true, false);
}

/** A 1×1, stride-1, unpadded convolution is already a matmul over pixels: skip im2col. */
function is1x1(w: Conv2dInfo): boolean {
  return w.kH === 1 && w.kW === 1 && w.strideH === 1 && w.strideW === 1 && w.padTop === 0 && w.padLeft === 0;
}
