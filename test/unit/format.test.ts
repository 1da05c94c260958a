import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  Tensor,
  Random,
  CheckpointError,
  writeWpt,
  readWpt,
  type JsonValue,
  type Codec,
} from '../../src/node/index.js';
import { type FlatLeaf } from '../../src/state/tree.js';
import { crc32 } from '../../src/checkpoint/layout/crc32.js';
import { crc32Portable } from '../../src/checkpoint/layout/crc32.js';
import { encodePrologue, encodeTrailer, MAX_HEADER_BYTES } from '../../src/checkpoint/layout/format.js';
import { toFloat16Bits, fromFloat16Bits, float32ToFloat16 } from '../../src/checkpoint/layout/float16.js';
import { encodePayload } from '../../src/checkpoint/codec/codecs.js';
import { MemoryStorage } from '../../src/node/index.js';

const CODECS: Codec[] = ['raw', 'deflate', 'shuffle-deflate'];

async function roundTrip(leaves: FlatLeaf[], codec: Codec, float16 = false, lowMemory = false) {
  const storage = new MemoryStorage();
  await writeWpt('/m/x.wpt', leaves, { kind: 'checkpoint', codec, storage, float16, lowMemory });
  return { storage, bytes: storage.files.get('/m/x.wpt')!, ...(await readWpt('/m/x.wpt', storage)) };
}

async function readBytes(bytes: Uint8Array) {
  const storage = new MemoryStorage();
  storage.files.set('/m/f.wpt', bytes);
  return { storage, result: readWpt('/m/f.wpt', storage) };
}

const bitsOf = (t: Tensor) => new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length);

// Any float32 bit pattern: NaN payloads, ±Inf, -0, subnormals included.
const shapeArb = fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 3 });
const tensorArb = shapeArb.chain((shape) => {
  const n = shape.reduce((a, b) => a * b, 1);
  return fc
    .array(
      fc.oneof(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.constantFrom(0x7fc00000, 0xff800000, 0x80000000, 0x00000001, 0x7f800001),
      ),
      { minLength: n, maxLength: n },
    )
    .map((words) => new Tensor(new Float32Array(Uint32Array.from(words).buffer), shape));
});
const jsonArb: fc.Arbitrary<JsonValue> = fc.oneof(
  fc.jsonValue() as fc.Arbitrary<JsonValue>,
  fc.array(fc.double(), { maxLength: 4 }), // NaN, ±Infinity, -0 inside JSON
);
const keyArb = fc.string({
  minLength: 1,
  maxLength: 6,
  unit: fc.constantFrom('a', 'b', 'é', '/', '~', '0', '🙂', ' ', '.'),
});
const leavesArb = fc
  .uniqueArray(fc.tuple(keyArb, fc.oneof(tensorArb, jsonArb)), { selector: ([k]) => k, maxLength: 6 })
  .map((pairs) =>
    pairs.map(([key, value]): FlatLeaf =>
      value instanceof Tensor ? { key, kind: 'tensor', value } : { key, kind: 'json', value },
    ),
  );

