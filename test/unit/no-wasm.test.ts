import { describe, it, expect, vi } from 'vitest';
import fc from 'fast-check';
import zlib from 'node:zlib';

// A runtime without WebAssembly: this package's plane codec declines, and zlib codes every plane.
vi.mock('../../src/checkpoint/codec/huffman-wasm.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../src/checkpoint/codec/huffman-wasm.js')>()),
  huffmanKernels: null,
}));

const { deflateLiterals } = await import('../../src/checkpoint/codec/huffman-deflate.js');
const { inflateLiterals } = await import('../../src/checkpoint/codec/inflate.js');
const { inflateHere } = await import('../../src/checkpoint/codec/deflate.js');
const { MemoryStorage, Random, Tensor, readWpt, writeWpt } = await import('../../src/node/index.js');
const { huffmanKernels } = await import('../../src/checkpoint/codec/huffman-wasm.js');

const planeArb = fc.oneof(
  fc.uint8Array({ maxLength: 3000 }),
  fc
    .array(fc.constantFrom(0x3c, 0x3d, 0xbc, 0xbd, 0x3b, 0xbb, 0x3a), { maxLength: 5000 })
    .map((a) => Uint8Array.from(a)),
);

describe('the plane codec without WebAssembly', () => {
  it('declines, and streams zlib writes decode through zlib, bit-exactly', () => {
    expect(huffmanKernels).toBeNull(); // the mock took
    fc.assert(
      fc.property(planeArb, (bytes) => {
        expect(deflateLiterals(bytes)).toBeNull();
        const stream = zlib.deflateRawSync(bytes, { level: 1, strategy: zlib.constants.Z_HUFFMAN_ONLY });
        const out = new Uint8Array(bytes.length);
        expect(inflateLiterals(stream, out)).toBeNull();
        expect(out.subarray(0, inflateHere(stream, out))).toEqual(bytes);
      }),
      { numRuns: 200 },
    );
  });

  it('saves and loads shuffle-deflate checkpoints bit-exactly, the exponent plane deflated by zlib', async () => {
    const weights = new Random(2).fillNormal(new Float32Array(600_000), 0, 0.05);
    const storage = new MemoryStorage();
    for (const background of [false, true]) {
      await writeWpt('/x.wpt', [{ key: 'w', kind: 'tensor', value: new Tensor(weights, [600, 1000]) }], {
        kind: 'checkpoint',
        codec: 'shuffle-deflate',
        storage,
        background,
      });
      const { values, header } = await readWpt('/x.wpt', storage);
      expect(header.entries[0].planes).toEqual(['raw', 'raw', 'raw', 'deflate']);
      expect(
        Buffer.compare(
          Buffer.from((values.get('w') as InstanceType<typeof Tensor>).data.buffer),
          Buffer.from(weights.buffer),
        ),
      ).toBe(0);
    }
  });
});
