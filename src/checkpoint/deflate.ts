/**
 * Raw DEFLATE (RFC 1951) both ways. Compression: Node's native zlib where it exists, on the
 * libuv thread pool and in parallel pieces; fflate elsewhere (browsers). Decompression:
 * zlib on the thread pool and this package's own decoder (inflate.ts) on the calling thread,
 * sharing the work. All read and write the same streams.
 */
import { deflateSync } from 'fflate';
import { inflateInto } from './inflate.js';
import { allocUninitialized, nodeCores, nodeZlib } from './node.js';

const zlib = nodeZlib();

export interface DeflateOptions {
  level: number;
  /**
   * For byte planes of floats, whose bytes repeat in runs or not at all, full LZ77 finds
   * nothing more than 'huffman' (Huffman coding only, zlib's Z_HUFFMAN_ONLY) or 'rle' (runs
   * plus Huffman, Z_RLE, best for planes that are mostly one value), at several times the cost.
   */
  strategy?: 'default' | 'huffman' | 'rle';
}

/** Inputs are compressed in pieces of this size, in parallel on the thread pool. */
const PIECE = 1 << 18;

/**
 * Compresses off the calling thread. Large inputs are cut into 256 KiB pieces compressed in
 * parallel, as pigz does: every piece but the last ends with a sync flush (an empty stored
 * block, byte-aligned, not final), so the pieces concatenate into one valid DEFLATE stream.
 */
export async function deflateRaw(bytes: Uint8Array, { level, strategy: kind = 'default' }: DeflateOptions): Promise<Uint8Array> {
  if (!zlib) return deflateSync(bytes, { level: level as 1 });
  const strategy = { default: zlib.constants.Z_DEFAULT_STRATEGY, huffman: zlib.constants.Z_HUFFMAN_ONLY, rle: zlib.constants.Z_RLE }[kind];
  // Without LZ77 matches beyond one byte, a 512-byte window suffices and the stream is cheaper to set up.
  const memory = kind === 'default' ? {} : { windowBits: 9 };
  const piece = (start: number, last: boolean) => new Promise<Uint8Array>((resolve, reject) => {
    const input = bytes.subarray(start, last ? bytes.length : start + PIECE);
    const finishFlush = last ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH;
    zlib.deflateRaw(input, { level, strategy, finishFlush, chunkSize: chunkFor(input.length), ...memory }, (err, out) => (err ? reject(err) : resolve(out)));
  });
  const starts: number[] = [];
  for (let s = 0; s === 0 || s < bytes.length; s += PIECE) starts.push(s);
  const pieces = await Promise.all(starts.map((s, i) => piece(s, i === starts.length - 1)));
  return pieces.length === 1 ? pieces[0] : concat(pieces);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Inflates running on the thread pool now, and how many may: the cores but this one. */
let poolInflates = 0;
const POOL_INFLATES = Math.max(1, (nodeCores() ?? 2) - 1);

export interface InflateOptions {
  /**
   * Whether the stream may be decoded on the calling thread. Byte planes (Huffman-coded
   * literals and runs) decode there several times faster than zlib; streams full of LZ77
   * matches decode faster in zlib, which copies matches natively.
   */
  literalsMostly: boolean;
}

/**
 * Inflates into exactly `expectedLength` bytes. Output is capped at that length (a stream
 * that would inflate further is rejected, never allocated): the zip-bomb guard. Returns the
 * bytes produced, whose length the caller checks. In Node, streams go to the thread pool
 * while it has a free core; the rest decode here, so both cores work on a checkpoint's planes.
 */
export async function inflateRaw(bytes: Uint8Array, expectedLength: number, { literalsMostly }: InflateOptions): Promise<Uint8Array> {
  if (zlib && (poolInflates < POOL_INFLATES || !literalsMostly)) {
    poolInflates++;
    try {
      return await new Promise<Uint8Array>((resolve, reject) => {
        zlib.inflateRaw(bytes, { maxOutputLength: Math.max(expectedLength, 1), chunkSize: chunkFor(expectedLength) }, (err, out) => (err ? reject(err) : resolve(out)));
      });
    } finally {
      poolInflates--;
    }
  }
  const out = allocUninitialized(expectedLength);
  return out.subarray(0, inflateInto(bytes, out));
}

/** One output chunk for the whole result avoids zlib concatenating 16 KiB pieces. */
function chunkFor(length: number): number {
  return Math.min(Math.max(length + 64, 64 * 1024), 64 * 1024 * 1024);
}