describe('.wpt round trip', () => {
  for (const codec of CODECS) {
    it(`is bit-exact for arbitrary entries with codec ${codec}`, async () => {
      await fc.assert(
        fc.asyncProperty(leavesArb, async (leaves) => {
          const { values, header } = await roundTrip(leaves, codec);
          expect([...values.keys()]).toEqual(leaves.map((l) => l.key));
          for (const leaf of leaves) {
            const got = values.get(leaf.key);
            if (leaf.kind === 'tensor') {
              expect(got).toBeInstanceOf(Tensor);
              expect((got as Tensor).shape).toEqual(leaf.value.shape);
              expect(bitsOf(got as Tensor)).toEqual(bitsOf(leaf.value));
            } else {
              expect(Object.is(got, leaf.value) || JSON.stringify(got) === JSON.stringify(leaf.value)).toBe(true);
              expect(got).toStrictEqual(leaf.value); // toStrictEqual tells -0 from 0 and matches NaN
            }
          }
          expect(header.entries.every((e) => e.dtype === 'json' || e.codec === codec)).toBe(true);
        }),
        { numRuns: 60 },
      );
    });
  }

  it('with lowMemory, an entry encoded a plane at a time (past 32 MiB) stores the bytes a whole encoding makes, and reads back bit-exact', async () => {
    // Planes of every kind: a constant sign byte (run-length), a skewed exponent (Huffman), noise (raw).
    const n = 9 << 20;
    const rng = new Random(4);
    const big = new Tensor(rng.fillNormal(new Float32Array(n), 0, 0.05), [n]);
    const small = new Tensor(
      Float32Array.from({ length: 1000 }, (_, i) => i / 7),
      [1000],
    );
    for (const float16 of [false, true]) {
      const leaves: FlatLeaf[] = [
        { key: 'small', kind: 'tensor', value: small },
        { key: 'big', kind: 'tensor', value: big },
        { key: 'after', kind: 'tensor', value: small },
      ];
      const { values, header, bytes } = await roundTrip(leaves, 'shuffle-deflate', float16, true);
      const entry = header.entries.find((e) => e.key === 'big')!;
      const bytesOf = (t: Float32Array | Uint16Array) => new Uint8Array(t.buffer, t.byteOffset, t.byteLength);
      const whole = await encodePayload(
        float16 ? bytesOf(float32ToFloat16(big.data)) : bytesOf(big.data),
        'shuffle-deflate',
        float16 ? 2 : 4,
        { level: 1, background: false },
      );
      expect({ planes: entry.planes, planeLengths: entry.planeLengths, crc32: entry.crc32 }).toEqual({
        planes: whole.planes,
        planeLengths: whole.planeLengths,
        crc32: whole.crc32,
      });
      expect(new Set(entry.planes).size).toBeGreaterThan(1);
      const stored = bytes.subarray(entry.offset, entry.offset + entry.length);
      expect(Buffer.from(stored).equals(Buffer.concat(whole.parts))).toBe(true);
      if (!float16)
        expect(Buffer.from(bitsOf(values.get('big') as Tensor).buffer).equals(Buffer.from(big.data.buffer))).toBe(true);
      if (!float16) expect(bitsOf(values.get('after') as Tensor)).toEqual(bitsOf(small));
    }
  });

  it('float16 export stays within float16 rounding and keeps NaN, ±Inf and -0', async () => {
    const values = new Random(3).fillNormal(new Float32Array(1000), 0, 10);
    values.set([NaN, Infinity, -Infinity, -0, 65504, 1e-8, 1e5, 6e-5], 0);
    const { values: back } = await roundTrip(
      [{ key: 'w', kind: 'tensor', value: new Tensor(values, [1000]) }],
      'shuffle-deflate',
      true,
    );
    const got = (back.get('w') as Tensor).data;
    expect([got[0], got[1], got[2], got[4], got[5], got[6]]).toEqual([NaN, Infinity, -Infinity, 65504, 0, Infinity]);
    expect(Object.is(got[3], -0)).toBe(true);
    for (let i = 7; i < 1000; i++) {
      const x = values[i];
      const tol = Math.abs(x) >= 2 ** -14 ? Math.abs(x) * 2 ** -11 : 2 ** -25; // half an ulp
      expect(Math.abs(got[i] - x)).toBeLessThanOrEqual(tol);
    }
  });

  it('float16 conversion rounds to nearest even', () => {
    expect(toFloat16Bits(1)).toBe(0x3c00);
    expect(toFloat16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(toFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(toFloat16Bits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(toFloat16Bits(2 ** -25)).toBe(0x0000); // tie → even (zero)
    expect(fromFloat16Bits(0x7bff)).toBe(65504);
    for (let h = 0; h < 0x7c00; h += 37) expect(toFloat16Bits(fromFloat16Bits(h))).toBe(h);
  });

  it('the portable CRC-32 agrees with the native one and the standard check value', () => {
    expect(crc32Portable(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), (bytes, seed) => {
        expect(crc32Portable(bytes, seed >>> 0)).toBe(crc32(bytes, seed >>> 0));
      }),
    );
  });
});

/** A small valid file holding every codec and a JSON entry. */
async function smallFile(): Promise<Uint8Array> {
  const rng = new Random(9);
  const storage = new MemoryStorage();
  const leaves: FlatLeaf[] = [
    { key: 'a', kind: 'tensor', value: new Tensor(rng.fillNormal(new Float32Array(24)), [4, 6]) },
    { key: 'b', kind: 'tensor', value: new Tensor(new Float32Array(40), [40]) },
    { key: 'meta', kind: 'json', value: { epoch: 3, loss: [0.5, 0.25] } },
  ];
  await writeWpt('/m/s.wpt', leaves.slice(0, 1), { kind: 'weights', storage, codec: 'raw' });
  await writeWpt('/m/s.wpt', leaves, { kind: 'weights', storage, codec: 'shuffle-deflate' });
  return storage.files.get('/m/s.wpt')!;
}

async function expectCheckpointError(bytes: Uint8Array, code?: string): Promise<CheckpointError> {
  const { result } = await readBytes(bytes);
  const err = await result.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(err instanceof CheckpointError)) {
    expect.fail(
      err === null ? 'a damaged file loaded without error' : `expected a CheckpointError, got ${String(err)}`,
    );
  }
  if (code) expect(err.code).toBe(code);
  return err;
}

describe('damaged files are rejected, never loaded', () => {
  it('every single-byte corruption of a small file gives a CheckpointError', async () => {
    const good = await smallFile();
    await readBytes(good).then(({ result }) => result); // sanity: the original loads
    for (let i = 0; i < good.length; i++) {
      for (const flip of [0xff, 0x01]) {
        const bad = good.slice();
        bad[i] ^= flip;
        await expectCheckpointError(bad);
      }
    }
  });

  it('every truncation gives a CheckpointError', async () => {
    const good = await smallFile();
    for (let n = 0; n < good.length; n++) await expectCheckpointError(good.subarray(0, n));
  });

  it('random bytes, with and without a valid magic, give only CheckpointErrors and read within the file', async () => {
    const magic = encodePrologue();
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), fc.boolean(), async (bytes, withMagic) => {
        const file = withMagic ? new Uint8Array([...magic, ...bytes]) : bytes;
        const { storage, result } = await readBytes(file);
        const err = await result.then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(CheckpointError);
        for (const r of storage.reads) expect(r.offset + r.length).toBeLessThanOrEqual(file.length);
      }),
      { numRuns: 2000 },
    );
  });
});

