/** BatchNormalization and LayerNormalization, as Keras 3 computes them (biased variance). */
import { ArgumentError, ShapeError, fmtShape } from '../../errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { add, batchNormTraining, div, layerNorm, mul, sqrt, sub } from '../../tensor/ops.js';
import { type CallContext, Layer, type LayerExample, type LayerConfig, type SampleShape } from '../layer.js';
import { weightArray } from '../initializers.js';

function checkEpsilon(owner: string, epsilon: number): number {
  if (!(epsilon > 0 && Number.isFinite(epsilon)))
    throw new ArgumentError(`${owner}: epsilon must be a positive number, got ${epsilon}`);
  return epsilon;
}

/** (x − mean) / √(variance + ε) · γ + β over the last axis, the statistics over `axes`. */
function normalize(
  x: Tensor,
  m: Tensor,
  v: Tensor,
  epsilon: number,
  gamma: Tensor | null,
  beta: Tensor | null,
): Tensor {
  let y = div(sub(x, m), sqrt(add(v, epsilon)));
  if (gamma) y = mul(y, gamma);
  if (beta) y = add(y, beta);
  return y;
}

export interface BatchNormalizationConfig extends LayerConfig {
  momentum?: number;
  epsilon?: number;
  center?: boolean;
  scale?: boolean;
}

/**
 * Normalizes each channel (the last axis) by the batch's mean and variance while training,
 * and by moving averages of them at inference, as Keras's BatchNormalization: moving ← moving
 * · momentum + batch · (1 − momentum). The moving statistics are weights that no gradient
 * updates (and state that a checkpoint keeps). A frozen layer (`trainable: false`) runs in
 * inference mode, as in Keras.
 */
export class BatchNormalization extends Layer {
  /** A small instance for the layer contract (test/contract/layers.test.ts): its config and per-sample input shape. */
  static readonly example: LayerExample = { config: {}, inputShape: [6] };
  readonly className = 'BatchNormalization';
  readonly momentum: number;
  readonly epsilon: number;
  readonly center: boolean;
  readonly scale: boolean;

  constructor(config: BatchNormalizationConfig = {}) {
    super(config);
    this.momentum = config.momentum ?? 0.99;
    if (!(this.momentum >= 0 && this.momentum <= 1))
      throw new ArgumentError(`BatchNormalization: momentum must be in [0, 1], got ${this.momentum}`);
    this.epsilon = checkEpsilon('BatchNormalization', config.epsilon ?? 1e-3);
    this.center = config.center ?? true;
    this.scale = config.scale ?? true;
  }

  protected override createWeights(inputShape: SampleShape): void {
    if (inputShape.length === 0)
      throw new ShapeError(this.describe(), 'expects inputs with a channel axis, got scalars');
    const c = inputShape[inputShape.length - 1];
    if (this.scale) this.addWeight('gamma', weightArray(c, 1), [c]);
    if (this.center) this.addWeight('beta', weightArray(c), [c]);
    this.addWeight('moving_mean', weightArray(c), [c], false);
    this.addWeight('moving_variance', weightArray(c, 1), [c], false);
  }

  outputShape(inputShape: SampleShape): SampleShape {
    return inputShape;
  }

  call(x: Tensor, ctx: CallContext): Tensor {
    const gamma = this.scale ? this.weight('gamma') : null,
      beta = this.center ? this.weight('beta') : null;
    const movingMean = this.weight('moving_mean'),
      movingVariance = this.weight('moving_variance');
    if (!(ctx.training && this.trainable)) return normalize(x, movingMean, movingVariance, this.epsilon, gamma, beta);
    const { y, mean: m, variance: v } = batchNormTraining(x, gamma, beta, this.epsilon);
    const keep = this.momentum,
      take = 1 - this.momentum;
    for (let i = 0; i < m.length; i++) {
      movingMean.data[i] = movingMean.data[i] * keep + m[i] * take;
      movingVariance.data[i] = movingVariance.data[i] * keep + v[i] * take;
    }
    return y;
  }

  /** Waypoint normalizes the last axis. */
  override kerasConfigExtras() {
    return { axis: -1 };
  }

  getConfig() {
    return {
      name: this.name,
      inputShape: this.inputShape,
      trainable: this.trainable,
      momentum: this.momentum,
      epsilon: this.epsilon,
      center: this.center,
      scale: this.scale,
    };
  }
}

export interface LayerNormalizationConfig extends LayerConfig {
  epsilon?: number;
  center?: boolean;
  scale?: boolean;
}

/** Normalizes each sample over its last axis, then scales (γ) and shifts (β) per feature, as Keras. */
export class LayerNormalization extends Layer {
  /** A small instance for the layer contract (test/contract/layers.test.ts): its config and per-sample input shape. */
  static readonly example: LayerExample = { config: {}, inputShape: [6] };
  readonly className = 'LayerNormalization';
  readonly epsilon: number;
  readonly center: boolean;
  readonly scale: boolean;

  constructor(config: LayerNormalizationConfig = {}) {
    super(config);
    this.epsilon = checkEpsilon('LayerNormalization', config.epsilon ?? 1e-3);
    this.center = config.center ?? true;
    this.scale = config.scale ?? true;
  }

  protected override createWeights(inputShape: SampleShape): void {
    if (inputShape.length === 0)
      throw new ShapeError(
        this.describe(),
        `expects inputs with a feature axis, got per-sample shape ${fmtShape(inputShape)}`,
      );
    const f = inputShape[inputShape.length - 1];
    if (this.scale) this.addWeight('gamma', weightArray(f, 1), [f]);
    if (this.center) this.addWeight('beta', weightArray(f), [f]);
  }

  outputShape(inputShape: SampleShape): SampleShape {
    return inputShape;
  }

  call(x: Tensor): Tensor {
    return layerNorm(
      x,
      this.scale ? this.weight('gamma') : null,
      this.center ? this.weight('beta') : null,
      this.epsilon,
    );
  }

  /** Waypoint normalizes the last axis. */
  override kerasConfigExtras() {
    return { axis: -1 };
  }

  getConfig() {
    return {
      name: this.name,
      inputShape: this.inputShape,
      trainable: this.trainable,
      epsilon: this.epsilon,
      center: this.center,
      scale: this.scale,
    };
  }
}
