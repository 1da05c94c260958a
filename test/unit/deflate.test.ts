import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import zlib from 'node:zlib';
import { deflateSync, inflateSync } from 'fflate';
import { InflateError, inflateLiterals } from '../../src/checkpoint/codec/inflate.js';
import { inflateHere, inflateRaw, inflateRawInto, inflatedLength } from '../../src/checkpoint/codec/deflate.js';
import {
  MAX_CODE_BITS,
  codeLengths,
  deflateLiterals as deflateLiteralsOrNull,
} from '../../src/checkpoint/codec/huffman-deflate.js';
import { shuffleInto, unshuffleInto } from '../../src/checkpoint/codec/byte-planes.js';
import { Random } from '../../src/node/index.js';

const Z = zlib.constants;
/** Every kind of stream zlib writes: stored, fixed, dynamic; literals only, runs, full LZ77. */
const ZLIB_SETTINGS: Array<[string, zlib.ZlibOptions]> = [
  ['stored', { level: 0 }],
  ['fixed codes', { level: 6, strategy: Z.Z_FIXED }],
  ['huffman only', { level: 1, strategy: Z.Z_HUFFMAN_ONLY, windowBits: 9 }],
  ['run-length', { level: 1, strategy: Z.Z_RLE, windowBits: 9 }],
  ['level 1', { level: 1 }],
  ['level 9', { level: 9, memLevel: 9 }],
];

/** This package's encoder, which runs wherever WebAssembly does (here). */
function deflateLiterals(bytes: Uint8Array): Uint8Array {
  const stream = deflateLiteralsOrNull(bytes);
  if (!stream) throw new Error('no WebAssembly: the literal encoder declined');
  return stream;
}

function shuffle(bytes: Uint8Array, size: number): Uint8Array {
  const planes = new Uint8Array(bytes.length);
  shuffleInto(bytes, size, planes);
  return planes;
}

/** Writes a DEFLATE bit stream by hand: fields least significant bit first, Huffman codes most significant first. */
class BitWriter {
  private out: number[] = [];
  private acc = 0;
  private n = 0;
  bits(value: number, count: number): this {
    for (let i = 0; i < count; i++) this.bit((value >> i) & 1);
    return this;
  }
  code(code: number, length: number): this {
    for (let i = length - 1; i >= 0; i--) this.bit((code >> i) & 1);
    return this;
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.n ? [...this.out, this.acc] : this.out);
  }
  private bit(b: number): void {
    this.acc |= b << this.n;
    if (++this.n === 8) {
      this.out.push(this.acc);
      this.acc = 0;
      this.n = 0;
    }
  }
}

/** Through the calling thread's decoder: this package's for streams of short-coded literals, zlib's for the rest. */
function inflated(stream: Uint8Array, capacity: number): Uint8Array {
  const out = new Uint8Array(capacity);
  return out.subarray(0, inflateHere(stream, out));
}

/** Bytes shaped like real inputs: uniform noise, a skewed small alphabet (a float's exponent plane), runs. */
const bytesArb = fc.oneof(
  fc.uint8Array({ maxLength: 3000 }),
  fc
    .array(fc.constantFrom(0x3c, 0x3d, 0xbc, 0xbd, 0x3b, 0xbb, 0x3a, 0x00, 0xff), { maxLength: 5000 })
    .map((a) => Uint8Array.from(a)),
  fc
    .array(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 400 })), { maxLength: 40 })
    .map((runs) => Uint8Array.from(runs.flatMap(([v, n]) => Array(n).fill(v)))),
);

