import { allocate, copyOut } from '../buffers.js';
import type { Normalized, NormalizedGrad } from '../types.js';
import { type NormalizeKernel, layOut, normalizeKernel } from './normalize-simd.js';

/**
 * Normalization, fused: y = (x − μ) · r · γ + β with r = 1/√(σ² + ε), forward in one pass
 * for the statistics and one for the output, backward in one pass for the sums and one for
 * the gradients, with no temporaries but x̂ and r (kept for the backward pass, from the
 * buffer pool). Statistics and sums accumulate in float64; values are stored in float32.
 *
 * Rows (LayerNormalization): statistics per row of `f` values, γ and β per column.
 * Channels (BatchNormalization in training): statistics per channel over `positions` rows of
 * `c` channels, γ and β per channel. Backward of both, from dL/dy:
 *   dβ = Σ dy,  dγ = Σ dy·x̂,  dx = r · (dx̂ − mean(dx̂) − x̂ · mean(dx̂·x̂)),  dx̂ = dy·γ
 * with the sums and means over what the statistics were taken over. The passes run in
 * WebAssembly SIMD (normalize-simd.ts) where the last axis comes in fours, these loops otherwise.
 */

/** The SIMD kernel where it runs and the last axis (`width`) is a whole number of vectors. */
function simd(width: number, rows: number): NormalizeKernel | null {
  return width % 4 === 0 && width > 0 && rows > 0 ? normalizeKernel() : null;
}

/** `n` float64 sums at byte `at`, rounded into a pooled float32 buffer. */
function roundedOut(f64: Float64Array, at: number, n: number): Float32Array {
  const out = allocate(n);
  for (let j = 0; j < n; j++) out[j] = f64[at / 8 + j];
  return out;
}

/** γ or β as float64, `fill` where absent. */
function asF64(f64: Float64Array, at: number, values: Float32Array | null, n: number, fill: number) {
  if (values) for (let j = 0; j < n; j++) f64[at / 8 + j] = values[j];
  else f64.fill(fill, at / 8, at / 8 + n);
}
export function normalizeRows(...args: Parameters<typeof normalizeRowsScalar>): Normalized {
  const [, rows, f] = args;
  const k = simd(f, rows);
  return k !== null ? normalizeRowsSimd(k, ...args) : normalizeRowsScalar(...args);
}

/** The JavaScript loops alone (tests check the SIMD passes against them). */
export function normalizeRowsScalar(
  x: Float32Array,
  rows: number,
  f: number,
  gamma: Float32Array | null,
  beta: Float32Array | null,
  epsilon: number,
): Normalized {
  const y = allocate(x.length),
    xhat = allocate(x.length);
  const rstd = allocate(rows),
    mean = allocate(rows),
    variance = allocate(rows);
  for (let r = 0; r < rows; r++) {
    const at = r * f;
    let sum = 0;
    for (let j = 0; j < f; j++) sum += x[at + j];
    const mu = sum / f;
    let sq = 0;
    for (let j = 0; j < f; j++) {
      const d = x[at + j] - mu;
      sq += d * d;
    }
    const v = sq / f;
    const s = 1 / Math.sqrt(v + epsilon);
    mean[r] = mu;
    variance[r] = v;
    rstd[r] = s;
    for (let j = 0; j < f; j++) {
      const h = (x[at + j] - mu) * s;
      xhat[at + j] = h;
      y[at + j] = h * (gamma ? gamma[j] : 1) + (beta ? beta[j] : 0);
    }
  }
  return { y, xhat, rstd, mean, variance };
}

export function normalizeRowsGrad(...args: Parameters<typeof normalizeRowsGradScalar>): NormalizedGrad {
  const [, , rows, f] = args;
  const k = simd(f, rows);
  return k !== null ? normalizeRowsGradSimd(k, ...args) : normalizeRowsGradScalar(...args);
}

