/**
 * A PNG decoder for tests (8-bit RGB/RGBA, non-interlaced: what rsvg-convert writes), from
 * the PNG spec: chunks, zlib-compressed IDAT, and the five per-row filters.
 */
import { inflateSync } from 'node:zlib';

export interface Image {
  width: number;
  height: number;
  rgba: Uint8Array;
}

export function decodePng(file: Uint8Array): Image {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  if (view.getUint32(0) !== 0x89504e47) throw new Error('not a PNG');
  let width = 0,
    height = 0,
    colorType = 0;
  const idat: Uint8Array[] = [];
  for (let at = 8; at < file.length;) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...file.subarray(at + 4, at + 8));
    const data = file.subarray(at + 8, at + 8 + length);
    if (type === 'IHDR') {
      width = view.getUint32(at + 8);
      height = view.getUint32(at + 12);
      const [depth, ct, , , interlace] = data.subarray(8, 13);
      if (depth !== 8 || (ct !== 2 && ct !== 6) || interlace !== 0)
        throw new Error(`unsupported PNG: depth ${depth}, color type ${ct}, interlace ${interlace}`);
      colorType = ct;
    } else if (type === 'IDAT') idat.push(data);
    at += 12 + length;
  }
  const channels = colorType === 6 ? 4 : 3;
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const row = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? pixels[y * stride + i - channels] : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + i] : 0;
      const c = y > 0 && i >= channels ? pixels[(y - 1) * stride + i - channels] : 0;
      const p = a + b - c,
        pa = Math.abs(p - a),
        pb = Math.abs(p - b),
        pc = Math.abs(p - c);
      const predictor = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][filter];
      if (predictor === undefined) throw new Error(`bad PNG filter ${filter} on row ${y}`);
      pixels[y * stride + i] = (row[i] + predictor) & 0xff;
    }
  }
  if (channels === 4) return { width, height, rgba: pixels };
  const rgba = new Uint8Array(width * height * 4);
  for (let k = 0; k < width * height; k++) rgba.set([...pixels.subarray(k * 3, k * 3 + 3), 255], k * 4);
  return { width, height, rgba };
}

/** The pixel at (x, y), rounded to the nearest pixel, as [r, g, b, a]. */
export function pixel(image: Image, x: number, y: number): number[] {
  const k = (Math.round(y) * image.width + Math.round(x)) * 4;
  return Array.from(image.rgba.subarray(k, k + 4));
}

/** Whether a pixel within `radius` of (x, y) is within `tolerance` (per channel) of `hex`. */
export function colorNear(image: Image, x: number, y: number, hex: string, radius = 1, tolerance = 40): boolean {
  const want = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  for (let dy = -radius; dy <= radius; dy++) {
    for (let dx = -radius; dx <= radius; dx++) {
      const got = pixel(image, x + dx, y + dy);
      if (want.every((w, c) => Math.abs(w - got[c]) <= tolerance)) return true;
    }
  }
  return false;
}