describe('inflate (the DEFLATE decoders of the calling thread)', () => {
  it('takes the streams of its own encoder in house and declines the others', () => {
    const planes = shuffle(new Uint8Array(new Random(6).fillNormal(new Float32Array(100_000), 0, 0.05).buffer), 4);
    const exponents = planes.subarray(300_000);
    const out = new Uint8Array(exponents.length);
    expect(inflateLiterals(deflateLiterals(exponents), out)).toBe(exponents.length);
    expect(Buffer.compare(out, exponents)).toBe(0);
    // Matches (level 6), fixed codes, stored blocks first: zlib's to decode.
    for (const [name, options] of ZLIB_SETTINGS.filter(([n]) => !['huffman only'].includes(n))) {
      expect(inflateLiterals(zlib.deflateRawSync(planes, options), new Uint8Array(planes.length)), name).toBeNull();
    }
    // zlib's Huffman-only codes of a skewed plane run past the decoder's 10-bit table: zlib's to decode.
    const skewed = Uint8Array.from(
      { length: 200_000 },
      (_, i) => (Math.imul(i, 2654435761) >>> 24) & (i % 3 === 0 ? 255 : 15),
    );
    const longCodes = zlib.deflateRawSync(skewed, { level: 1, strategy: Z.Z_HUFFMAN_ONLY });
    expect(inflateLiterals(longCodes, new Uint8Array(skewed.length))).toBeNull();
    expect(Buffer.compare(inflated(longCodes, skewed.length), skewed)).toBe(0);
  });

  it('decodes every kind of stream zlib and fflate write, bit-exactly', () => {
    fc.assert(
      fc.property(bytesArb, fc.integer({ min: 0, max: ZLIB_SETTINGS.length }), (bytes, which) => {
        const stream =
          which === ZLIB_SETTINGS.length
            ? deflateSync(bytes, { level: 6 })
            : zlib.deflateRawSync(bytes, ZLIB_SETTINGS[which][1]);
        expect(inflated(stream, bytes.length)).toEqual(bytes);
      }),
      { numRuns: 400 },
    );
  });

  it('decodes the byte planes of trained-like weights (many blocks, codes past the 10-bit table)', () => {
    const n = 300_000;
    const weights = new Random(3).fillNormal(new Float32Array(n), 0, 0.05);
    weights.fill(0, 1000, 5000); // a run of zeros, for long matches in the run-length streams
    const planes = shuffle(new Uint8Array(weights.buffer), 4);
    for (const [name, options] of ZLIB_SETTINGS) {
      const stream = zlib.deflateRawSync(planes, options);
      expect(Buffer.compare(inflated(stream, planes.length), planes), name).toBe(0);
    }
  });

  it('codes planes of any size, and decodes streams too large for the WebAssembly decoder (over 16 MiB) through zlib, the same', () => {
    const n = 17 << 20;
    const exponents = Uint8Array.from(
      { length: n },
      (_, i) => [0x3c, 0x3d, 0xbc, 0xbd][Math.imul(i, 2654435761) >>> 30],
    );
    const ours = deflateLiterals(exponents);
    expect(Buffer.compare(zlib.inflateRawSync(ours), exponents)).toBe(0);
    for (const stream of [ours, zlib.deflateRawSync(exponents, { level: 1, strategy: Z.Z_HUFFMAN_ONLY })]) {
      expect(inflateLiterals(stream, new Uint8Array(n))).toBeNull();
      expect(Buffer.compare(inflated(stream, n), exponents)).toBe(0);
    }
  });

  it('decodes a stream of concatenated sync-flushed pieces (how the writer compresses in parallel)', () => {
    const bytes = new Random(4).fillNormal(new Float32Array(50_000), 0, 1);
    const raw = new Uint8Array(bytes.buffer);
    const pieces = [raw.subarray(0, 70_000), raw.subarray(70_000, 140_000), raw.subarray(140_000)].map((p, i, all) =>
      zlib.deflateRawSync(p, { level: 1, finishFlush: i === all.length - 1 ? Z.Z_FINISH : Z.Z_SYNC_FLUSH }),
    );
    expect(Buffer.compare(inflated(Buffer.concat(pieces), raw.length), raw)).toBe(0);
  });

  it('rejects every truncation of a stream, output that would not fit, and bytes after the final block', () => {
    const bytes = Uint8Array.from({ length: 600 }, (_, i) => (i * i) % 7);
    const streams: Array<[string, Uint8Array]> = [
      ['this package', deflateLiterals(bytes)],
      ...ZLIB_SETTINGS.map(([name, options]): [string, Uint8Array] => [name, zlib.deflateRawSync(bytes, options)]),
    ];
    expect(inflateLiterals(streams[0][1], new Uint8Array(600))).toBe(600); // the in-house decoder's errors are checked too
    for (const [name, stream] of streams) {
      for (let cut = 0; cut < stream.length; cut++) {
        expect(() => inflated(stream.subarray(0, cut), bytes.length), `${name} cut at ${cut}`).toThrow(InflateError);
      }
      expect(() => inflated(stream, bytes.length - 1), name).toThrow(/exceed 599 bytes/);
      expect(() => inflated(Buffer.concat([stream, Buffer.from([0])]), bytes.length), name).toThrow(
        /1 bytes follow the final block/,
      );
    }
  });

  it('names malformed constructs', () => {
    expect(() => inflated(Uint8Array.of(0b111), 10)).toThrow(/invalid block type/);
    expect(() => inflated(Uint8Array.of(0b001, 5, 0, 5, 0), 10)).toThrow(/stored block length/);
    // Fixed codes: a match (length 3, distance 1) before any byte was written.
    const farBack = new BitWriter().bits(1, 1).bits(1, 2).code(0b0000001, 7).code(0, 5).code(0, 7).bytes();
    expect(() => inflated(farBack, 10)).toThrow(/distance too far back/);
    // The same after one literal ('a' = 0x61: code 0x30 + 0x61, 8 bits) decodes to 'aaaa'.
    const ok = new BitWriter()
      .bits(1, 1)
      .bits(1, 2)
      .code(0x30 + 0x61, 8)
      .code(0b0000001, 7)
      .code(0, 5)
      .code(0, 7)
      .bytes();
    expect(inflated(ok, 4)).toEqual(new Uint8Array(4).fill(0x61));
    // Dynamic block: 30 literal/length symbols declared beyond the 286 allowed.
    expect(() => inflated(new BitWriter().bits(1, 1).bits(2, 2).bits(31, 5).bits(0, 5).bits(0, 4).bytes(), 10)).toThrow(
      /too many length or distance symbols/,
    );
  });

  it('on damaged streams (one byte changed): only InflateError or output within the capacity, never a hang', () => {
    fc.assert(
      fc.property(bytesArb, fc.boolean(), fc.nat(), fc.integer({ min: 1, max: 255 }), (bytes, ours, where, flip) => {
        const stream = ours ? deflateLiterals(bytes) : zlib.deflateRawSync(bytes, { level: 1, strategy: Z.Z_RLE });
        const damaged = stream.slice();
        damaged[where % damaged.length] ^= flip;
        try {
          expect(inflated(damaged, bytes.length).length).toBeLessThanOrEqual(bytes.length);
        } catch (e) {
          expect(e).toBeInstanceOf(InflateError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('on random bytes: only InflateError, and whatever zlib decodes it decodes the same', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), (junk) => {
        let ours: Uint8Array | InflateError;
        try {
          ours = inflated(junk, 4096);
        } catch (e) {
          expect(e).toBeInstanceOf(InflateError);
          ours = e as InflateError;
        }
        let theirs: Uint8Array | undefined;
        try {
          theirs = zlib.inflateRawSync(junk, { maxOutputLength: 4096 });
        } catch {
          theirs = undefined;
        }
        // zlib also stops at the final block and ignores what follows; it rejects incomplete codes this decoder accepts.
        if (theirs && !(ours instanceof InflateError)) expect(Buffer.compare(ours, theirs)).toBe(0);
      }),
      { numRuns: 3000 },
    );
  });
});

/** The cost (Σ freq · length) of an optimal unlimited Huffman code, by repeatedly merging the two lightest. */
function optimalCost(freq: number[]): number {
  const w = freq.filter((f) => f > 0);
  if (w.length < 2) return w.reduce((a, b) => a + b, 0);
  let cost = 0;
  while (w.length > 1) {
    w.sort((a, b) => a - b);
    const merged = w.shift()! + w.shift()!;
    cost += merged;
    w.push(merged);
  }
  return cost;
}

describe('the literal encoder (huffman-deflate)', () => {
  it('writes streams that zlib, fflate and this package inflate to the input', () => {
    fc.assert(
      fc.property(bytesArb, (bytes) => {
        const stream = deflateLiterals(bytes);
        expect(new Uint8Array(zlib.inflateRawSync(stream))).toEqual(bytes);
        expect(inflateSync(stream, { out: new Uint8Array(bytes.length) })).toEqual(bytes);
        expect(inflated(stream, bytes.length)).toEqual(bytes);
      }),
      { numRuns: 300 },
    );
  });

  it('across block boundaries, and on a real exponent plane as small as zlib makes it', () => {
    const n = 600_000; // three blocks of 256 KiB
    const planes = shuffle(new Uint8Array(new Random(5).fillNormal(new Float32Array(n), 0, 0.05).buffer), 4);
    const exponents = planes.subarray(3 * n);
    const stream = deflateLiterals(exponents);
    expect(Buffer.compare(zlib.inflateRawSync(stream), exponents)).toBe(0);
    expect(Buffer.compare(inflated(stream, n), exponents)).toBe(0);
    const zlibSize = zlib.deflateRawSync(exponents, { level: 1, strategy: Z.Z_HUFFMAN_ONLY }).length;
    expect(stream.length).toBeLessThan(zlibSize * 1.01);
  });

  it('builds complete codes no longer than the limit, optimal when the limit does not bind', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 1 << 20 }), { minLength: 2, maxLength: 290 }),
        fc.integer({ min: 7, max: 15 }),
        (freq, maxBits) => {
          const lengths = codeLengths(freq, maxBits);
          const used = freq.filter((f) => f > 0).length;
          freq.forEach((f, s) => expect(lengths[s] > 0).toBe(f > 0));
          if (used < 2) return;
          expect(Math.max(...lengths)).toBeLessThanOrEqual(maxBits);
          const kraft = Array.from(lengths).reduce((sum, l) => sum + (l ? 2 ** -l : 0), 0);
          expect(kraft).toBeCloseTo(1, 12);
          const cost = freq.reduce((sum, f, s) => sum + f * lengths[s], 0);
          const best = optimalCost(freq);
          expect(cost).toBeGreaterThanOrEqual(best);
          if (maxBits === 15 && used <= 16) expect(cost).toBe(best); // 16 symbols never need more than 15 bits
        },
      ),
      { numRuns: 500 },
    );
    expect(MAX_CODE_BITS).toBe(10);
  });
});