/** The JavaScript loops alone (tests check the SIMD passes against them). */
export function normalizeRowsGradScalar(
  dy: Float32Array,
  n: Normalized,
  rows: number,
  f: number,
  gamma: Float32Array | null,
  withGamma: boolean,
  withBeta: boolean,
): NormalizedGrad {
  const dx = allocate(dy.length);
  const dgamma = withGamma ? new Float64Array(f) : null,
    dbeta = withBeta ? new Float64Array(f) : null;
  const { xhat, rstd } = n;
  for (let r = 0; r < rows; r++) {
    const at = r * f;
    let sumD = 0,
      sumDX = 0;
    for (let j = 0; j < f; j++) {
      const g = dy[at + j],
        h = xhat[at + j];
      const d = gamma ? g * gamma[j] : g;
      sumD += d;
      sumDX += d * h;
      if (dgamma) dgamma[j] += g * h;
      if (dbeta) dbeta[j] += g;
    }
    const meanD = sumD / f,
      meanDX = sumDX / f,
      s = rstd[r];
    for (let j = 0; j < f; j++) {
      const d = gamma ? dy[at + j] * gamma[j] : dy[at + j];
      dx[at + j] = s * (d - meanD - xhat[at + j] * meanDX);
    }
  }
  return { dx, dgamma: dgamma && Float32Array.from(dgamma), dbeta: dbeta && Float32Array.from(dbeta) };
}

export function normalizeChannels(...args: Parameters<typeof normalizeChannelsScalar>): Normalized {
  const [, positions, c] = args;
  const k = simd(c, positions);
  return k !== null ? normalizeChannelsSimd(k, ...args) : normalizeChannelsScalar(...args);
}

/** The JavaScript loops alone (tests check the SIMD passes against them). */
export function normalizeChannelsScalar(
  x: Float32Array,
  positions: number,
  c: number,
  gamma: Float32Array | null,
  beta: Float32Array | null,
  epsilon: number,
): Normalized {
  const y = allocate(x.length),
    xhat = allocate(x.length);
  const sum = new Float64Array(c),
    sq = new Float64Array(c);
  for (let p = 0; p < positions; p++) {
    const at = p * c;
    for (let k = 0; k < c; k++) sum[k] += x[at + k];
  }
  const mean = allocate(c),
    variance = allocate(c),
    rstd = allocate(c);
  const mu = new Float64Array(c);
  for (let k = 0; k < c; k++) mu[k] = sum[k] / positions;
  for (let p = 0; p < positions; p++) {
    const at = p * c;
    for (let k = 0; k < c; k++) {
      const d = x[at + k] - mu[k];
      sq[k] += d * d;
    }
  }
  const scale = new Float64Array(c),
    shift = new Float64Array(c),
    s = new Float64Array(c);
  for (let k = 0; k < c; k++) {
    const v = sq[k] / positions;
    s[k] = 1 / Math.sqrt(v + epsilon);
    mean[k] = mu[k];
    variance[k] = v;
    rstd[k] = s[k];
    scale[k] = gamma ? gamma[k] : 1;
    shift[k] = beta ? beta[k] : 0;
  }
  for (let p = 0; p < positions; p++) {
    const at = p * c;
    for (let k = 0; k < c; k++) {
      const h = (x[at + k] - mu[k]) * s[k];
      xhat[at + k] = h;
      y[at + k] = h * scale[k] + shift[k];
    }
  }
  return { y, xhat, rstd, mean, variance };
}

export function normalizeChannelsGrad(...args: Parameters<typeof normalizeChannelsGradScalar>): NormalizedGrad {
  const [, , positions, c] = args;
  const k = simd(c, positions);
  return k !== null ? normalizeChannelsGradSimd(k, ...args) : normalizeChannelsGradScalar(...args);
}

