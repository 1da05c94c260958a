/**
 * splitDecimals: a record split as split(',') splits it, each plain decimal read from the bytes
 * to exactly the double Number(text) gives; anything it declines (NaN) is left to Number.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { splitDecimals } from '../../src/data/decimal.js';

/** The fields of `text` and their values, as splitDecimals reads them. */
function read(text: string): { fields: string[]; values: number[] } {
  const bytes = new TextEncoder().encode(text);
  const bounds = new Int32Array(2 * bytes.length + 2),
    values = new Float64Array(bytes.length + 1);
  const n = splitDecimals(bytes, 44, bounds, values);
  const decoder = new TextDecoder();
  return {
    fields: Array.from({ length: n }, (_, k) => decoder.decode(bytes.subarray(bounds[2 * k], bounds[2 * k + 1]))),
    values: Array.from(values.subarray(0, n)),
  };
}
const one = (s: string) => read(s).values[0];

describe('splitDecimals', () => {
  it('gives the bits of Number(text) for every plain decimal it accepts, and declines the rest', () => {
    const digits = fc.string({
      unit: fc.constantFrom('0', '1', '2', '3', '4', '5', '6', '7', '8', '9'),
      maxLength: 20,
    });
    const decimal = fc
      .tuple(fc.constantFrom('', '-', '+'), digits, fc.boolean(), digits)
      .map(([sign, whole, dot, frac]) => `${sign}${whole}${dot ? `.${frac}` : ''}`);
    const anything = fc.string({ unit: fc.constantFrom('0', '7', '.', '-', '+', 'e', ' ', 'x', '9'), maxLength: 10 });
    fc.assert(
      fc.property(fc.oneof(decimal, anything, fc.double().map(String), fc.float().map(String)), (s) => {
        const fast = one(s);
        if (!Number.isNaN(fast)) expect(Object.is(fast, Number(s)), `${s}: ${fast} vs ${Number(s)}`).toBe(true);
      }),
      { numRuns: 20_000 },
    );
  });

  it('accepts what CSV files mostly hold, and declines exponents, spaces and long mantissas', () => {
    for (const s of ['0', '255', '-3', '0.5', '-0', '12.375', '.5', '5.', '0.1', '123456789012345', '0.000001'])
      expect(Object.is(one(s), Number(s)), s).toBe(true);
    for (const s of ['', '-', '.', '1e5', ' 1', '1 ', '0x10', 'NaN', '1234567890123456', '1.2.3'])
      expect(one(s), s).toBeNaN();
  });

  it('splits any record as split() does, each field read as it would be alone', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: fc.constantFrom('1', '0', '.', '-', '+', 'e', ',', ' ', '5') }), { maxLength: 8 }),
        (parts) => {
          const text = parts.join(',');
          const { fields, values } = read(text);
          expect(fields).toEqual(text.split(','));
          fields.forEach((f, k) => expect(Object.is(values[k], one(f)), f).toBe(true));
        },
      ),
      { numRuns: 5000 },
    );
  });
});
