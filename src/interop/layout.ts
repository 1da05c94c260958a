/** What the torch and ONNX exports share: TensorFlow's padding and the channel order of a flattened image. */

/** TensorFlow's 'same' padding of one dim: [before, after]. */
export function samePadding(size: number, k: number, s: number): [number, number] {
  const total = Math.max((Math.ceil(size / s) - 1) * s + k - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** For an [h, w, c] image flattened channels-first (as NCHW runtimes do): flat index j → Waypoint's (h, w, c) index. */
export function channelsFirstOrder([h, w, ch]: number[]): Int32Array {
  const perm = new Int32Array(h * w * ch);
  for (let k = 0; k < ch; k++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) perm[(k * h + y) * w + x] = (y * w + x) * ch + k;
  return perm;
}