/** The JavaScript loops alone (tests check the SIMD passes against them). */
export function normalizeChannelsGradScalar(
  dy: Float32Array,
  n: Normalized,
  positions: number,
  c: number,
  gamma: Float32Array | null,
  withGamma: boolean,
  withBeta: boolean,
): NormalizedGrad {
  const { xhat, rstd } = n;
  const sumG = new Float64Array(c),
    sumGX = new Float64Array(c);
  for (let p = 0; p < positions; p++) {
    const at = p * c;
    for (let k = 0; k < c; k++) {
      const g = dy[at + k];
      sumG[k] += g;
      sumGX[k] += g * xhat[at + k];
    }
  }
  // With dx̂ = dy·γ: mean(dx̂) = γ·Σdy / M and mean(dx̂·x̂) = γ·Σdy·x̂ / M, per channel.
  const meanD = new Float64Array(c),
    meanDX = new Float64Array(c);
  for (let k = 0; k < c; k++) {
    const gk = gamma ? gamma[k] : 1;
    meanD[k] = (sumG[k] * gk) / positions;
    meanDX[k] = (sumGX[k] * gk) / positions;
  }
  const dx = allocate(dy.length);
  for (let p = 0; p < positions; p++) {
    const at = p * c;
    for (let k = 0; k < c; k++) {
      const gk = gamma ? gamma[k] : 1;
      dx[at + k] = rstd[k] * (dy[at + k] * gk - meanD[k] - xhat[at + k] * meanDX[k]);
    }
  }
  return {
    dx,
    dgamma: withGamma ? Float32Array.from(sumGX) : null,
    dbeta: withBeta ? Float32Array.from(sumG) : null,
  };
}

function normalizeRowsSimd(
  k: NormalizeKernel,
  x: Float32Array,
  rows: number,
  f: number,
  gamma: Float32Array | null,
  beta: Float32Array | null,
  epsilon: number,
): Normalized {
  const { at, f32, f64 } = layOut(k, {
    x: [x.length, 4],
    xhat: [x.length, 4],
    y: [x.length, 4],
    sums: [2 * rows, 8],
    stats: [2 * rows, 8],
    scale: [f, 8],
    shift: [f, 8],
  });
  f32.set(x, at.x / 4);
  const rstd = allocate(rows),
    mean = allocate(rows),
    variance = allocate(rows);
  const groups = f / 4,
    s = at.sums / 8;
  const stats = at.stats / 8; // (mean, rstd) a row
  k.rowSums(at.x, rows, groups, at.sums);
  for (let r = 0; r < rows; r++) f64[stats + 2 * r] = (f64[s + 2 * r] + f64[s + 2 * r + 1]) / f;
  k.rowSquares(at.x, rows, groups, at.stats, at.sums);
  for (let r = 0; r < rows; r++) {
    const mu = f64[stats + 2 * r];
    const v = (f64[s + 2 * r] + f64[s + 2 * r + 1]) / f;
    const rs = 1 / Math.sqrt(v + epsilon);
    f64[stats + 2 * r + 1] = rs;
    mean[r] = mu;
    variance[r] = v;
    rstd[r] = rs;
  }
  asF64(f64, at.scale, gamma, f, 1);
  asF64(f64, at.shift, beta, f, 0);
  k.rowAffine(at.x, at.xhat, at.y, rows, groups, at.scale, at.shift, at.stats);
  return { y: copyOut(f32, at.y / 4, x.length), xhat: copyOut(f32, at.xhat / 4, x.length), rstd, mean, variance };
}

function normalizeRowsGradSimd(
  k: NormalizeKernel,
  dy: Float32Array,
  n: Normalized,
  rows: number,
  f: number,
  gamma: Float32Array | null,
  withGamma: boolean,
  withBeta: boolean,
): NormalizedGrad {
  const { at, f32, f64 } = layOut(k, {
    dy: [dy.length, 4],
    xhat: [dy.length, 4],
    dx: [dy.length, 4],
    gamma: [f, 8],
    dgamma: [f, 8],
    dbeta: [f, 8],
    sums: [4 * rows, 8],
    coefficients: [3 * rows, 8],
  });
  f32.set(dy, at.dy / 4);
  f32.set(n.xhat, at.xhat / 4);
  asF64(f64, at.gamma, gamma, f, 1);
  f64.fill(0, at.dgamma / 8, at.dbeta / 8 + f);
  const groups = f / 4,
    s = at.sums / 8,
    c = at.coefficients / 8;
  k.rowGradSums(at.dy, at.xhat, rows, groups, at.gamma, at.dgamma, at.dbeta, at.sums);
  for (let r = 0; r < rows; r++) {
    f64[c + 3 * r] = (f64[s + 4 * r] + f64[s + 4 * r + 1]) / f;
    f64[c + 3 * r + 1] = (f64[s + 4 * r + 2] + f64[s + 4 * r + 3]) / f;
    f64[c + 3 * r + 2] = n.rstd[r];
  }
  k.rowGrad(at.dy, at.xhat, at.dx, rows, groups, at.gamma, at.coefficients);
  return {
    dx: copyOut(f32, at.dx / 4, dy.length),
    dgamma: withGamma ? roundedOut(f64, at.dgamma, f) : null,
    dbeta: withBeta ? roundedOut(f64, at.dbeta, f) : null,
  };
}

