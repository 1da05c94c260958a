/**
 * Reads one entry's payload through a ReadHandle: in pieces, a few in flight, checksummed
 * as they land, then verified (inflated sizes) and decoded. WptReader uses it on the calling
 * thread; load threads (load-worker.ts) use it on theirs, over the same open file.
 */
import { Tensor } from '../../tensor/tensor.js';
import { CheckpointError } from '../../state/errors.js';
import { type EntryHeader, decodedByteLength } from '../layout/format.js';
import { platform } from '../../platform.js';
import { type VerifiedPayload, verifyPayload } from './codecs.js';
import { recycle, takeScratch } from '../layout/recycler.js';
import type { PlaneInflater } from './plane-inflater.js';
import { crc32 } from '../layout/crc32.js';
import { float16ToFloat32 } from '../layout/float16.js';
import { type JsonValue, parseJson } from '../../state/tree.js';
import type { ReadHandle } from '../../storage/storage.js';

export type EntryValue = Tensor | JsonValue;

/**
 * Reads in flight at once, of at most READ_PIECE bytes each. Checksumming and decoding
 * start as pieces land, so a few in flight keep the I/O threads and this thread both busy;
 * issuing every read at once would make the first entry wait for them all (they share the
 * disk and the cores).
 */
const READS_IN_FLIGHT = 3;
const READ_PIECE = 1 << 20;

export class EntryReader {
  private readonly readSlots = new Slots(READS_IN_FLIGHT);

  /** `path` names the file in errors. */
  constructor(
    readonly path: string,
    private readonly handle: ReadHandle,
  ) {}

  /** Reads, verifies and decodes one entry: a Tensor (float32 or float16 stored) or a JSON value. */
  async read(e: EntryHeader, inflater?: PlaneInflater): Promise<EntryValue> {
    // A raw tensor is read straight into the array it will own, so the I/O thread, not
    // this one, takes the page faults of that fresh memory. Other payloads go to scratch
    // memory (already paged in) and decode from there into the fresh array.
    const into = e.dtype !== 'json' && e.codec === 'raw' ? platform().allocUninitialized(e.length) : undefined;
    const verified = await this.readVerified(e, inflater, { into });
    try {
      let bytes = verified.decoded ?? into;
      if (bytes === undefined) {
        bytes = platform().allocUninitialized(decodedByteLength(e));
        verified.decodeInto(bytes);
      }
      return decodeValue(bytes, e, this.path);
    } finally {
      verified.release();
    }
  }

  /** Reads, verifies and decodes a tensor entry into `out` (float16 widened); a raw float32 one is read straight into it. */
  async readTensorInto(e: EntryHeader, out: Float32Array, inflater?: PlaneInflater): Promise<void> {
    const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    const float32 = e.dtype === 'float32';
    // A raw payload is read into the array itself, a deflated one inflated straight into it.
    const verified = await this.readVerified(e, inflater, {
      into: e.codec === 'raw' && float32 ? bytes : undefined,
      inflateInto: e.codec === 'deflate' && float32 ? bytes : undefined,
    });
    try {
      decodeTensorInto(verified, e, out);
    } finally {
      verified.release();
    }
  }

  /**
   * Checks an entry without keeping it: its stored bytes checksummed as they stream through
   * a few rotating pieces of scratch (all a raw entry needs), a compressed one's parts also
   * inflated to their exact sizes, in scratch of the entry's size that is handed back. What
   * a restore too large to stage reads first (WptReader.stage).
   */
  async verify(e: EntryHeader, inflater: PlaneInflater | undefined): Promise<void> {
    if (e.codec !== 'raw') {
      (await this.readVerified(e, inflater, { checkOnly: true })).release();
      return;
    }
    const ring = Array.from({ length: READS_IN_FLIGHT }, () => takeScratch(Math.min(READ_PIECE, e.length)));
    try {
      const actual = await this.readChecksummed(e, (at) => ring[(at / READ_PIECE) % READS_IN_FLIGHT]);
      (await verifyPayload(new Uint8Array(0), e, this.path, { payloadCrc32: actual })).release();
    } finally {
      recycle(ring);
    }
  }

  /**
   * Reads a raw float32 entry straight into `out` without checksumming it: the second read
   * of bytes verified a moment ago, of a file whose version stamp shows it unchanged
   * (WptReader.stage). A file that ends first is TRUNCATED.
   */
  async readVerifiedAgain(e: EntryHeader, out: Float32Array): Promise<void> {
    const into = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    await this.readChecksummed(e, (at) => into.subarray(at), false);
  }

