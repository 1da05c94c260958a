import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import zlib from 'node:zlib';

// A runtime without Node's zlib (a browser): streams the in-house decoder declines go to fflate.
const { installPlatform, platform } = await import('../../src/platform.js');
installPlatform({ ...platform(), zlib: undefined });

const { deflateRaw, havePool, inflateHere, inflateRaw } = await import('../../src/checkpoint/codec/deflate.js');
const { InflateError } = await import('../../src/checkpoint/codec/inflate.js');

const inflated = (stream: Uint8Array, capacity: number) => {
  const out = new Uint8Array(capacity);
  return out.subarray(0, inflateHere(stream, out));
};

describe('DEFLATE without zlib (fflate)', () => {
  it('compresses with fflate and decodes every kind of stream, bit-exactly', async () => {
    expect(havePool()).toBe(false); // the mock took
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 4000 }), fc.constantFrom(0, 1, 6, 9), async (bytes, level) => {
        const ours = await deflateRaw(bytes, { level });
        expect(new Uint8Array(zlib.inflateRawSync(ours))).toEqual(bytes);
        expect(await inflateRaw(ours, bytes.length)).toEqual(bytes);
        expect(inflated(zlib.deflateRawSync(bytes, { level }), bytes.length)).toEqual(bytes);
      }),
      { numRuns: 150 },
    );
  });

  it('refuses output that would not fit and truncated streams, as InflateErrors', () => {
    const bytes = Uint8Array.from({ length: 5000 }, (_, i) => (i * i) % 11);
    const stream = zlib.deflateRawSync(bytes, { level: 6 });
    expect(() => inflated(stream, bytes.length - 1)).toThrow(/output would exceed 4999 bytes/);
    expect(inflated(stream, bytes.length)).toEqual(bytes);
    for (const cut of [0, 1, stream.length >> 1, stream.length - 1]) {
      expect(() => inflated(stream.subarray(0, cut), bytes.length), `cut at ${cut}`).toThrow(InflateError);
    }
  });
});
