/**
 * Byte offsets past 32 bits: the reader's arithmetic on offsets, lengths and the trailer's
 * 64-bit header offset, over files of terabytes that exist only virtually (a Storage whose
 * file is a few real regions and zeros everywhere else), so an entry can sit at any offset
 * near 2^31, 2^32 or 2^40 without the disk. The payloads before it are 4 GiB zero fillers
 * that are never read. Near 2^53 the trailer's offset is checked exactly (as a BigInt).
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { CheckpointError, MemoryStorage, WptReader, type Tensor } from '../../src/node/index.js';
import {
  MAX_ENTRY_BYTES,
  PROLOGUE_SIZE,
  TRAILER_SIZE,
  encodePrologue,
  encodeTrailer,
  type EntryHeader,
} from '../../src/checkpoint/layout/format.js';
import { crc32 } from '../../src/checkpoint/layout/crc32.js';

/** A file of `size` bytes: these regions, zeros elsewhere. */
class SparseStorage extends MemoryStorage {
  readonly seen: Array<[number, number]> = [];
  constructor(
    private readonly size: number,
    private readonly regions: Array<{ at: number; bytes: Uint8Array }>,
  ) {
    super();
  }
  override async openRead() {
    return {
      size: this.size,
      read: async (offset: number, length: number, into?: Uint8Array) => {
        const n = Math.max(0, Math.min(length, this.size - offset));
        this.seen.push([offset, n]);
        const out = (into ?? new Uint8Array(n)).subarray(0, n);
        out.fill(0);
        for (const { at, bytes } of this.regions) {
          const from = Math.max(at, offset),
            to = Math.min(at + bytes.length, offset + n);
          if (from < to) out.set(bytes.subarray(from - at, to - at), from - offset);
        }
        return out;
      },
      close: async () => undefined,
    };
  }
}

/**
 * A virtual .wpt file whose entry 'x' (these float32 values, raw) starts at `offset`: zero
 * fillers of at most 4 GiB tile the bytes before it. Returns the storage and the entry.
 */
function fileWithEntryAt(offset: number, values: Float32Array): { storage: SparseStorage; entry: EntryHeader } {
  const entries: EntryHeader[] = [];
  let at = PROLOGUE_SIZE;
  for (let i = 0; at < offset; i++) {
    const length = Math.min(MAX_ENTRY_BYTES, offset - at);
    entries.push({
      key: `filler${i}`,
      dtype: 'float32',
      shape: [length / 4],
      codec: 'raw',
      offset: at,
      length,
      crc32: 0,
    });
    at += length;
  }
  const payload = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const entry: EntryHeader = {
    key: 'x',
    dtype: 'float32',
    shape: [values.length],
    codec: 'raw',
    offset,
    length: payload.length,
    crc32: crc32(payload),
  };
  entries.push(entry);
  const headerOffset = offset + payload.length;
  const header = new TextEncoder().encode(
    JSON.stringify({
      format: 'wpt',
      version: [1, 0],
      kind: 'weights',
      engine: { name: 'waypoint', version: 'test' },
      created: new Date(0).toISOString(),
      metadata: {},
      entries,
    }),
  );
  const trailer = encodeTrailer(headerOffset, header.length, crc32(header));
  const size = headerOffset + header.length + TRAILER_SIZE;
  const storage = new SparseStorage(size, [
    { at: 0, bytes: encodePrologue() },
    { at: offset, bytes: payload },
    { at: headerOffset, bytes: header },
    { at: headerOffset + header.length, bytes: trailer },
  ]);
  return { storage, entry };
}

/** Offsets (multiples of 4, past the prologue) within a few KiB either side of `boundary`. */
const near = (boundary: number) => fc.integer({ min: -1024, max: 1024 }).map((d) => boundary + 4 * d + PROLOGUE_SIZE);