/**
 * Hand-built files, one per error code: prologue, payload bytes, a header object and a
 * trailer, assembled with correct checksums so that exactly one rule is broken.
 */
function build(
  header: Record<string, unknown>,
  payload: Uint8Array = new Uint8Array(0),
  patch?: (file: Uint8Array) => void,
): Uint8Array {
  const json = new TextEncoder().encode(
    JSON.stringify({
      format: 'wpt',
      version: [1, 0],
      kind: 'weights',
      engine: { name: 'waypoint', version: '0.1.0' },
      created: '2026-01-01T00:00:00Z',
      metadata: {},
      entries: [],
      ...header,
    }),
  );
  const headerOffset = 16 + payload.length;
  const file = new Uint8Array([
    ...encodePrologue(),
    ...payload,
    ...json,
    ...encodeTrailer(headerOffset, json.length, crc32(json)),
  ]);
  patch?.(file);
  return file;
}

const f32 = (...xs: number[]) => new Uint8Array(Float32Array.from(xs).buffer);
const entry = (over: Record<string, unknown> = {}, payload = f32(1, 2)) => ({
  key: 'w',
  dtype: 'float32',
  shape: [2],
  codec: 'raw',
  offset: 16,
  length: payload.length,
  crc32: crc32(payload),
  ...over,
});

