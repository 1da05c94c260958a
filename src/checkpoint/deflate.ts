/**
 * Raw DEFLATE (RFC 1951) both ways: Node's native zlib where it exists (several times
 * faster, and it can run on the libuv thread pool), fflate elsewhere (browsers). Both read
 * and write the same streams.
 */
import { deflateSync, inflateSync } from 'fflate';
import { nodeZlib } from './node.js';

const zlib = nodeZlib();

export interface DeflateOptions {
  level: number;
  /**
   * Run-length + Huffman only (zlib's Z_RLE): for byte planes of floats, whose bytes repeat
   * in runs or not at all, it compresses as well as full LZ77 at several times the speed.
   */
  rle?: boolean;
}

export type Deflater = (bytes: Uint8Array, options: DeflateOptions) => Promise<Uint8Array>;

/** Compresses on the calling thread. */
export const deflateRaw: Deflater = async (bytes, { level, rle = false }) => {
  if (!zlib) return deflateSync(bytes, { level: level as 1 });
  const strategy = rle ? zlib.constants.Z_RLE : zlib.constants.Z_DEFAULT_STRATEGY;
  return zlib.deflateRawSync(bytes, { level, strategy, chunkSize: chunkFor(bytes.length) });
};

/** Compresses on Node's thread pool, so the calling thread stays free for training. */
export const deflateRawInBackground: Deflater = (bytes, options) => {
  if (!zlib) return deflateRaw(bytes, options);
  const strategy = options.rle ? zlib.constants.Z_RLE : zlib.constants.Z_DEFAULT_STRATEGY;
  return new Promise((resolve, reject) => {
    zlib.deflateRaw(bytes, { level: options.level, strategy, chunkSize: chunkFor(bytes.length) },
      (err, out) => (err ? reject(err) : resolve(out)));
  });
};

/**
 * Inflates into exactly `expectedLength` bytes. Output is capped at that length (a stream
 * that would inflate further is rejected, never allocated): the zip-bomb guard. Returns
 * the bytes produced, whose length the caller compares with the expectation.
 */
export function inflateRaw(bytes: Uint8Array, expectedLength: number): Uint8Array {
  if (zlib) {
    return zlib.inflateRawSync(bytes, { maxOutputLength: Math.max(expectedLength, 1), chunkSize: chunkFor(expectedLength) });
  }
  const out = new Uint8Array(expectedLength);
  return inflateSync(bytes, { out });
}

/** One output chunk for the whole result avoids zlib concatenating 16 KiB pieces. */
function chunkFor(length: number): number {
  return Math.min(Math.max(length + 64, 64 * 1024), 64 * 1024 * 1024);
}