  /**
   * An entry's payload, read (into `into`, else scratch memory) and verified: checksummed
   * as its pieces land, its deflated parts inflated and their sizes checked. Scratch is
   * taken when the entry's first piece starts to read, so a load holds scratch only for
   * the entries in flight.
   */
  async readVerified(
    e: EntryHeader,
    inflater: PlaneInflater | undefined,
    { into, checkOnly = false, inflateInto }: { into?: Uint8Array; checkOnly?: boolean; inflateInto?: Uint8Array } = {},
  ): Promise<VerifiedPayload> {
    let buffer = into;
    let actual;
    try {
      actual = await this.readChecksummed(e, (at) => (buffer ??= takeScratch(e.length)).subarray(at));
    } catch (err) {
      if (buffer && !into) recycle([buffer]);
      throw err;
    }
    const payload = (buffer as Uint8Array).subarray(0, e.length);
    return verifyPayload(
      payload,
      e,
      this.path,
      { inflater, payloadCrc32: actual, checkOnly, inflateInto },
      into ? [] : [payload],
    );
  }

  /**
   * Reads an entry's payload in pieces of READ_PIECE bytes, a few in flight, and checksums
   * each as it lands while the next ones are read: the checksum overlaps the reading
   * instead of following it. `target(at)` is the memory for the piece at payload byte `at`;
   * a piece is started only once the one READS_IN_FLIGHT before it was checksummed, so
   * `target` may hand out a few rotating buffers and stream a payload of any size. Returns
   * the CRC-32 (0 without `checksum`); a file that ends first is TRUNCATED.
   */
  private async readChecksummed(e: EntryHeader, target: (at: number) => Uint8Array, checksum = true): Promise<number> {
    const inFlight: Array<Promise<Uint8Array>> = [];
    let next = 0;
    const startPiece = () => {
      const at = next;
      next += READ_PIECE;
      inFlight.push(
        this.readSlots
          .acquire()
          .then(() => this.handle.read(e.offset + at, Math.min(READ_PIECE, e.length - at), target(at)))
          .finally(() => this.readSlots.release()),
      );
    };
    startPiece(); // an empty payload still reads once, to find that the file holds it
    while (next < e.length && inFlight.length < READS_IN_FLIGHT) startPiece();
    let crc = 0;
    let got = 0;
    try {
      while (inFlight.length > 0) {
        const bytes = await inFlight.shift()!;
        if (checksum) crc = crc32(bytes, crc);
        got += bytes.length;
        if (bytes.length < READ_PIECE) break; // the file ended
        if (next < e.length) startPiece();
      }
    } finally {
      // Every read still in flight lands before this returns: the memory may be scratch that
      // goes back to the recycler, and another load or save must not find bytes of this one
      // appearing in it later.
      await Promise.allSettled(inFlight);
    }
    if (got !== e.length)
      throw new CheckpointError('TRUNCATED', `payload needs ${e.length} bytes, file has ${got}`, {
        file: this.path,
        entry: e.key,
        offset: e.offset,
      });
    return crc;
  }
}

/** Decodes a verified tensor entry into `into` (float16 entries widened to float32). */
export function decodeTensorInto(v: VerifiedPayload, e: EntryHeader, into: Float32Array): void {
  if (e.dtype === 'float32') {
    v.decodeInto(new Uint8Array(into.buffer, into.byteOffset, into.byteLength));
    return;
  }
  const half = takeScratch(into.length * 2);
  v.decodeInto(half);
  float16ToFloat32(new Uint16Array(half.buffer, half.byteOffset, into.length), into);
  recycle([half]);
}

/** A counting semaphore: acquire waits (first come, first served) while `free` is zero. */
class Slots {
  private waiting: Array<() => void> = [];
  constructor(private free: number) {}

  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

function decodeValue(bytes: Uint8Array, e: EntryHeader, file: string): EntryValue {
  if (e.dtype === 'json') {
    try {
      return parseJson(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    } catch (cause) {
      throw new CheckpointError('MALFORMED_HEADER', `JSON entry does not parse: ${(cause as Error).message}`, {
        file,
        entry: e.key,
        offset: e.offset,
        cause,
      });
    }
  }
  // Typed-array views need alignment and memory of their own: the bytes here start a buffer
  // that nothing else uses (fresh, or zlib's output, which can run 64 bytes past them), else
  // they are copied into memory of their own (a Node Buffer's slice() would be another view).
  const own = bytes.byteOffset === 0 ? bytes : copyOf(bytes);
  const data =
    e.dtype === 'float16'
      ? float16ToFloat32(
          new Uint16Array(own.buffer, 0, own.length / 2),
          new Float32Array(platform().allocUninitialized(own.length * 2).buffer, 0, own.length / 2),
        )
      : new Float32Array(own.buffer, 0, own.length / 4);
  return new Tensor(data, e.shape);
}

/** A copy in memory of its own (every allocation for a file's contents goes through allocUninitialized). */
function copyOf(bytes: Uint8Array): Uint8Array {
  const out = platform().allocUninitialized(bytes.length);
  out.set(bytes);
  return out;
}
