import { ShapeError, fmtShape } from '../../errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Random } from '../../tensor/random.js';
import { matmul, reshape } from '../../tensor/ops.js';
import { type ActivationName, activation, biasThenActivate } from '../activations.js';
import { type InitializerName, initialize } from '../initializers.js';
import { type CallContext, Layer, type LayerExample, type LayerConfig, type SampleShape } from '../layer.js';

export interface DenseConfig extends LayerConfig {
  units: number;
  activation?: ActivationName;
  useBias?: boolean;
  kernelInitializer?: InitializerName;
  biasInitializer?: InitializerName;
}

/** y = activation(x · kernel + bias), on the last axis: [batch, features], or [batch, …, features] as Keras. */
export class Dense extends Layer {
  /** A small instance for the layer contract (test/contract/layers.test.ts): its config and per-sample input shape. */
  static readonly example: LayerExample = { config: { units: 3, activation: 'tanh' }, inputShape: [4] };
  readonly className = 'Dense';
  readonly units: number;
  readonly activation: ActivationName;
  readonly useBias: boolean;
  readonly kernelInitializer: InitializerName;
  readonly biasInitializer: InitializerName;
  private readonly act: (x: Tensor) => Tensor;

  constructor(config: DenseConfig) {
    super(config);
    if (!Number.isInteger(config.units) || config.units < 1)
      throw new ShapeError('Dense', `units must be a positive integer, got ${config.units}`);
    this.units = config.units;
    this.activation = config.activation ?? 'linear';
    this.act = activation(this.activation, 'Dense');
    this.useBias = config.useBias ?? true;
    this.kernelInitializer = config.kernelInitializer ?? 'glorotUniform';
    this.biasInitializer = config.biasInitializer ?? 'zeros';
  }

  protected override createWeights(inputShape: SampleShape, rng: Random): void {
    if (inputShape.length === 0)
      throw new ShapeError(
        this.describe(),
        `expects inputs with a feature axis, got per-sample shape ${fmtShape(inputShape)}`,
      );
    const inDim = inputShape[inputShape.length - 1];
    this.addWeight('kernel', initialize(this.kernelInitializer, inDim * this.units, inDim, this.units, rng), [
      inDim,
      this.units,
    ]);
    if (this.useBias)
      this.addWeight('bias', initialize(this.biasInitializer, this.units, inDim, this.units, rng), [this.units]);
  }

  outputShape(inputShape: SampleShape): SampleShape {
    return [...inputShape.slice(0, -1), this.units];
  }

  call(x: Tensor, ctx: CallContext): Tensor {
    const rows = x.rank > 2 ? reshape(x, [-1, x.shape[x.rank - 1]]) : x;
    let y = matmul(rows, this.weight('kernel'));
    if (x.rank > 2) y = reshape(y, [...x.shape.slice(0, -1), this.units]);
    return biasThenActivate(y, this.useBias ? this.weight('bias') : null, this.activation, this.act, ctx.logits);
  }

  getConfig() {
    return {
      name: this.name,
      inputShape: this.inputShape,
      trainable: this.trainable,
      units: this.units,
      activation: this.activation,
      useBias: this.useBias,
      kernelInitializer: this.kernelInitializer,
      biasInitializer: this.biasInitializer,
    };
  }
}
