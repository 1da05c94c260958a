/**
 * Normalization as one op each way (the backend's fused kernels), where composing mean, sub,
 * mul, div and sqrt took a dozen elementwise passes and temporaries forward and as many back.
 */
import { ShapeError, fmtShape } from '../../errors.js';
import { backend } from '../../backend/index.js';
import { Tensor } from '../tensor.js';

function checkAffine(op: string, x: Tensor, p: Tensor | null, name: string): void {
  const f = x.shape[x.rank - 1];
  if (p && (p.rank !== 1 || p.shape[0] !== f))
    throw new ShapeError(op, `${name} ${fmtShape(p.shape)} does not match the last axis of ${fmtShape(x.shape)}`);
}

/** The parents of a normalization and the gradients to hand back, in the same order. */
function record(
  x: Tensor,
  y: Float32Array,
  gamma: Tensor | null,
  beta: Tensor | null,
  grad: (g: Float32Array) => { dx: Float32Array; dgamma: Float32Array | null; dbeta: Float32Array | null },
): Tensor {
  const parents = [x, ...(gamma ? [gamma] : []), ...(beta ? [beta] : [])];
  return Tensor.record(new Tensor(y, x.shape), parents, (g) => {
    const { dx, dgamma, dbeta } = grad(g);
    return [dx, ...(gamma ? [dgamma] : []), ...(beta ? [dbeta] : [])];
  });
}

/** (x − mean) / √(variance + ε) · γ + β, the statistics of each row of the last axis (LayerNormalization). */
export function layerNorm(x: Tensor, gamma: Tensor | null, beta: Tensor | null, epsilon: number): Tensor {
  if (x.rank < 1) throw new ShapeError('layerNorm', `expects a feature axis, got ${fmtShape(x.shape)}`);
  checkAffine('layerNorm', x, gamma, 'gamma');
  checkAffine('layerNorm', x, beta, 'beta');
  const f = x.shape[x.rank - 1];
  const rows = f === 0 ? 0 : x.size / f;
  const n = backend().normalizeRows(x.data, rows, f, gamma?.data ?? null, beta?.data ?? null, epsilon);
  return record(x, n.y, gamma, beta, (g) =>
    backend().normalizeRowsGrad(
      g,
      n,
      rows,
      f,
      gamma?.data ?? null,
      gamma?.requiresGrad ?? false,
      beta?.requiresGrad ?? false,
    ),
  );
}

/**
 * BatchNormalization in training: each channel (the last axis) by its mean and biased
 * variance over every other axis, then γ and β; also returns those statistics (for the
 * moving averages).
 */
export function batchNormTraining(
  x: Tensor,
  gamma: Tensor | null,
  beta: Tensor | null,
  epsilon: number,
): { y: Tensor; mean: Float32Array; variance: Float32Array } {
  if (x.rank < 2) throw new ShapeError('batchNorm', `expects [batch, ..., channels], got ${fmtShape(x.shape)}`);
  checkAffine('batchNorm', x, gamma, 'gamma');
  checkAffine('batchNorm', x, beta, 'beta');
  const c = x.shape[x.rank - 1];
  const positions = c === 0 ? 0 : x.size / c;
  const n = backend().normalizeChannels(x.data, positions, c, gamma?.data ?? null, beta?.data ?? null, epsilon);
  const y = record(x, n.y, gamma, beta, (g) =>
    backend().normalizeChannelsGrad(
      g,
      n,
      positions,
      c,
      gamma?.data ?? null,
      gamma?.requiresGrad ?? false,
      beta?.requiresGrad ?? false,
    ),
  );
  return { y, mean: n.mean, variance: n.variance };
}
