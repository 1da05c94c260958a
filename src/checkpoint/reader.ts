/**
 * Reads .wpt files defensively: every length and offset is checked against the file size
 * before anything is allocated, the header and each payload are checksummed, and any
 * failure is a CheckpointError naming file, entry and offset. Opening reads only the
 * prologue, trailer and header; an entry is read (and verified) when asked for.
 */
import { Tensor } from '../tensor/tensor.js';
import { CheckpointError } from './errors.js';
import {
  type EntryHeader, type FileHeader, FORMAT_MAJOR, MAGIC, MAX_HEADER_BYTES, PROLOGUE_SIZE, TRAILER_MAGIC, TRAILER_SIZE,
  validateHeader, assertLittleEndianHost, decodedByteLength, DTYPE_SIZE,
} from './format.js';
import { allocUninitialized } from './node.js';
import { type VerifiedPayload, verifyPayload } from './codecs.js';
import { recycle, takeScratch } from './recycler.js';
import { PlaneInflater } from './plane-inflater.js';
import { crc32 } from './crc32.js';
import { float16ToFloat32 } from './float16.js';
import { type JsonValue, parseJson } from './state.js';
import { type ReadHandle, type Storage, getDefaultStorage } from './storage.js';

export type EntryValue = Tensor | JsonValue;

/**
 * Reads in flight at once, of at most READ_PIECE bytes each. Checksumming and decoding
 * start as pieces land, so a few in flight keep the I/O threads and this thread both busy;
 * issuing every read at once would make the first entry wait for them all (they share the
 * disk and the cores).
 */
const READS_IN_FLIGHT = 3;
const READ_PIECE = 1 << 20;

export class WptReader {
  private readonly readSlots = new Slots(READS_IN_FLIGHT);

  private constructor(
    readonly path: string,
    readonly header: FileHeader,
    /** CRC-32 of the header bytes, from the trailer: identifies this exact file. */
    readonly headerCrc32: number,
    readonly size: number,
    private handle: ReadHandle,
  ) {}

  get entries(): EntryHeader[] {
    return this.header.entries;
  }

