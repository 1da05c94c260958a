/**
 * The bookkeeping every SIMD kernel does with its WebAssembly memory: regions laid out one
 * after another, and the memory grown to hold them.
 */

/** Grows `memory` (by whole 64 KiB pages) to at least `bytes`; views of it taken before are then stale. */
export function growMemory(memory: WebAssembly.Memory, bytes: number): void {
  const missing = bytes - memory.buffer.byteLength;
  if (missing > 0) memory.grow(Math.ceil(missing / 65536));
}

/**
 * Offsets of regions of the given sizes laid out one after another from 0, each starting on a
 * 16-byte boundary (a v128's), and where they end: sizes and offsets in units of `unit` bytes.
 */
export function regions<K extends string>(sizes: Record<K, number>, unit = 1): Record<K | 'end', number> {
  const align = 16 / unit;
  let at = 0;
  const out: Partial<Record<K | 'end', number>> = {};
  for (const key of Object.keys(sizes) as K[]) {
    out[key] = at;
    at += Math.ceil(sizes[key] / align) * align;
  }
  out.end = at;
  return out as Record<K | 'end', number>;
}
