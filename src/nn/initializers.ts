import { ArgumentError } from '../errors.js';
import type { Random } from '../tensor/random.js';

export type InitializerName = 'glorotUniform' | 'heNormal' | 'zeros' | 'ones' | 'orthogonal' | 'uniform';
const INITIALIZERS: readonly InitializerName[] = [
  'glorotUniform',
  'heNormal',
  'zeros',
  'ones',
  'orthogonal',
  'uniform',
];

/** Values that weights may still allocate, while a budget is set (see `withWeightBudget`). */
let budget: { left: number; total: number } | null = null;

/**
 * Runs `build` allowing at most `values` weight values to be allocated: a layer configured
 * larger (a model file from elsewhere saying `units: 1e9`) fails with an ArgumentError before
 * its memory is taken. Importers size the budget from the weights actually present.
 */
export function withWeightBudget<T>(values: number, build: () => T): T {
  const outer = budget;
  budget = { left: values, total: values };
  try {
    return build();
  } finally {
    budget = outer;
  }
}

/** A new weight array of `size` values, all `fill`; counted against the budget, if any. */
export function weightArray(size: number, fill = 0): Float32Array {
  if (!Number.isSafeInteger(size) || size < 0)
    throw new ArgumentError(`a weight of ${size} values cannot be made (the layer's configuration is out of range)`);
  if (budget !== null) {
    if (size > budget.left) {
      throw new ArgumentError(
        `a weight of ${size} values is more than the ${budget.total} the model's weight files hold ` +
          `(${budget.total - budget.left} already taken): the configuration does not match the weights`,
      );
    }
    budget.left -= size;
  }
  const out = new Float32Array(size);
  return fill === 0 ? out : out.fill(fill);
}

/** Fills a new weight of `size` values; fanIn/fanOut as Keras computes them for the layer. */
export function initialize(
  name: InitializerName,
  size: number,
  fanIn: number,
  fanOut: number,
  rng: Random,
): Float32Array {
  const out = weightArray(size);
  switch (name) {
    case 'glorotUniform': {
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      return rng.fillUniform(out, -limit, limit);
    }
    case 'heNormal': {
      // Keras draws from a normal truncated at 2σ, σ = sqrt(2 / fanIn) / 0.8796 (the truncation's std).
      const std = Math.sqrt(2 / fanIn) / 0.87962566103423978;
      for (let i = 0; i < size; i++) {
        let v: number;
        do v = rng.normal();
        while (Math.abs(v) > 2);
        out[i] = v * std;
      }
      return out;
    }
    case 'uniform': // Keras's 'uniform': RandomUniform(-0.05, 0.05), Embedding's default
      return rng.fillUniform(out, -0.05, 0.05);
    case 'orthogonal':
      return orthogonal(fanIn, size / fanIn, rng);
    case 'zeros':
      return out;
    case 'ones':
      return out.fill(1);
    default:
      throw new ArgumentError(`unknown initializer '${String(name)}' (expected one of ${INITIALIZERS.join(', ')})`);
  }
}

/**
 * A [rows, cols] matrix with orthonormal rows or columns (whichever are fewer), as Keras's
 * Orthogonal: the Q of a Gaussian matrix's QR with R's diagonal made positive, which is what
 * Gram–Schmidt on its columns gives.
 */
function orthogonal(rows: number, cols: number, rng: Random): Float32Array {
  const [n, m] = rows < cols ? [cols, rows] : [rows, cols]; // orthonormalize m columns of length n
  const q = Array.from({ length: m }, () => Float64Array.from({ length: n }, () => rng.normal()));
  for (let j = 0; j < m; j++) {
    for (let k = 0; k < j; k++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += q[j][i] * q[k][i];
      for (let i = 0; i < n; i++) q[j][i] -= dot * q[k][i];
    }
    const norm = Math.hypot(...q[j]);
    for (let i = 0; i < n; i++) q[j][i] /= norm;
  }
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = rows < cols ? q[r][c] : q[c][r];
  return out;
}
