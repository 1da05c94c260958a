/** Layers without weights that reshape or pass values through: Flatten, Reshape, Dropout, Activation. */
import { ArgumentError, ShapeError, fmtShape } from '../../errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { dropout, reshape } from '../../tensor/ops.js';
import { type ActivationName, activation } from '../activations.js';
import { type CallContext, Layer, type LayerExample, type LayerConfig, type SampleShape } from '../layer.js';

export class Flatten extends Layer {
  /** A small instance for the layer contract (test/contract/layers.test.ts): its config and per-sample input shape. */
  static readonly example: LayerExample = { config: {}, inputShape: [2, 3] };
  readonly className = 'Flatten';

  outputShape(inputShape: SampleShape): SampleShape {
    return [inputShape.reduce((a, b) => a * b, 1)];
  }

  call(x: Tensor): Tensor {
    return reshape(x, [x.shape[0], -1]);
  }

  getConfig() {
    return { name: this.name, inputShape: this.inputShape };
  }
}

export interface ReshapeConfig extends LayerConfig {
  /** The per-sample shape to produce; one dimension may be -1 (inferred). */
  targetShape: number[];
}

/** Reshapes each sample to `targetShape` (Keras's Reshape). */
export class Reshape extends Layer {
  /** A small instance for the layer contract (test/contract/layers.test.ts): its config and per-sample input shape. */
  static readonly example: LayerExample = { config: { targetShape: [3, 2] }, inputShape: [6] };
  readonly className = 'Reshape';
  readonly targetShape: number[];

  constructor(config: ReshapeConfig) {
    super(config);
    const t = config.targetShape;
    if (
      !Array.isArray(t) ||
      t.some((d) => !(Number.isInteger(d) && (d > 0 || d === -1))) ||
      t.filter((d) => d === -1).length > 1
    ) {
      throw new ArgumentError(
        `Reshape: targetShape must be positive integers with at most one -1, got ${JSON.stringify(t)}`,
      );
    }
    this.targetShape = [...t];
  }

  outputShape(inputShape: SampleShape): SampleShape {
    const size = inputShape.reduce((a, b) => a * b, 1);
    const known = this.targetShape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    const out = this.targetShape.map((d) => (d === -1 ? size / known : d));
    if (out.reduce((a, b) => a * b, 1) !== size || !out.every(Number.isInteger)) {
      throw new ShapeError(
        this.describe(),
        `cannot reshape samples ${fmtShape(inputShape)} (${size} values) to ${fmtShape(this.targetShape)}`,
      );
    }
    return out;
  }

  call(x: Tensor): Tensor {
    return reshape(x, [x.shape[0], ...this.outputShape(x.shape.slice(1))]);
  }

  getConfig() {
    return { name: this.name, inputShape: this.inputShape, targetShape: this.targetShape };
  }
}

export interface DropoutConfig extends LayerConfig {
  rate: number;
}

/** Inverted dropout while training; the identity at inference. */
export class Dropout extends Layer {
  /** A small instance for the layer contract (test/contract/layers.test.ts): its config and per-sample input shape. */
  static readonly example: LayerExample = { config: { rate: 0.5 }, inputShape: [5] };
  readonly className = 'Dropout';
  readonly rate: number;

  constructor(config: DropoutConfig) {
    super(config);
    if (!(config.rate >= 0 && config.rate < 1))
      throw new ArgumentError(`Dropout: rate must be in [0, 1), got ${config.rate}`);
    this.rate = config.rate;
  }

  outputShape(inputShape: SampleShape): SampleShape {
    return inputShape;
  }

  call(x: Tensor, ctx: CallContext): Tensor {
    return ctx.training ? dropout(x, this.rate, ctx.rng) : x;
  }

  getConfig() {
    return { name: this.name, inputShape: this.inputShape, rate: this.rate };
  }
}

export interface ActivationConfig extends LayerConfig {
  activation: ActivationName;
}

export class Activation extends Layer {
  /** A small instance for the layer contract (test/contract/layers.test.ts): its config and per-sample input shape. */
  static readonly example: LayerExample = { config: { activation: 'sigmoid' }, inputShape: [5] };
  readonly className = 'Activation';
  readonly activation: ActivationName;
  private readonly act: (x: Tensor) => Tensor;

  constructor(config: ActivationConfig) {
    super(config);
    this.activation = config.activation;
    this.act = activation(config.activation, 'Activation');
  }

  outputShape(inputShape: SampleShape): SampleShape {
    return inputShape;
  }

  call(x: Tensor, ctx: CallContext): Tensor {
    return ctx.logits ? x : this.act(x);
  }

  getConfig() {
    return { name: this.name, inputShape: this.inputShape, activation: this.activation };
  }
}