describe('byte planes', () => {
  it('shuffle and unshuffle are inverse and match the plain definition, at every length and element size', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 20_000 }), fc.constantFrom(1, 2, 4), fc.integer(), (n, size, seed) => {
        const bytes = Uint8Array.from({ length: n * size }, (_, i) => (i * 2654435761 + seed) >>> 24);
        const planes = shuffle(bytes, size);
        for (let k = 0; k < size; k++)
          for (let i = 0; i < n; i += 97) expect(planes[k * n + i]).toBe(bytes[i * size + k]);
        const back = new Uint8Array(n * size);
        unshuffleInto(
          Array.from({ length: size }, (_, k) => planes.subarray(k * n, (k + 1) * n)),
          n,
          back,
        );
        expect(Buffer.compare(back, bytes)).toBe(0);
      }),
      { numRuns: 60 },
    );
  });
});

describe('streamed inflation of large entries', () => {
  it('inflateRawInto and inflatedLength give what inflateRaw gives, through 1 MiB chunks; one byte of room short, or a damaged stream, rejects', async () => {
    const rng = new Random(4);
    // 9 MiB of small integers: compressible, past the size that streams.
    const plain = Uint8Array.from({ length: 9 << 20 }, () => rng.int(12));
    const stream = zlib.deflateRawSync(plain, { level: 1 });
    const whole = await inflateRaw(stream, plain.length);
    expect(Buffer.compare(whole, plain)).toBe(0);
    const into = new Uint8Array(plain.length);
    expect(await inflateRawInto(stream, into)).toBe(plain.length);
    expect(Buffer.compare(into, plain)).toBe(0);
    expect(await inflatedLength(stream, plain.length)).toBe(plain.length);
    await expect(inflateRawInto(stream, new Uint8Array(plain.length - 1))).rejects.toThrow(InflateError);
    await expect(inflatedLength(stream, plain.length - 1)).rejects.toThrow(/output would exceed/);
    const damaged = stream.slice();
    damaged[10] ^= 0xff;
    damaged[11] ^= 0xff;
    const out = new Uint8Array(plain.length);
    const outcome = await inflateRawInto(damaged, out).then(
      (n) => (n === plain.length && Buffer.compare(out, plain) === 0 ? 'the original' : 'other bytes'),
      (e: unknown) =>
        e instanceof InflateError || (e as { code?: string }).code?.startsWith('Z_') ? 'rejected' : 'other error',
    );
    expect(['rejected', 'other bytes']).toContain(outcome); // what the CRC-32 before it then refuses
  });
});