function normalizeChannelsSimd(
  k: NormalizeKernel,
  x: Float32Array,
  positions: number,
  c: number,
  gamma: Float32Array | null,
  beta: Float32Array | null,
  epsilon: number,
): Normalized {
  const { at, f32, f64 } = layOut(k, {
    x: [x.length, 4],
    xhat: [x.length, 4],
    y: [x.length, 4],
    sum: [c, 8],
    mu: [c, 8],
    sq: [c, 8],
    rstd: [c, 8],
    scale: [c, 8],
    shift: [c, 8],
  });
  f32.set(x, at.x / 4);
  const groups = c / 4;
  f64.fill(0, at.sum / 8, at.sum / 8 + c);
  f64.fill(0, at.sq / 8, at.sq / 8 + c);
  k.colSums(at.x, positions, groups, at.sum);
  for (let j = 0; j < c; j++) f64[at.mu / 8 + j] = f64[at.sum / 8 + j] / positions;
  k.colSquares(at.x, positions, groups, at.mu, at.sq);
  const mean = allocate(c),
    variance = allocate(c),
    rstd = allocate(c);
  for (let j = 0; j < c; j++) {
    const v = f64[at.sq / 8 + j] / positions;
    const s = 1 / Math.sqrt(v + epsilon);
    f64[at.rstd / 8 + j] = s;
    mean[j] = f64[at.mu / 8 + j];
    variance[j] = v;
    rstd[j] = s;
  }
  asF64(f64, at.scale, gamma, c, 1);
  asF64(f64, at.shift, beta, c, 0);
  k.colAffine(at.x, at.xhat, at.y, positions, groups, at.mu, at.rstd, at.scale, at.shift);
  return { y: copyOut(f32, at.y / 4, x.length), xhat: copyOut(f32, at.xhat / 4, x.length), rstd, mean, variance };
}

function normalizeChannelsGradSimd(
  k: NormalizeKernel,
  dy: Float32Array,
  n: Normalized,
  positions: number,
  c: number,
  gamma: Float32Array | null,
  withGamma: boolean,
  withBeta: boolean,
): NormalizedGrad {
  const { at, f32, f64 } = layOut(k, {
    dy: [dy.length, 4],
    xhat: [dy.length, 4],
    dx: [dy.length, 4],
    sumG: [c, 8],
    sumGX: [c, 8],
    rstd: [c, 8],
    gamma: [c, 8],
    meanD: [c, 8],
    meanDX: [c, 8],
  });
  f32.set(dy, at.dy / 4);
  f32.set(n.xhat, at.xhat / 4);
  const groups = c / 4;
  f64.fill(0, at.sumG / 8, at.sumGX / 8 + c);
  k.colGradSums(at.dy, at.xhat, positions, groups, at.sumG, at.sumGX);
  asF64(f64, at.gamma, gamma, c, 1);
  for (let j = 0; j < c; j++) {
    const gk = f64[at.gamma / 8 + j];
    f64[at.rstd / 8 + j] = n.rstd[j];
    f64[at.meanD / 8 + j] = (f64[at.sumG / 8 + j] * gk) / positions;
    f64[at.meanDX / 8 + j] = (f64[at.sumGX / 8 + j] * gk) / positions;
  }
  k.colGrad(at.dy, at.xhat, at.dx, positions, groups, at.rstd, at.gamma, at.meanD, at.meanDX);
  return {
    dx: copyOut(f32, at.dx / 4, dy.length),
    dgamma: withGamma ? roundedOut(f64, at.sumGX, c) : null,
    dbeta: withBeta ? roundedOut(f64, at.sumG, c) : null,
  };
}
