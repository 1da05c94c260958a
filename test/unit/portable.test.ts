import { describe, it, expect } from 'vitest';

// What a browser has: no Node zlib (so fflate compresses, this package's decoder inflates its own planes and fflate the rest,
// the portable CRC-32 checks), no thread pool, no Buffer allocator.
const { installPlatform, portablePlatform } = await import('../../src/platform.js');
installPlatform(portablePlatform);

const { MemoryStorage, Random, Tensor, readWpt, writeWpt } = await import('../../src/index.js');
const { crc32, crc32Portable } = await import('../../src/checkpoint/layout/crc32.js');
const { havePool } = await import('../../src/checkpoint/codec/deflate.js');

describe('without Node zlib (the browser path)', () => {
  it('round-trips every codec bit-exactly: weights, zeros, a mostly-constant tensor, JSON', async () => {
    expect(havePool()).toBe(false); // the mock took: no thread pool to compress on
    const rng = new Random(9);
    const weights = rng.fillNormal(new Float32Array(300_000), 0, 0.05);
    const mostlyZero = new Float32Array(70_000);
    for (let i = 0; i < mostlyZero.length; i += 97) mostlyZero[i] = rng.normal();
    const leaves = [
      { key: 'w', kind: 'tensor' as const, value: new Tensor(weights, [300, 1000]) },
      { key: 'zeros', kind: 'tensor' as const, value: new Tensor(new Float32Array(50_000), [50_000]) },
      { key: 'sparse', kind: 'tensor' as const, value: new Tensor(mostlyZero, [70_000]) },
      { key: 'history', kind: 'json' as const, value: { loss: Array.from({ length: 400 }, (_, i) => 1 / (i + 1)) } },
    ];
    for (const codec of ['raw', 'deflate', 'shuffle-deflate'] as const) {
      const storage = new MemoryStorage();
      await writeWpt('/b/x.wpt', leaves, { kind: 'checkpoint', codec, storage });
      const { values, header } = await readWpt('/b/x.wpt', storage);
      for (const leaf of leaves) {
        const got = values.get(leaf.key);
        if (leaf.kind === 'json') expect(got).toEqual(leaf.value);
        else
          expect(
            Buffer.compare(
              Buffer.from((got as InstanceType<typeof Tensor>).data.buffer),
              Buffer.from(leaf.value.data.buffer),
            ),
          ).toBe(0);
      }
      if (codec === 'shuffle-deflate') {
        const planes = header.entries.find((e) => e.key === 'w')!.planes;
        expect(planes).toEqual(['raw', 'raw', 'raw', 'deflate']); // the exponent plane, by this package's encoder
      }
    }
    expect(crc32(Uint8Array.of(1, 2, 3))).toBe(crc32Portable(Uint8Array.of(1, 2, 3)));
  });
});
