/**
 * Raw DEFLATE (RFC 1951) both ways. Compression: Node's native zlib where it exists, on the
 * libuv thread pool and in parallel pieces; fflate elsewhere (browsers). Decompression: zlib
 * on the thread pool; on the calling thread, this package's decoder for the streams of
 * literals it is fastest at (inflate.ts), zlib or fflate for everything else. All read and
 * write the same streams.
 */
import { deflateSync, inflateSync } from 'fflate';
import { InflateError, inflateLiterals } from './inflate.js';
import { type NativeZlib, platform } from '../../platform.js';

export interface DeflateOptions {
  level: number;
  /**
   * For byte planes of floats, whose bytes repeat in runs or not at all, full LZ77 finds
   * nothing more than 'huffman' (Huffman coding only, zlib's Z_HUFFMAN_ONLY) or 'rle' (runs
   * plus Huffman, Z_RLE, best for planes that are mostly one value), at several times the cost.
   */
  strategy?: 'default' | 'huffman' | 'rle';
  /** Keep this thread free even for small inputs (see EncodeOptions.background). */
  background?: boolean;
}

/** Inputs under this size compress and decompress on the calling thread. */
const SMALL = 64 * 1024;

/** Inputs are compressed in pieces of this size, in parallel on the thread pool. */
const PIECE = 1 << 18;

/** Pieces compressing on the pool at once: enough to keep its threads busy; each holds a zlib stream and its output. */
const PIECES_IN_FLIGHT = 8;

/**
 * Compresses off the calling thread. Large inputs are cut into 256 KiB pieces compressed in
 * parallel, as pigz does: every piece but the last ends with a sync flush (an empty stored
 * block, byte-aligned, not final), so the pieces concatenate into one valid DEFLATE stream.
 */
export async function deflateRaw(bytes: Uint8Array, options: DeflateOptions): Promise<Uint8Array> {
  const pieces = await deflateRawPieces(bytes, options);
  return pieces.length === 1 ? pieces[0] : concat(pieces);
}

/**
 * deflateRaw's stream as its pieces, in order (written one after another they are the
 * stream), without the copy that joins them. At most PIECES_IN_FLIGHT are compressing at
 * once: a 64 MB entry started all its 256 pieces together, each with a zlib stream and an
 * output buffer (hundreds of MB at once).
 */
export async function deflateRawPieces(
  bytes: Uint8Array,
  { level, strategy: kind = 'default', background = false }: DeflateOptions,
): Promise<Uint8Array[]> {
  const zlib = platform().zlib;
  if (!zlib) return [deflateSync(bytes, { level: level as 1 })];
  const strategy = {
    default: zlib.constants.Z_DEFAULT_STRATEGY,
    huffman: zlib.constants.Z_HUFFMAN_ONLY,
    rle: zlib.constants.Z_RLE,
  }[kind];
  // Without LZ77 matches beyond one byte, a 512-byte window suffices and the stream is cheaper to set up.
  const memory = kind === 'default' ? {} : { windowBits: 9 };
  // A small input compresses here in less time than a round trip to the pool takes.
  if (bytes.length < SMALL && !background) return [zlib.deflateRawSync(bytes, { level, strategy, ...memory })];
  const piece = (start: number, last: boolean) =>
    new Promise<Uint8Array>((resolve, reject) => {
      const input = bytes.subarray(start, last ? bytes.length : start + PIECE);
      const finishFlush = last ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH;
      zlib.deflateRaw(
        input,
        { level, strategy, finishFlush, chunkSize: chunkFor(input.length), ...memory },
        (err, out) => (err ? reject(err) : resolve(out)),
      );
    });
  const count = Math.max(1, Math.ceil(bytes.length / PIECE));
  const out: Uint8Array[] = new Array(count);
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      out[i] = await piece(i * PIECE, i === count - 1);
    }
  };
  // A failed piece stops its lane; the others finish theirs before the failure is thrown.
  const lanes = await Promise.allSettled(Array.from({ length: Math.min(PIECES_IN_FLIGHT, count) }, lane));
  const failed = lanes.find((l) => l.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return out;
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

/** Streams inflating on the thread pool at once per load: the cores but this one. */
export const poolLanes = () => Math.max(1, platform().cores() - 1);

/** Whether there is a thread pool to deflate and inflate on (Node's zlib). */
export function havePool(): boolean {
  return platform().zlib !== undefined;
}

/**
 * Inflates into exactly `expectedLength` bytes: on zlib's thread pool in Node (zlib copies
 * LZ77 matches natively, faster than any JavaScript; small inputs stay here), here
 * elsewhere. Output is capped at that length (a stream that would inflate further is
 * rejected, never allocated): the zip-bomb guard. Returns the bytes produced, whose length
 * the caller checks.
 */
export function inflateRaw(bytes: Uint8Array, expectedLength: number): Promise<Uint8Array> {
  const zlib = platform().zlib;
  if (!zlib || expectedLength < SMALL) {
    return Promise.resolve().then(() => {
      const out = platform().allocUninitialized(expectedLength);
      return out.subarray(0, inflateHere(bytes, out));
    });
  }
  return new Promise<Uint8Array>((resolve, reject) => {
    zlib.inflateRaw(
      bytes,
      { maxOutputLength: Math.max(expectedLength, 1), chunkSize: chunkFor(expectedLength) },
      (err, out) => (err ? reject(err) : resolve(out)),
    );
  });
}

/**
 * How many bytes `bytes` inflate to (at most `cap`: a stream that would grow past it
 * rejects), without holding them: where Node has zlib, streamed through 1 MiB output chunks,
 * which a verification only counts. inflateRaw returns one buffer of the whole size, which
 * the garbage collector frees late: a 4 GB restore of `deflate` entries verified that way
 * peaked at 915 MiB beyond the model. Small inputs and other platforms inflate whole.
 */
export async function inflatedLength(bytes: Uint8Array, cap: number): Promise<number> {
  if (!streams() || cap < STREAM_BYTES) return (await inflateRaw(bytes, cap)).length;
  return inflateStreaming(bytes, cap, () => undefined);
}

/**
 * Inflates `bytes` into `out` (a stream that would grow past it rejects), through 1 MiB
 * chunks where Node has zlib, so that no buffer of the whole size is made; returns the
 * bytes written. Small inputs and other platforms inflate whole and copy.
 */
export async function inflateRawInto(bytes: Uint8Array, out: Uint8Array): Promise<number> {
  if (!streams() || out.length < STREAM_BYTES) {
    const whole = await inflateRaw(bytes, out.length);
    out.set(whole);
    return whole.length;
  }
  return inflateStreaming(bytes, out.length, (chunk, at) => out.set(chunk, at));
}

/** Outputs of at least this many bytes inflate through a stream (inflatedLength, inflateRawInto). */
const STREAM_BYTES = 8 << 20;
const streams = () => platform().zlib?.createInflateRaw !== undefined;

function inflateStreaming(
  bytes: Uint8Array,
  cap: number,
  onChunk: (chunk: Uint8Array, at: number) => void,
): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const stream = platform().zlib!.createInflateRaw!({ chunkSize: 1 << 20 });
    let produced = 0;
    stream.on('data', (chunk) => {
      if (produced + chunk.length > cap) {
        stream.destroy();
        reject(new InflateError(`output would exceed ${cap} bytes`));
        return;
      }
      onChunk(chunk, produced);
      produced += chunk.length;
    });
    stream.on('end', () => resolve(produced));
    stream.on('error', reject);
    for (let at = 0; at < bytes.length; at += 1 << 20) stream.write(bytes.subarray(at, at + (1 << 20)));
    stream.end();
  });
}

