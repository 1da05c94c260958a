import { expect } from 'vitest';

/** Every value within rtol of the reference (and rtol/10 absolutely near zero), naming the first that is not. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const tol = rtol * Math.abs(expected[i]) + rtol * 0.1;
    if (!(Math.abs(actual[i] - expected[i]) <= tol))
      throw new Error(`${what}[${i}]: ${actual[i]} vs reference ${expected[i]} (tolerance ${tol.toExponential(2)})`);
  }
}