describe('one fixture per error code', () => {
  it('the fixture builder makes a valid file', async () => {
    const { result } = await readBytes(build({ entries: [entry()] }, f32(1, 2)));
    expect(Array.from(((await result).values.get('w') as Tensor).data)).toEqual([1, 2]);
  });

  const cases: Array<[string, () => Uint8Array, RegExp?]> = [
    ['BAD_MAGIC', () => new TextEncoder().encode('{"not": "a checkpoint"}'), /offset 0/],
    [
      'UNSUPPORTED_VERSION',
      () =>
        build({}, undefined, (f) => {
          f[8] = 2;
        }),
      /format version 2\.0/,
    ],
    ['TRUNCATED', () => build({ entries: [entry()] }, f32(1, 2)).subarray(0, 40), /no trailer/],
    [
      'HEADER_TOO_LARGE',
      () => build({}, undefined, (f) => new DataView(f.buffer).setUint32(f.length - 16, MAX_HEADER_BYTES + 1, true)),
      /cap/,
    ],
    ['MALFORMED_HEADER', () => build({ format: 'zip' }), /format is "zip"/],
    ['OFFSET_OUT_OF_RANGE', () => build({ entries: [entry({ length: 4000 })] }, f32(1, 2)), /entry 'w'/],
    [
      'OVERLAPPING_ENTRIES',
      () => build({ entries: [entry(), entry({ key: 'v', offset: 20, length: 4, shape: [1] })] }, f32(1, 2)),
      /entry 'v', offset 20/,
    ],
    ['CHECKSUM_MISMATCH', () => build({ entries: [entry({ crc32: 12345 })] }, f32(1, 2)), /entry 'w', offset 16/],
    [
      'DECOMPRESSED_SIZE_MISMATCH',
      () => build({ entries: [entry({ codec: 'deflate', shape: [3] })] }, f32(1, 2)),
      /entry 'w'/,
    ],
    ['UNKNOWN_CODEC', () => build({ entries: [entry({ codec: 'lz4' })] }, f32(1, 2)), /codec "lz4"/],
    ['UNKNOWN_DTYPE', () => build({ entries: [entry({ dtype: 'int8' })] }, f32(1, 2)), /dtype "int8"/],
    [
      'ENTRY_TOO_LARGE',
      () => build({ entries: [entry({ shape: [2 ** 20, 2 ** 20], codec: 'deflate' })] }, f32(1, 2)),
      /cap/,
    ],
  ];
  for (const [code, make, message] of cases) {
    it(code, async () => {
      const err = await expectCheckpointError(make(), code);
      if (message) expect(err.message).toMatch(message);
      expect(err.message).toContain('/m/f.wpt');
    });
  }

  it('a zip bomb is refused without inflating past the declared size', async () => {
    const zeros = (await import('node:zlib')).deflateRawSync(new Uint8Array(1 << 24));
    const file = build(
      { entries: [entry({ codec: 'deflate', shape: [16], length: zeros.length, crc32: crc32(zeros) })] },
      zeros,
    );
    await expectCheckpointError(file, 'DECOMPRESSED_SIZE_MISMATCH');
  });
});

describe('docs/header.schema.json', () => {
  it('every header the writer produces validates against the published schema', async () => {
    const { readFileSync } = await import('node:fs');
    const { validateSchema } = await import('../helpers/json-schema.js');
    const schema = JSON.parse(readFileSync(new URL('../../docs/header.schema.json', import.meta.url), 'utf8'));
    await fc.assert(
      fc.asyncProperty(
        leavesArb,
        fc.constantFrom<Codec>('raw', 'deflate', 'shuffle-deflate'),
        fc.boolean(),
        async (leaves, codec, half) => {
          const { header } = await roundTrip(leaves, codec, half);
          expect(validateSchema(header, schema)).toEqual([]);
        },
      ),
      { numRuns: 40 },
    );
    expect(validateSchema({ format: 'zip' }, schema).length).toBeGreaterThan(0);
  });

  it('the engine version written into files matches package.json', async () => {
    const { readFileSync } = await import('node:fs');
    const { ENGINE_VERSION } = await import('../../src/version.js');
    expect(ENGINE_VERSION).toBe(
      JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version,
    );
  });
});