  static async open(path: string, storage: Storage = getDefaultStorage()): Promise<WptReader> {
    assertLittleEndianHost();
    let handle: ReadHandle;
    try {
      handle = await storage.openRead(path);
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code;
      throw new CheckpointError('IO', `cannot open: ${code ?? (cause as Error).message}`, { file: path, cause });
    }
    try {
      const { header, headerCrc32 } = await readHeader(handle, path);
      return new WptReader(path, header, headerCrc32, handle.size, handle);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  entry(key: string): EntryHeader {
    const e = this.entries.find((x) => x.key === key);
    if (e === undefined) throw new CheckpointError('MISSING_KEYS', 'no such entry', { file: this.path, entry: key });
    return e;
  }

  /** Reads, verifies and decodes one entry: a Tensor (float32 or float16 stored) or a JSON value. */
  read(key: string | EntryHeader): Promise<EntryValue> {
    return this.readEntry(typeof key === 'string' ? this.entry(key) : key);
  }

  /** `inflater` shares the deflated planes of a whole load between the thread pool and this thread. */
  private async readEntry(e: EntryHeader, inflater?: PlaneInflater): Promise<EntryValue> {
    // A raw tensor is read straight into the array it will own, so the I/O thread, not
    // this one, takes the page faults of that fresh memory. Other payloads go to scratch
    // memory (already paged in) and decode from there into the fresh array.
    const into = e.dtype !== 'json' && e.codec === 'raw' ? allocUninitialized(e.length) : undefined;
    const verified = await this.readVerified(e, inflater, into);
    try {
      let bytes = verified.decoded ?? into;
      if (bytes === undefined) {
        bytes = allocUninitialized(decodedByteLength(e));
        verified.decodeInto(bytes);
      }
      return decodeValue(bytes, e, this.path);
    } finally {
      verified.release();
    }
  }

  /**
   * An entry's payload, read (into `into`, else scratch memory) and verified: checksummed
   * as its pieces land, its deflated parts inflated and their sizes checked. Scratch is
   * taken when the entry's first piece starts to read, so a load holds scratch only for
   * the entries in flight.
   */
  private async readVerified(e: EntryHeader, inflater: PlaneInflater | undefined, into?: Uint8Array): Promise<VerifiedPayload> {
    let scratch: Uint8Array | undefined;
    let read;
    try {
      read = await this.readChecksummed(e, () => into ?? (scratch = takeScratch(e.length)));
    } catch (err) {
      if (scratch) recycle([scratch]);
      throw err;
    }
    return verifyPayload(read.payload, e, this.path, { inflater, payloadCrc32: read.crc32 }, scratch ? [scratch] : []);
  }

  /**
   * Reads tensor entries into existing arrays (a built model being restored), all or none.
   * Every payload is read into scratch memory and verified (checksums, inflated sizes)
   * before `commit` writes the first array, so a damaged file leaves every array as it was.
   * Scratch memory is recycled: a process that restores again (BackupAndRestore, the best
   * weights of EarlyStopping, a benchmark) reads into memory already paged in, and the
   * restore allocates nothing the garbage collector has to chase.
   */
  async stage(targets: Array<{ key: string; into: Float32Array }>): Promise<StagedRead> {
    const entries = targets.map(({ key, into }) => {
      const e = this.entry(key);
      const values = e.dtype === 'json' ? -1 : decodedByteLength(e) / DTYPE_SIZE[e.dtype];
      if (values !== into.length) {
        throw new CheckpointError('SHAPE_MISMATCH', `the array to restore holds ${into.length} values, the file has ${e.dtype === 'json' ? 'a JSON value' : `${values}`}`, { file: this.path, entry: key, offset: e.offset });
      }
      return e;
    });
    const inflater = new PlaneInflater(entries);
    const settled = await Promise.allSettled(entries.map((e) => this.readVerified(e, inflater)));
    const verified = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    const discard = () => verified.forEach((v) => v.release());
    if (failure) {
      discard();
      throw failure.reason;
    }
    return {
      commit() {
        verified.forEach((v, i) => decodeTensorInto(v, entries[i], targets[i].into));
        discard();
      },
      discard,
    };
  }

  /**
   * Reads an entry's payload in pieces, a few in flight, and checksums each piece as it
   * lands while the next ones are read: the checksum overlaps the reading instead of
   * following it. A file that ends first is TRUNCATED.
   */
  private async readChecksummed(e: EntryHeader, target: () => Uint8Array): Promise<{ payload: Uint8Array; crc32: number }> {
    let buffer: Uint8Array | undefined;
    const pieces: Array<Promise<Uint8Array>> = [];
    for (let at = 0; at === 0 || at < e.length; at += READ_PIECE) {
      const length = Math.min(READ_PIECE, e.length - at);
      pieces.push(this.readSlots.acquire().then(() => this.handle.read(e.offset + at, length, (buffer ??= target()).subarray(at))).finally(() => this.readSlots.release()));
    }
    let crc = 0;
    let got = 0;
    for (const piece of pieces) {
      // On failure, every read still in flight lands before this returns: the buffer may be
      // scratch that goes back to the recycler, and another load or save must not find
      // bytes of this one appearing in it later.
      const bytes = await piece.catch(async (cause: unknown) => {
        await Promise.allSettled(pieces);
        throw cause;
      });
      crc = crc32(bytes, crc);
      got += bytes.length;
      if (bytes.length < READ_PIECE) break; // the file ended
    }
    if (got !== e.length) {
      await Promise.allSettled(pieces);
      throw new CheckpointError('TRUNCATED', `payload needs ${e.length} bytes, file has ${got}`, { file: this.path, entry: e.key, offset: e.offset });
    }
    return { payload: (buffer as Uint8Array).subarray(0, got), crc32: crc };
  }

  /**
   * Every entry, read and decoded concurrently: reads go in file order, a few in flight,
   * and each entry decodes into its new array as it lands (planes inflating on the thread
   * pool overlap the checksums and interleaving done here).
   */
  async readAll(): Promise<Map<string, EntryValue>> {
    const inflater = new PlaneInflater(this.entries);
    return new Map(await Promise.all(this.entries.map(async (e) => [e.key, await this.readEntry(e, inflater)] as const)));
  }

  /** Checks every checksum and decoded size; returns the problems found (empty when sound). */
  async verify(): Promise<CheckpointError[]> {
    const problems: CheckpointError[] = [];
    for (const e of this.entries) {
      try {
        await this.read(e);
      } catch (err) {
        if (!(err instanceof CheckpointError)) throw err;
        problems.push(err);
      }
    }
    return problems;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

/** Verified entries waiting to be written into their arrays (WptReader.stage). */
export interface StagedRead {
  /** Decodes every entry into its array and frees the scratch memory; cannot fail. */
  commit(): void;
  /** Frees the scratch memory, leaving every array as it was. */
  discard(): void;
}

/** Decodes a verified tensor entry into `into` (float16 entries widened to float32). */
function decodeTensorInto(v: VerifiedPayload, e: EntryHeader, into: Float32Array): void {
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

/** Opens, reads everything, closes. */
export async function readWpt(path: string, storage?: Storage): Promise<{ header: FileHeader; values: Map<string, EntryValue> }> {
  const reader = await WptReader.open(path, storage);
  try {
    return { header: reader.header, values: await reader.readAll() };
  } finally {
    await reader.close();
  }
}

async function readHeader(h: ReadHandle, file: string): Promise<{ header: FileHeader; headerCrc32: number }> {
  if (h.size === 0) throw new CheckpointError('TRUNCATED', 'file is empty', { file, offset: 0 });
  const prologue = await h.read(0, Math.min(PROLOGUE_SIZE, h.size));
  if (!startsWith(prologue, MAGIC.subarray(0, Math.min(prologue.length, MAGIC.length)))) {
    throw new CheckpointError('BAD_MAGIC', 'not a .wpt file (magic bytes differ)', { file, offset: 0 });
  }
  if (h.size < PROLOGUE_SIZE + TRAILER_SIZE) {
    throw new CheckpointError('TRUNCATED', `file is ${h.size} bytes, smaller than prologue + trailer`, { file, offset: h.size });
  }
  const pv = new DataView(prologue.buffer, prologue.byteOffset, PROLOGUE_SIZE);
  const major = pv.getUint16(8, true), minor = pv.getUint16(10, true), flags = pv.getUint32(12, true);
  if (major !== FORMAT_MAJOR) throw new CheckpointError('UNSUPPORTED_VERSION', `format version ${major}.${minor}; this reader reads ${FORMAT_MAJOR}.x`, { file, offset: 8 });
  if (flags !== 0) throw new CheckpointError('UNSUPPORTED_VERSION', `reserved flags 0x${flags.toString(16)} are set`, { file, offset: 12 });

  const trailerAt = h.size - TRAILER_SIZE;
  const trailer = await h.read(trailerAt, TRAILER_SIZE);
  if (!startsWith(trailer.subarray(16), TRAILER_MAGIC)) {
    throw new CheckpointError('TRUNCATED', 'no trailer at the end of the file (cut short, or never finished)', { file, offset: trailerAt });
  }
  const tv = new DataView(trailer.buffer, trailer.byteOffset, TRAILER_SIZE);
  const headerOffset = Number(tv.getBigUint64(0, true));
  const headerLength = tv.getUint32(8, true);
  const headerCrc = tv.getUint32(12, true);
  if (headerLength > MAX_HEADER_BYTES) {
    throw new CheckpointError('HEADER_TOO_LARGE', `header is ${headerLength} bytes, over the ${MAX_HEADER_BYTES}-byte cap`, { file, offset: trailerAt + 8 });
  }
  if (headerOffset < PROLOGUE_SIZE || headerOffset + headerLength !== trailerAt) {
    throw new CheckpointError('OFFSET_OUT_OF_RANGE', `header at [${headerOffset}, ${headerOffset + headerLength}) does not end where the trailer starts (${trailerAt})`, { file, offset: trailerAt });
  }
  const headerBytes = await h.read(headerOffset, headerLength);
  const actual = crc32(headerBytes);
  if (actual !== headerCrc) {
    throw new CheckpointError('CHECKSUM_MISMATCH', `header CRC-32 is 0x${actual.toString(16)}, trailer says 0x${headerCrc.toString(16)}`, { file, entry: '(header)', offset: headerOffset });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (cause) {
    throw new CheckpointError('MALFORMED_HEADER', `header is not UTF-8 JSON: ${(cause as Error).message}`, { file, offset: headerOffset, cause });
  }
  const header = validateHeader(parsed, file, headerOffset);
  if (header.version[0] !== major || header.version[1] !== minor) {
    throw new CheckpointError('MALFORMED_HEADER', `header says version ${header.version.join('.')}, prologue ${major}.${minor}`, { file, offset: 8 });
  }
  return { header, headerCrc32: headerCrc };
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

function decodeValue(bytes: Uint8Array, e: EntryHeader, file: string): EntryValue {
  if (e.dtype === 'json') {
    try {
      return parseJson(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    } catch (cause) {
      throw new CheckpointError('MALFORMED_HEADER', `JSON entry does not parse: ${(cause as Error).message}`, { file, entry: e.key, offset: e.offset, cause });
    }
  }
  // Typed-array views need alignment and must not alias a pooled buffer (zlib output can be
  // a slice of one): view only a buffer the bytes own outright, else copy.
  const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
  const data = e.dtype === 'float16'
    ? float16ToFloat32(new Uint16Array(own.buffer, 0, own.length / 2))
    : new Float32Array(own.buffer, 0, own.length / 4);
  return new Tensor(data, e.shape);
}
