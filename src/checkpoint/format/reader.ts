/**
 * Reads .wpt files defensively: every length and offset is checked against the file size
 * before anything is allocated, the header and each payload are checksummed, and any
 * failure is a CheckpointError naming file, entry and offset. Opening reads only the
 * prologue, trailer and header; an entry is read (and verified) when asked for.
 */
import { Tensor } from '../../tensor/tensor.js';
import { CheckpointError } from '../../state/errors.js';
import { osError } from '../../storage/os-errors.js';
import {
  type EntryHeader,
  type FileHeader,
  FORMAT_MAJOR,
  MAGIC,
  MAX_HEADER_BYTES,
  PROLOGUE_SIZE,
  TRAILER_MAGIC,
  TRAILER_SIZE,
  validateHeader,
  assertLittleEndianHost,
  decodedByteLength,
  DTYPE_SIZE,
} from '../layout/format.js';
import { keepMoreWhile, recycle, takeScratch } from '../layout/recycler.js';
import { ProgressCounter, type TransferOptions, throwIfAborted } from '../layout/transfer.js';
import { PlaneInflater } from '../codec/plane-inflater.js';
import { crc32 } from '../layout/crc32.js';
import { type EntryValue, EntryReader, decodeTensorInto } from '../codec/entry-reader.js';
import {
  type Lane,
  type LoadThread,
  loadDone,
  loadThreadsFor,
  shareOut,
  useCallingThread,
} from '../threads/load-threads.js';
import type { ReadHandle, Storage } from '../../storage/storage.js';
import { storageForPath } from '../../storage/url-storages.js';

export type { EntryValue } from '../codec/entry-reader.js';

/**
 * Entries in progress at once on this thread and on each load thread, when a load is
 * shared: one decoding while the next one's pieces are read.
 */
const HERE_SLOTS = 2;
const THREAD_SLOTS = 2;

/**
 * Restores of more decoded bytes than this read the file twice instead of holding it all
 * in scratch (see WptReader.stage): the bound on a restore's extra memory is the largest
 * entry plus this, where staging needed the whole model again.
 */
export const STAGE_BYTES = 64 << 20;
/** Stored bytes of entries in flight at once in a streamed restore (one entry may exceed it alone), and a raw entry's share of it. */
const STREAM_BYTES = 32 << 20;
const STREAM_PIECE_BYTES = 3 << 20;

export class WptReader {
  private readonly payloads: EntryReader;

  private constructor(
    readonly path: string,
    readonly header: FileHeader,
    /** CRC-32 of the header bytes, from the trailer: identifies this exact file. */
    readonly headerCrc32: number,
    readonly size: number,
    private handle: ReadHandle,
  ) {
    this.payloads = new EntryReader(path, handle);
  }

  get entries(): EntryHeader[] {
    return this.header.entries;
  }

  /** Opens `path` in `storage`; without one, in the storage the path names (an http(s) or s3:// URL's, else the default: storageForPath). */
  static async open(path: string, storage?: Storage): Promise<WptReader> {
    assertLittleEndianHost();
    storage ??= storageForPath(path);
    let handle: ReadHandle;
    try {
      handle = await storage.openRead(path);
    } catch (cause) {
      throw osError('cannot open the file', path, cause);
    }
    try {
      const { header, headerCrc32 } = await readHeader(handle, path);
      return new WptReader(path, header, headerCrc32, handle.size, handle);
    } catch (e) {
      await handle.close();
      throw osError('cannot read the file', path, e);
    }
  }

  entry(key: string): EntryHeader {
    const e = this.entries.find((x) => x.key === key);
    if (e === undefined) throw new CheckpointError('MISSING_KEYS', 'no such entry', { file: this.path, entry: key });
    return e;
  }

  /** Reads, verifies and decodes one entry: a Tensor (float32 or float16 stored) or a JSON value. */
  read(key: string | EntryHeader): Promise<EntryValue> {
    return this.payloads.read(typeof key === 'string' ? this.entry(key) : key);
  }

