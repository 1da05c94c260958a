import { allocate } from '../buffers.js';
import type { Normalized, NormalizedGrad } from '../types.js';

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
 * with the sums and means over what the statistics were taken over.
 */
export function normalizeRows(
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

export function normalizeRowsGrad(
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

export function normalizeChannels(
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

export function normalizeChannelsGrad(
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
