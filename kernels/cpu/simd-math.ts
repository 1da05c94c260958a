import { op } from './wasm-asm.js';

/**
 * exp, sigmoid and tanh on four float32 lanes, for WebAssembly SIMD kernels (which have no
 * transcendental instructions): Cephes's single-precision range reduction and polynomials.
 * exp is within 2 ulp of the exact value on [−87.3, 88.3] (Math.exp rounded to float32 is
 * within 1), so sigmoid and tanh differ from their float64-then-rounded JavaScript
 * counterparts by a few ulp at most. Past that range exp saturates (at e^88.38 ≈ 2.4e38 and
 * about 2⁻¹²⁶), which leaves sigmoid and tanh at their limits to within 5e-39; NaN stays NaN.
 *
 * Each helper returns the instructions that push the result, reading and overwriting the
 * v128 locals it is given as scratch.
 */
type Vec = number[][];

const k = (x: number): Vec => [op.f32x4Const(x)];
const get = (local: number): Vec => [op.get(local)];
const mul = (a: Vec, b: Vec): Vec => [...a, ...b, op.f32x4Mul];
const add = (a: Vec, b: Vec): Vec => [...a, ...b, op.f32x4Add];
const sub = (a: Vec, b: Vec): Vec => [...a, ...b, op.f32x4Sub];
const set = (local: number, value: Vec): Vec => [...value, op.set(local)];

/** Horner's rule: ((c₀·x + c₁)·x + …)·x + cₙ. */
const horner = (x: number, coefficients: number[]): Vec =>
  coefficients.slice(1).reduce((acc, c) => add(mul(acc, get(x)), k(c)), k(coefficients[0]));

/** 1.5·2²³: added to a float in ±2²², it rounds it to an integer held in the low mantissa bits. */
const MAGIC = 12582912;

/** exp of local `x` (which may be `t`), with scratch locals `t` and `n`. */
export function expOf(x: number, t: number, n: number): Vec {
  return [
    // Clamped so that 2ⁿ stays a normal float (n in [−126, 127]); pmin/pmax keep a NaN x (it is their first operand).
    ...set(t, [...get(x), ...k(88.3762626647949), op.f32x4Pmin, ...k(-87.3365447504), op.f32x4Pmax]),
    // n = round(x·log₂e), by the magic number: its bits, less MAGIC's, are n as an integer.
    ...set(n, add(mul(get(t), k(Math.LOG2E)), k(MAGIC))),
    // r = x − n·ln2 in two parts (ln2's high part is exact in float32 for |n| < 2⁹).
    ...set(
      t,
      sub(sub(get(t), mul(sub(get(n), k(MAGIC)), k(0.693359375))), mul(sub(get(n), k(MAGIC)), k(-2.1219444e-4))),
    ),
    // e^r ≈ 1 + r + r²·P(r) on |r| ≤ ln2/2.
    ...add(
      add(
        mul(
          mul(
            horner(
              t,
              [1.98756915e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1],
            ),
            get(t),
          ),
          get(t),
        ),
        get(t),
      ),
      k(1),
    ),
    // · 2ⁿ, built in the exponent bits: (bits(n + MAGIC) − bits(MAGIC) + 127) << 23.
    op.get(n),
    op.v128ConstI32([127 - 0x4b400000, 127 - 0x4b400000, 127 - 0x4b400000, 127 - 0x4b400000]),
    op.i32x4Add,
    op.i32(23),
    op.i32x4Shl,
    op.f32x4Mul,
  ];
}

/** 1 / (1 + e^−x) of local `x`, with scratch locals `t` and `n`. */
export function sigmoidOf(x: number, t: number, n: number): Vec {
  return [...k(1), ...set(t, [...get(x), op.f32x4Neg]), ...k(1), ...expOf(t, t, n), op.f32x4Add, op.f32x4Div];
}

/**
 * tanh of local `x`, with scratch locals `a`, `s`, `t` and `n`: x + x³·P(x²) below |x| = 0.625
 * (where 1 − 2/(e^{2|x|} + 1) would lose digits to cancellation), that with x's sign above.
 */
export function tanhOf(x: number, a: number, s: number, t: number, n: number): Vec {
  return [
    ...set(a, [...get(x), op.f32x4Abs]),
    ...set(t, add(get(a), get(a))),
    ...set(s, sub(k(1), [...k(2), ...add(expOf(t, t, n), k(1)), op.f32x4Div])),
    ...set(s, [
      ...get(s),
      ...get(x),
      op.v128ConstI32([-0x80000000, -0x80000000, -0x80000000, -0x80000000]),
      op.v128And,
      op.v128Or,
    ]),
    ...set(t, mul(get(x), get(x))),
    // small = x + x·z·P(z)
    ...add(
      mul(
        mul(
          horner(t, [-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1]),
          get(t),
        ),
        get(x),
      ),
      get(x),
    ),
    ...get(s),
    ...get(a),
    ...k(0.625),
    op.f32x4Lt,
    op.v128Bitselect,
  ];
}