/**
 * Inflates on this thread into `out`; returns the bytes written. Streams of literals with
 * short codes (the byte planes this package writes) go to its own decoder, several times
 * as fast as zlib on them (`npm run bench -- deflate` prints the ratio); every other stream
 * goes to zlib where Node has it, else to fflate. Errors of every decoder are InflateErrors.
 */
export function inflateHere(bytes: Uint8Array, out: Uint8Array): number {
  const zlib = platform().zlib;
  return inflateLiterals(bytes, out) ?? (zlib ? inflateWithZlib(zlib, bytes, out) : inflateWithFflate(bytes, out));
}

type ZlibResult = { buffer: Uint8Array; engine: { bytesWritten: number } };

function inflateWithZlib(z: NativeZlib, bytes: Uint8Array, out: Uint8Array): number {
  let result: ZlibResult;
  try {
    // `info` returns the engine too, whose count of input bytes consumed tells trailing bytes (which zlib ignores).
    const options = { maxOutputLength: Math.max(out.length, 1), chunkSize: chunkFor(out.length), info: true };
    result = z.inflateRawSync(bytes, options) as ZlibResult;
  } catch (cause) {
    const code = (cause as { code?: string }).code;
    throw new InflateError(
      code === 'ERR_BUFFER_TOO_LARGE' ? `output would exceed ${out.length} bytes` : `zlib: ${(cause as Error).message}`,
    );
  }
  const consumed = result.engine.bytesWritten;
  if (consumed < bytes.length)
    throw new InflateError(`${bytes.length - consumed} bytes follow the final block`, consumed);
  out.set(result.buffer);
  return result.buffer.length;
}

function inflateWithFflate(bytes: Uint8Array, out: Uint8Array): number {
  // fflate stops silently where its output buffer ends: one byte of room more tells a stream that fits from a longer one.
  let produced: Uint8Array;
  try {
    produced = inflateSync(bytes, { out: new Uint8Array(out.length + 1) });
  } catch (cause) {
    throw new InflateError(`fflate: ${(cause as Error).message}`);
  }
  if (produced.length > out.length) throw new InflateError(`output would exceed ${out.length} bytes`);
  out.set(produced);
  return produced.length;
}

/** One output chunk for the whole result avoids zlib concatenating 16 KiB pieces. */
function chunkFor(length: number): number {
  return Math.min(Math.max(length + 64, 64 * 1024), 64 * 1024 * 1024);
}
