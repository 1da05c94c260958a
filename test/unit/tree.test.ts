/** JSON values in checkpoints (state/tree.ts): every value comes back as it was, whatever its keys. */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { parseJson, stringifyJson, type JsonValue } from '../../src/state/tree.js';
import { Checkpoint, MemoryStorage } from '../../src/node/index.js';

/** JSON values whose objects may use the non-finite tag's key, or keys like it, as their own. */
const tricky: fc.Arbitrary<JsonValue> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.double(),
    fc.constantFrom(NaN, Infinity, -Infinity, -0),
    fc.string(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom('__float__', '___float__', '____float__', '_float__', 'a', 'b'), tie('value'), {
      maxKeys: 3,
    }),
  ),
})).value as fc.Arbitrary<JsonValue>;

describe('JSON values', () => {
  it('a user value { "__float__": "NaN" } comes back as that object, not as the number NaN', async () => {
    const value = { __float__: 'NaN' };
    expect(parseJson(stringifyJson(value))).toEqual(value);
    const storage = new MemoryStorage();
    const ckpt = new Checkpoint({ meta: value });
    await ckpt.write('/c.wpt', { storage });
    const back = new Checkpoint({ meta: null });
    await back.read('/c.wpt', { storage });
    expect(back.get('meta')).toEqual({ __float__: 'NaN' });
  });

  it('every value round-trips bit for bit, tag-like keys and non-finite numbers included (property)', () => {
    fc.assert(
      fc.property(tricky, (value) => {
        expect(
          Object.is(parseJson(stringifyJson(value)), value) ||
            Object.is(JSON.stringify(parseJson(stringifyJson(value)), replacer), JSON.stringify(value, replacer)),
        ).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

/** Makes NaN, ±Infinity and -0 visible to a string comparison. */
const replacer = (_k: string, v: unknown) =>
  typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0)) ? `#${Object.is(v, -0) ? '-0' : String(v)}` : v;