  /**
   * Reads tensor entries into existing arrays (a built model being restored), all or none:
   * every payload is verified (checksums, inflated sizes) before `commit` writes the first
   * array, so a damaged file leaves every array as it was. A restore of up to STAGE_BYTES
   * is read once, into scratch memory, and `commit` decodes from there. A larger one would
   * need the model's size again in scratch, so it reads the file twice: this pass streams
   * every entry through bounded memory to verify it, and `commit` reads each one again
   * straight into its array (from the page cache, where the file fits), checking that the
   * file did not change meanwhile (its version stamp, where the storage has one, else every
   * checksum again); it holds at most the entries in flight. See docs/FORMAT.md §5.1.
   */
  async stage(
    targets: Array<{ key: string; into: Float32Array }>,
    { onProgress, signal }: TransferOptions = {},
  ): Promise<StagedRead> {
    const entries = targets.map(({ key, into }) => {
      const e = this.entry(key);
      const values = e.dtype === 'json' ? -1 : decodedByteLength(e) / DTYPE_SIZE[e.dtype];
      if (values !== into.length) {
        throw new CheckpointError(
          'SHAPE_MISMATCH',
          `the array to restore holds ${into.length} values, the file has ${e.dtype === 'json' ? 'a JSON value' : `${values}`}`,
          { file: this.path, entry: key, offset: e.offset },
        );
      }
      return e;
    });
    const bytes = targets.reduce((n, t) => n + t.into.byteLength, 0);
    const passes = bytes <= STAGE_BYTES ? 1 : 2;
    const progress = new ProgressCounter(entries.length * passes, bytes * passes, onProgress);
    const watch: EntryWatch = {
      before: () => throwIfAborted(signal, `the restore of ${this.path}`, this.path),
      after: (i) => progress.add(1, targets[i].into.byteLength),
    };
    if (passes === 1) return this.stageInScratch(entries, targets, watch);
    // Where the storage stamps versions, an unchanged stamp after the second read proves it read
    // the verified bytes, and raw entries skip the second checksum; elsewhere every read is checked.
    const stamp = await this.handle.version?.();
    // The first pass spreads over the load threads too: verifying compressed entries is inflating them.
    await this.shareEntries(
      entries,
      {
        reuse: false,
        verifyOnly: true,
        here: (i, inflater) => this.payloads.verify(entries[i], inflater),
        there: () => undefined,
      },
      watch,
    );
    // The arrays change from here on: an abort would leave them half restored, so it is no longer heard.
    const readInto = async (e: EntryHeader, inflater: PlaneInflater, i: number) => {
      await (stamp !== undefined && e.codec === 'raw' && e.dtype === 'float32'
        ? this.payloads.readVerifiedAgain(e, targets[i].into)
        : this.payloads.readTensorInto(e, targets[i].into, inflater));
      watch.after(i);
    };
    const changed = (detail: string, at: { entry?: string; offset?: number } = {}) =>
      new CheckpointError(
        'CHECKSUM_MISMATCH',
        `${detail}, on the second read of a restore that had verified the whole file: the file changed while it was restored, and the arrays of other entries may already hold its new values`,
        { file: this.path, ...at },
      );
    return {
      commit: async () => {
        await this.inOrder(entries, readInto).catch((err: unknown) => {
          if (!(err instanceof CheckpointError)) throw err;
          throw changed(err.detail, { entry: err.entry, offset: err.offset });
        });
        const now = stamp === undefined ? undefined : await this.handle.version!();
        if (now !== stamp) throw changed(`its version was ${stamp} when verified and is ${now} now`);
      },
      discard: () => undefined,
    };
  }

  /**
   * `each` over the entries in file order on this thread, a few at once while their sizes
   * allow (one entry of any size, more only within STREAM_BYTES stored bytes in flight, a
   * raw entry weighing only its pieces in flight). Everything started settles before a
   * failure is thrown.
   */
  private async inOrder(
    entries: EntryHeader[],
    each: (e: EntryHeader, inflater: PlaneInflater, index: number) => Promise<void>,
  ): Promise<void> {
    const inflater = new PlaneInflater(entries, true);
    const endKeep = keepMoreWhile(
      2 * Math.max(0, ...entries.map((e) => (e.codec === 'raw' ? 0 : decodedByteLength(e)))),
    );
    try {
      await shareOut(
        entries.map((_, i) => i),
        [{ slots: HERE_SLOTS * 2, run: (i) => each(entries[i], inflater, i) }],
        {
          weight: (i) =>
            entries[i].codec === 'raw' ? Math.min(entries[i].length, STREAM_PIECE_BYTES) : entries[i].length,
          budget: STREAM_BYTES,
        },
      );
    } finally {
      endKeep();
    }
  }

