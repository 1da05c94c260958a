import { describe, it, expect, vi } from 'vitest';
import fc from 'fast-check';
import zlib from 'node:zlib';

// A runtime without WebAssembly: the plane codec's loops run in JavaScript.
vi.mock('../src/checkpoint/codec/huffman-wasm.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../src/checkpoint/codec/huffman-wasm.js')>()),
  huffmanKernels: null,
}));

const { deflateLiterals } = await import('../src/checkpoint/codec/huffman-deflate.js');
const { inflateInto } = await import('../src/checkpoint/codec/inflate.js');
const { Random } = await import('../src/index.js');
const { huffmanKernels } = await import('../src/checkpoint/codec/huffman-wasm.js');

const planeArb = fc.oneof(
  fc.uint8Array({ maxLength: 3000 }),
  fc.array(fc.constantFrom(0x3c, 0x3d, 0xbc, 0xbd, 0x3b, 0xbb, 0x3a), { maxLength: 5000 }).map((a) => Uint8Array.from(a)),
);

describe('the plane codec without WebAssembly', () => {
  it('writes streams zlib reads, and reads streams zlib writes, bit-exactly', () => {
    expect(huffmanKernels).toBeNull(); // the mock took
    fc.assert(fc.property(planeArb, (bytes) => {
      const ours = deflateLiterals(bytes);
      expect(new Uint8Array(zlib.inflateRawSync(ours))).toEqual(bytes);
      for (const stream of [ours, zlib.deflateRawSync(bytes, { level: 1, strategy: zlib.constants.Z_HUFFMAN_ONLY })]) {
        const out = new Uint8Array(bytes.length);
        expect(out.subarray(0, inflateInto(stream, out))).toEqual(bytes);
      }
    }), { numRuns: 200 });
  });

  it('codes and decodes an exponent plane across several blocks', () => {
    const n = 600_000;
    const weights = new Random(2).fillNormal(new Float32Array(n), 0, 0.05);
    const exponents = Uint8Array.from({ length: n }, (_, i) => new Uint8Array(weights.buffer)[4 * i + 3]);
    const stream = deflateLiterals(exponents);
    expect(Buffer.compare(zlib.inflateRawSync(stream), exponents)).toBe(0);
    const out = new Uint8Array(n);
    expect(Buffer.compare(out.subarray(0, inflateInto(stream, out)), exponents)).toBe(0);
  });
});
