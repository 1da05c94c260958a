/** What the torch and ONNX exports share: TensorFlow's padding, the channel order of a flattened image, the kernel and gate layouts, and merges in a channels-first graph. */
import type { Layer, SampleShape } from '../nn/layer.js';

/** TensorFlow's 'same' padding of one dim: [before, after]. */
export function samePadding(size: number, k: number, s: number): [number, number] {
  const total = Math.max((Math.ceil(size / s) - 1) * s + k - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** For an [h, w, c] image flattened channels-first (as NCHW runtimes do): flat index j → Waypoint's (h, w, c) index. */
export function channelsFirstOrder([h, w, ch]: number[]): Int32Array {
  const perm = new Int32Array(h * w * ch);
  for (let k = 0; k < ch; k++)
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) perm[(k * h + y) * w + x] = (y * w + x) * ch + k;
  return perm;
}

/** A Keras conv kernel [kh, kw, in, out] ↔ torch's and ONNX's [out, in, kh, kw]; `back` writes the Keras kernel. */
export function convKernel(
  keras: Float32Array,
  other: Float32Array,
  [kh, kw, inC, outC]: number[],
  back: boolean,
): void {
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let ci = 0; ci < inC; ci++)
        for (let o = 0; o < outC; o++) {
          const k = ((y * kw + x) * inC + ci) * outC + o,
            t = ((o * inC + ci) * kh + y) * kw + x;
          if (back) keras[k] = other[t];
          else other[t] = keras[k];
        }
}

/**
 * A Keras recurrent kernel [rows, gates·u] ↔ the gate-major [gates·u, rows] of torch and ONNX,
 * whose gate block b is Keras's block order[b]; `back` writes the Keras kernel.
 */
export function gateMatrix(
  keras: Float32Array,
  other: Float32Array,
  rows: number,
  u: number,
  order: readonly number[],
  back: boolean,
): void {
  const width = order.length * u;
  order.forEach((kb, ob) => {
    for (let j = 0; j < u; j++)
      for (let r = 0; r < rows; r++) {
        if (back) keras[r * width + kb * u + j] = other[(ob * u + j) * rows + r];
        else other[(ob * u + j) * rows + r] = keras[r * width + kb * u + j];
      }
  });
}

/** A gate-blocked bias [gates·u] with its blocks in `order` (block b of the result is block order[b] of `from`), into `into` at `at`. */
export function gateBias(
  from: Float32Array,
  order: readonly number[],
  u: number,
  into: Float32Array = new Float32Array(order.length * u),
  at = 0,
): Float32Array {
  order.forEach((kb, ob) => into.set(from.subarray(kb * u, (kb + 1) * u), at + ob * u));
  return into;
}

/**
 * A merge layer's call in a graph that holds images channels-first: its output shape, and for
 * Concatenate the axis of the full channels-first tensor (NHWC's H, W, C are NCHW's 2, 3, 1).
 * Refused (through `refuse`, naming `format`): flattened images, whose feature orders differ
 * between the layouts, and images that broadcast, which would broadcast along other axes.
 */
export function channelsFirstMerge(
  layer: Layer,
  inputs: ReadonlyArray<{ shape: SampleShape; perm: Int32Array | null }>,
  format: string,
  refuse: (why: string) => never,
): { shape: SampleShape; concatAxis: number | null } {
  const shape = layer.outputShapesFor(inputs.map((v) => v.shape))[0];
  if (inputs.some((v) => v.perm !== null))
    refuse(`merges flattened images, whose feature order ${format} has as C, H, W (merge before Flatten)`);
  if (layer.className === 'Concatenate') {
    const rank = shape.length + 1;
    const axis = (layer as unknown as { axis: number }).axis;
    const full = axis < 0 ? axis + rank : axis;
    return { shape, concatAxis: rank === 4 ? [0, 2, 3, 1][full] : full };
  }
  if (inputs.some((v) => v.shape.length === 3) && inputs.some((v) => v.shape.join() !== shape.join()))
    refuse(`broadcasts images, which ${format} holds as NCHW (merge images of one shape)`);
  return { shape, concatAxis: null };
}