  /** The restore of a small model: every entry read into scratch, verified, decoded by `commit` (see stage). */
  private async stageInScratch(
    entries: EntryHeader[],
    targets: Array<{ key: string; into: Float32Array }>,
    watch: EntryWatch,
  ): Promise<StagedRead> {
    // What the read holds until commit or discard: scratch here, buffers of load threads.
    const held: Array<() => void> = [];
    const commits: Array<() => void> = [];
    const discard = () => held.splice(0).forEach((release) => release());
    try {
      await this.shareEntries(
        entries,
        {
          reuse: true,
          here: async (i, inflater, shared) => {
            const v = await this.payloads.readVerified(entries[i], inflater);
            // Held until commit, which decodes: alone, or where decoding is only a copy (raw).
            if (!shared || (entries[i].codec === 'raw' && entries[i].dtype === 'float32')) {
              held.push(() => v.release());
              commits[i] = () => decodeTensorInto(v, entries[i], targets[i].into);
              return;
            }
            // Decoded now, while the load threads decode theirs; commit only copies.
            const decoded = takeScratch(targets[i].into.byteLength);
            held.push(() => recycle([decoded]));
            try {
              decodeTensorInto(
                v,
                entries[i],
                new Float32Array(decoded.buffer, decoded.byteOffset, targets[i].into.length),
              );
            } finally {
              v.release();
            }
            commits[i] = () =>
              new Uint8Array(targets[i].into.buffer, targets[i].into.byteOffset, decoded.length).set(decoded);
          },
          there: (i, data, thread) => {
            held.push(() => thread.recycle(data.buffer as ArrayBuffer));
            commits[i] = () => targets[i].into.set(data);
          },
        },
        watch,
      );
    } catch (err) {
      discard();
      throw err;
    }
    return {
      async commit() {
        commits.forEach((write) => write());
        discard();
      },
      discard,
    };
  }

  /** Every entry, read, verified and decoded; the map keeps the file's order. */
  async readAll(): Promise<Map<string, EntryValue>> {
    const values = new Map<string, EntryValue>(this.entries.map((e) => [e.key, null]));
    await this.shareEntries(this.entries, {
      reuse: false,
      here: async (i, inflater) => {
        values.set(this.entries[i].key, await this.payloads.read(this.entries[i], inflater));
      },
      there: (i, data) => {
        values.set(this.entries[i].key, new Tensor(data, this.entries[i].shape));
      },
    });
    return values;
  }