describe('offsets past 32 bits', () => {
  it('an entry at any offset near 2^31, 2^32 and 2^40 reads back exactly, from exactly its bytes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(near(2 ** 31), near(2 ** 32), near(2 ** 40)),
        fc.float32Array({ minLength: 1, maxLength: 300_000, noNaN: true }),
        async (offset, values) => {
          const { storage, entry } = fileWithEntryAt(offset, values);
          const reader = await WptReader.open('big.wpt', storage);
          expect(reader.entry('x').offset).toBe(offset);
          storage.seen.length = 0;
          const got = (await reader.read('x')) as Tensor;
          await reader.close();
          expect(Buffer.from(got.data.buffer, got.data.byteOffset, got.data.byteLength)).toEqual(
            Buffer.from(values.buffer, values.byteOffset, values.byteLength),
          );
          // The pieces read cover exactly [offset, offset + length).
          const pieces = [...storage.seen].sort((a, b) => a[0] - b[0]);
          expect(pieces[0][0]).toBe(offset);
          pieces.forEach(([at], i) => i > 0 && expect(at).toBe(pieces[i - 1][0] + pieces[i - 1][1]));
          expect(pieces.reduce((n, [, length]) => n + length, 0)).toBe(entry.length);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a byte flipped in an entry far past 4 GiB is found and named by the entry and its exact offset', async () => {
    await fc.assert(
      fc.asyncProperty(near(2 ** 36), fc.nat(), async (offset, where) => {
        const values = Float32Array.from({ length: 4096 }, (_, i) => Math.sin(i));
        const { storage, entry } = fileWithEntryAt(offset, values);
        const reader = await WptReader.open('big.wpt', storage);
        new Uint8Array(values.buffer)[where % values.byteLength] ^= 1; // the region holds a view of these bytes
        const err = await reader.read('x').catch((e: unknown) => e);
        await reader.close();
        expect(err).toBeInstanceOf(CheckpointError);
        expect((err as CheckpointError).code).toBe('CHECKSUM_MISMATCH');
        expect((err as CheckpointError).offset).toBe(entry.offset);
        expect((err as Error).message).toContain(`offset ${offset}`);
      }),
      { numRuns: 20 },
    );
  });

  it("a trailer's header offset at or past 2^53 is refused with its exact value, never rounded", async () => {
    await fc.assert(
      fc.asyncProperty(fc.bigInt({ min: 2n ** 53n, max: 2n ** 64n - 1n }), async (headerOffset) => {
        const trailer = encodeTrailer(0, 2, 0);
        new DataView(trailer.buffer).setBigUint64(0, headerOffset, true);
        const size = 4096;
        const storage = new SparseStorage(size, [
          { at: 0, bytes: encodePrologue() },
          { at: size - TRAILER_SIZE, bytes: trailer },
        ]);
        const err = await WptReader.open('huge.wpt', storage).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(CheckpointError);
        expect((err as CheckpointError).code).toBe('OFFSET_OUT_OF_RANGE');
        expect((err as Error).message).toContain(`header offset ${headerOffset} is past the end`);
      }),
      { numRuns: 50 },
    );
  });

  it('a header that ends just short of or past 2^53 bytes into the file is refused, with no arithmetic rounding', async () => {
    // The largest size a file can report exactly, and headers placed around its end.
    const size = Number.MAX_SAFE_INTEGER;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: -4096, max: 4096 }), async (shift) => {
        const headerLength = 100;
        const headerOffset = size - TRAILER_SIZE - headerLength + shift;
        const trailer = encodeTrailer(headerOffset, headerLength, 0);
        const storage = new SparseStorage(size, [
          { at: 0, bytes: encodePrologue() },
          { at: size - TRAILER_SIZE, bytes: trailer },
        ]);
        const err = await WptReader.open('huge.wpt', storage).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(CheckpointError);
        // Where it ends at the trailer exactly, the (zero) header's checksum is what fails.
        expect((err as CheckpointError).code).toBe(shift === 0 ? 'CHECKSUM_MISMATCH' : 'OFFSET_OUT_OF_RANGE');
      }),
      { numRuns: 40, examples: [[0], [1], [-1]] },
    );
  });
});
