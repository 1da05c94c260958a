/** plainDecimal reads a field's bytes to exactly the double Number(text) gives, or declines (NaN) and leaves the text to Number. */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { plainDecimal, splitDecimals } from '../../src/data/decimal.js';

const read = (s: string) => {
  const b = new TextEncoder().encode(`x${s}y`);
  return plainDecimal(b, 1, b.length - 1);
};
const same = (a: number, b: number) => Object.is(a, b);

describe('plainDecimal', () => {
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
        const fast = read(s);
        if (!Number.isNaN(fast)) expect(same(fast, Number(s)), `${s}: ${fast} vs ${Number(s)}`).toBe(true);
      }),
      { numRuns: 20_000 },
    );
  });

  it('accepts what CSV files mostly hold', () => {
    for (const s of ['0', '255', '-3', '0.5', '-0', '12.375', '.5', '5.', '0.1', '123456789012345', '0.000001'])
      expect(same(read(s), Number(s)), s).toBe(true);
    for (const s of ['', '-', '.', '1e5', ' 1', '1 ', '0x10', 'NaN', '1234567890123456', '1.2.3'])
      expect(read(s), s).toBeNaN();
  });
});

describe('splitDecimals', () => {
  it('splits any record as split() does, each field read as plainDecimal reads it alone', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: fc.constantFrom('1', '0', '.', '-', '+', 'e', ',', ' ', '5') }), { maxLength: 8 }),
        (parts) => {
          const text = parts.join(',');
          const bytes = new TextEncoder().encode(text);
          const bounds = new Int32Array(2 * bytes.length + 2),
            values = new Float64Array(bytes.length + 1);
          const n = splitDecimals(bytes, 44, bounds, values);
          const fields = text.split(',');
          expect(n).toBe(fields.length);
          fields.forEach((f, k) => {
            expect(new TextDecoder().decode(bytes.subarray(bounds[2 * k], bounds[2 * k + 1]))).toBe(f);
            const alone = plainDecimal(bytes, bounds[2 * k], bounds[2 * k + 1]);
            expect(Object.is(values[k], alone) || (Number.isNaN(values[k]) && Number.isNaN(alone)), f).toBe(true);
          });
        },
      ),
      { numRuns: 5000 },
    );
  });
});
