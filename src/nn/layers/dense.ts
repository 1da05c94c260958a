import { ShapeError, fmtShape } from '../../errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Random } from '../../tensor/random.js';
import { add, matmul } from '../../tensor/ops.js';
import { type ActivationName, activation } from '../activations.js';
import { type InitializerName, initialize } from '../initializers.js';
import { type CallContext, Layer, type LayerConfig, type SampleShape } from '../layer.js';

export interface DenseConfig extends LayerConfig {
  units: number;
  activation?: ActivationName;
  useBias?: boolean;
  kernelInitializer?: InitializerName;
  biasInitializer?: InitializerName;
}

/** y = activation(x · kernel + bias), on inputs [batch, features]. */
export class Dense extends Layer {
  readonly className = 'Dense';
  readonly units: number;
  readonly activation: ActivationName;
  readonly useBias: boolean;
  readonly kernelInitializer: InitializerName;
  readonly biasInitializer: InitializerName;
  private readonly act: (x: Tensor) => Tensor;

  constructor(config: DenseConfig) {
    super(config);
    if (!Number.isInteger(config.units) || config.units < 1) throw new ShapeError('Dense', `units must be a positive integer, got ${config.units}`);
    this.units = config.units;
    this.activation = config.activation ?? 'linear';
    this.act = activation(this.activation, 'Dense');
    this.useBias = config.useBias ?? true;
    this.kernelInitializer = config.kernelInitializer ?? 'glorotUniform';
    this.biasInitializer = config.biasInitializer ?? 'zeros';
  }

  protected override createWeights(inputShape: SampleShape, rng: Random): void {
    if (inputShape.length !== 1) {
      throw new ShapeError(this.describe(), `expects flat inputs [batch, features], got per-sample shape ${fmtShape(inputShape)} (add a Flatten layer)`);
    }
    const [inDim] = inputShape;
    this.addWeight('kernel', initialize(this.kernelInitializer, inDim * this.units, inDim, this.units, rng), [inDim, this.units]);
    if (this.useBias) this.addWeight('bias', initialize(this.biasInitializer, this.units, inDim, this.units, rng), [this.units]);
  }

  outputShape(): SampleShape {
    return [this.units];
  }

  call(x: Tensor, ctx: CallContext): Tensor {
    let y = matmul(x, this.weight('kernel'));
    if (this.useBias) y = add(y, this.weight('bias'));
    return ctx.logits ? y : this.act(y);
  }

  getConfig() {
    return { name: this.name, inputShape: this.inputShape, trainable: this.trainable, units: this.units, activation: this.activation,
      useBias: this.useBias, kernelInitializer: this.kernelInitializer, biasInitializer: this.biasInitializer };
  }
}
