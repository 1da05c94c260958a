import type { ReadHandle } from '../storage/storage.js';

/** Reads of bytes held whole (an IndexedDB record, a File): slices, as a file descriptor would give them. */
export function readHandleOverBytes(
  size: number,
  slice: (offset: number, end: number) => Promise<Uint8Array>,
): ReadHandle {
  return {
    size,
    async read(offset: number, length: number, into?: Uint8Array) {
      const bytes = await slice(offset, Math.min(size, offset + length));
      if (!into) return bytes;
      into.set(bytes);
      return into.subarray(0, bytes.length);
    },
    close: async () => undefined,
  };
}