  /**
   * Runs `sink.here` for every entry (by index) on this thread, except that a large load
   * shares its tensor entries with load threads, whose decoded
   * arrays go to `sink.there`. Reads go in file order, a few in flight, and each entry
   * decodes as it lands. Everything started settles before a failure is thrown.
   */
  private async shareEntries(entries: EntryHeader[], given: EntrySink, watch?: EntryWatch): Promise<void> {
    const sink: EntrySink = watch
      ? {
          ...given,
          here: async (i, inflater, shared) => {
            watch.before(i);
            await given.here(i, inflater, shared);
            watch.after(i);
          },
          there: (i, data, thread) => {
            given.there(i, data, thread);
            watch.after(i);
          },
        }
      : given;
    const fd = this.handle.fd;
    const tensorBytes = entries.reduce((n, e) => n + (e.dtype === 'json' ? 0 : e.length), 0);
    // Verifying alone never waits for threads to start: in a fresh process (a resume) starting
    // one cost more than it saved (1 GB raw: 280 ms verifying here, 430-530 with a thread starting).
    // So does a load of raw entries, whose decoding is only a checksum (1 GB: 0.63 s without a
    // thread, 0.89-1.12 s with one starting); compressed entries are worth a thread's start.
    const onlyReady = sink.verifyOnly || entries.every((e) => e.codec === 'raw');
    const threads: LoadThread[] = loadThreadsFor(tensorBytes, { onlyReady });
    const shared = threads.length > 0;
    // zlib on the libuv pool helps a load on one thread; beside a load thread it is a third busy thread.
    const inflater = new PlaneInflater(entries, !threads.some((t) => t.isReady));
    const hereLane: Lane<number> = {
      slots: shared ? HERE_SLOTS : entries.length,
      ready:
        !shared || useCallingThread()
          ? undefined
          : Promise.all(threads.map((t) => t.ready)).then((started) => !started.includes(true)),
      run: (i) => sink.here(i, inflater, shared),
    };
    const threadLanes = threads.map((thread): Lane<number> => ({
      slots: THREAD_SLOTS,
      ready: thread.ready,
      run: async (i) => {
        const e = entries[i];
        if (e.dtype === 'json') return sink.here(i, inflater, shared);
        watch?.before(i);
        let data: Float32Array;
        try {
          // Without a descriptor to share (a page's storage), the thread gets the entry's stored bytes.
          const payload =
            fd === undefined ? ((await this.handle.read(e.offset, e.length)).slice().buffer as ArrayBuffer) : undefined;
          data = await thread.decode({
            file: this.path,
            fd,
            payload,
            size: this.size,
            entry: e,
            reuse: sink.reuse,
            verifyOnly: sink.verifyOnly,
          });
        } catch (err) {
          // A thread that stopped (it crashed, or configureLoadThreads took it away) leaves its entries to this one.
          if (thread.isReady) throw err;
          return sink.here(i, inflater, shared);
        }
        sink.there(i, data, thread);
      },
    }));
    // Entries in flight on all threads together weigh at most the largest and STREAM_BYTES
    // more: a load of large compressed entries decodes one or two at a time, not a slot's
    // worth on every thread (1 GB in 64 MB entries: 361 -> 163 MiB beyond the model, 5 % slower).
    // A raw float32 entry is read straight into the array it fills: only its pieces in flight are extra.
    const weight = (i: number) => {
      const e = entries[i];
      if (e.codec === 'raw' && e.dtype === 'float32') return Math.min(e.length, STREAM_PIECE_BYTES);
      return e.dtype === 'json' ? e.length : decodedByteLength(e);
    };
    const all = entries.map((_, i) => i);
    const budget = Math.max(0, ...all.map(weight)) + STREAM_BYTES;
    // Entries in flight reuse each other's scratch, whatever their size (see keepMoreWhile).
    const endKeep = keepMoreWhile(2 * Math.max(0, ...all.map(weight)));
    try {
      await shareOut(all, [hereLane, ...threadLanes], { weight, budget });
    } finally {
      endKeep();
      // Threads starting now would compete with the second pass that follows a verification.
      if (!sink.verifyOnly) loadDone(tensorBytes);
    }
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

/** Where the entries of a load go (WptReader.shareEntries). */
interface EntrySink {
  /** Load threads decode into buffers they get back (`LoadThread.recycle`) rather than ones the values keep. */
  reuse: boolean;
  /** Load threads only verify the entries (`there` gets an empty array). */
  verifyOnly?: boolean;
  /** Reads entry `i` on this thread; `shared` tells whether load threads take part. */
  here(i: number, inflater: PlaneInflater, shared: boolean): Promise<void>;
  /** Tensor entry `i`, decoded by `thread`. */
  there(i: number, data: Float32Array, thread: LoadThread): void;
}

/** What a staged read does around each entry: `before` may throw (an abort), `after` counts progress. */
interface EntryWatch {
  before(i: number): void;
  after(i: number): void;
}

/** Verified entries waiting to be written into their arrays (WptReader.stage). */
export interface StagedRead {
  /**
   * Decodes every entry into its array and frees the scratch memory. A staged read cannot
   * fail here; a streamed one (a large restore) reads the file again, and fails only if the
   * storage fails or the file changed since it was verified: then the arrays before the
   * failing entry hold the file's values and the error says so.
   */
  commit(): Promise<void>;
  /** Frees the scratch memory, leaving every array as it was. */
  discard(): void;
}

/** Opens, reads everything, closes. */
export async function readWpt(
  path: string,
  storage?: Storage,
): Promise<{ header: FileHeader; values: Map<string, EntryValue> }> {
  const reader = await WptReader.open(path, storage);
  try {
    return { header: reader.header, values: await reader.readAll() };
  } finally {
    await reader.close();
  }
}

async function readHeader(h: ReadHandle, file: string): Promise<{ header: FileHeader; headerCrc32: number }> {
  if (h.size === 0) throw new CheckpointError('TRUNCATED', 'file is empty', { file, offset: 0 });
  // Prologue and trailer are read at once: one round trip through the I/O threads, not two.
  // Both settle before either failure is thrown: the caller closes the file then.
  const trailerAt = Math.max(0, h.size - TRAILER_SIZE);
  const [prologue, trailer] = await bothSettled(
    h.read(0, Math.min(PROLOGUE_SIZE, h.size)),
    h.read(trailerAt, h.size - trailerAt),
  );
  if (!startsWith(prologue, MAGIC.subarray(0, Math.min(prologue.length, MAGIC.length)))) {
    throw new CheckpointError('BAD_MAGIC', 'not a .wpt file (magic bytes differ)', { file, offset: 0 });
  }
  if (h.size < PROLOGUE_SIZE + TRAILER_SIZE) {
    throw new CheckpointError('TRUNCATED', `file is ${h.size} bytes, smaller than prologue + trailer`, {
      file,
      offset: h.size,
    });
  }
  const pv = new DataView(prologue.buffer, prologue.byteOffset, PROLOGUE_SIZE);
  const major = pv.getUint16(8, true),
    minor = pv.getUint16(10, true),
    flags = pv.getUint32(12, true);
  if (major !== FORMAT_MAJOR)
    throw new CheckpointError(
      'UNSUPPORTED_VERSION',
      `format version ${major}.${minor}; this reader reads ${FORMAT_MAJOR}.x`,
      { file, offset: 8 },
    );
  if (flags !== 0)
    throw new CheckpointError('UNSUPPORTED_VERSION', `reserved flags 0x${flags.toString(16)} are set`, {
      file,
      offset: 12,
    });

  if (!startsWith(trailer.subarray(16), TRAILER_MAGIC)) {
    throw new CheckpointError('TRUNCATED', 'no trailer at the end of the file (cut short, or never finished)', {
      file,
      offset: trailerAt,
    });
  }
  const tv = new DataView(trailer.buffer, trailer.byteOffset, TRAILER_SIZE);
  const rawHeaderOffset = tv.getBigUint64(0, true);
  const headerLength = tv.getUint32(8, true);
  // A u64 past 2^53 would print rounded as a Number: it is reported exactly, from the BigInt.
  if (rawHeaderOffset > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new CheckpointError(
      'OFFSET_OUT_OF_RANGE',
      `header offset ${rawHeaderOffset} is past the end of the ${h.size}-byte file`,
      { file, offset: trailerAt },
    );
  }
  const headerOffset = Number(rawHeaderOffset);
  const headerCrc = tv.getUint32(12, true);
  if (headerLength > MAX_HEADER_BYTES) {
    throw new CheckpointError(
      'HEADER_TOO_LARGE',
      `header is ${headerLength} bytes, over the ${MAX_HEADER_BYTES}-byte cap`,
      { file, offset: trailerAt + 8 },
    );
  }
  if (headerOffset < PROLOGUE_SIZE || headerOffset + headerLength !== trailerAt) {
    throw new CheckpointError(
      'OFFSET_OUT_OF_RANGE',
      `header at [${headerOffset}, ${headerOffset + headerLength}) does not end where the trailer starts (${trailerAt})`,
      { file, offset: trailerAt },
    );
  }
  const headerBytes = await h.read(headerOffset, headerLength);
  const actual = crc32(headerBytes);
  if (actual !== headerCrc) {
    throw new CheckpointError(
      'CHECKSUM_MISMATCH',
      `header CRC-32 is 0x${actual.toString(16)}, trailer says 0x${headerCrc.toString(16)}`,
      { file, entry: '(header)', offset: headerOffset },
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (cause) {
    throw new CheckpointError('MALFORMED_HEADER', `header is not UTF-8 JSON: ${(cause as Error).message}`, {
      file,
      offset: headerOffset,
      cause,
    });
  }
  const header = validateHeader(parsed, file, headerOffset);
  if (header.version[0] !== major || header.version[1] !== minor) {
    throw new CheckpointError(
      'MALFORMED_HEADER',
      `header says version ${header.version.join('.')}, prologue ${major}.${minor}`,
      { file, offset: 8 },
    );
  }
  return { header, headerCrc32: headerCrc };
}

async function bothSettled<A, B>(a: Promise<A>, b: Promise<B>): Promise<[A, B]> {
  const [ra, rb] = await Promise.allSettled([a, b]);
  if (ra.status === 'rejected') throw ra.reason;
  if (rb.status === 'rejected') throw rb.reason;
  return [ra.value, rb.value];
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}
