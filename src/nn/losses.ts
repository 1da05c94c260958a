/**
 * Losses, each the mean over the batch. With `fromLogits` the model hands over the final
 * layer's pre-activation values and the loss applies softmax / sigmoid itself, stably
 * (log-sum-exp; one fused softmax + cross-entropy gradient). Otherwise probabilities are
 * clipped to [ε, 1−ε], as Keras does.
 */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { add, clip, log, logSoftmax, mean, mul, neg, oneHot, relu, sub, sum, exp } from '../tensor/ops.js';

export type LossName = 'mse' | 'categoricalCrossentropy' | 'sparseCategoricalCrossentropy' | 'binaryCrossentropy';
export type LossFn = (yTrue: Tensor, output: Tensor, fromLogits: boolean) => Tensor;

const EPSILON = 1e-7;

/** Integer labels [batch] or [batch, 1] → one-hot rows of width `depth`. */
function labelsToOneHot(yTrue: Tensor, depth: number): Tensor {
  if (yTrue.size !== yTrue.shape[0] || (yTrue.rank !== 1 && yTrue.rank !== 2)) {
    throw new ShapeError(
      'sparseCategoricalCrossentropy',
      `labels must be [batch] or [batch,1] integers, got ${fmtShape(yTrue.shape)}`,
    );
  }
  return oneHot(yTrue.data, depth);
}

function sameShapes(name: string, yTrue: Tensor, output: Tensor): void {
  if (fmtShape(yTrue.shape) !== fmtShape(output.shape)) {
    throw new ShapeError(name, `targets ${fmtShape(yTrue.shape)} and model output ${fmtShape(output.shape)} differ`);
  }
}

function crossentropy(yOneHot: Tensor, output: Tensor, fromLogits: boolean): Tensor {
  const logProbs = fromLogits ? logSoftmax(output, -1) : log(clip(output, EPSILON, 1 - EPSILON));
  return neg(mean(sum(mul(yOneHot, logProbs), -1)));
}

export const LOSSES: Record<LossName, LossFn> = {
  mse: (y, out) => {
    sameShapes('mse', y, out);
    const d = sub(out, y);
    return mean(mul(d, d));
  },
  categoricalCrossentropy: (y, out, fromLogits) => {
    sameShapes('categoricalCrossentropy', y, out);
    return crossentropy(y, out, fromLogits);
  },
  sparseCategoricalCrossentropy: (y, out, fromLogits) =>
    crossentropy(labelsToOneHot(y, out.shape[out.rank - 1]), out, fromLogits),
  binaryCrossentropy: (y, out, fromLogits) => {
    sameShapes('binaryCrossentropy', y, out);
    if (fromLogits) {
      // max(z,0) − z·y + log(1 + e^−|z|): never exponentiates a large positive number.
      const absZ = add(relu(out), relu(neg(out)));
      return mean(add(sub(relu(out), mul(out, y)), log(add(exp(neg(absZ)), 1))));
    }
    const p = clip(out, EPSILON, 1 - EPSILON);
    return neg(mean(add(mul(y, log(p)), mul(sub(1, y), log(sub(1, p))))));
  },
};

/** The final activation a loss can absorb as logits. */
export const FUSABLE_ACTIVATION: Partial<Record<LossName, string>> = {
  categoricalCrossentropy: 'softmax',
  sparseCategoricalCrossentropy: 'softmax',
  binaryCrossentropy: 'sigmoid',
};

export function getLoss(name: LossName): LossFn {
  const fn = LOSSES[name];
  if (fn === undefined)
    throw new ArgumentError(`unknown loss '${String(name)}' (expected one of ${Object.keys(LOSSES).join(', ')})`);
  return fn;
}
