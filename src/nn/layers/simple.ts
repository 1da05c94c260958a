/** Layers without weights: MaxPool2D, Flatten, Dropout, Activation. */
import { ArgumentError, ShapeError, fmtShape } from '../../errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { dropout, maxPool2d, reshape, type Padding } from '../../tensor/ops.js';
import { type ActivationName, activation } from '../activations.js';
import { type CallContext, Layer, type LayerConfig, type SampleShape } from '../layer.js';
import { convOutDim, pairOf } from './conv2d.js';

export interface MaxPool2DConfig extends LayerConfig {
  poolSize?: number | [number, number];
  strides?: number | [number, number];
  padding?: Padding;
}

export class MaxPool2D extends Layer {
  readonly className = 'MaxPool2D';
  readonly poolSize: [number, number];
  readonly strides: [number, number];
  readonly padding: Padding;

  constructor(config: MaxPool2DConfig = {}) {
    super(config);
    this.poolSize = pairOf(config.poolSize ?? 2);
    this.strides = pairOf(config.strides ?? this.poolSize);
    this.padding = config.padding ?? 'valid';
  }

  outputShape(inputShape: SampleShape): SampleShape {
    if (inputShape.length !== 3) throw new ShapeError(this.describe(), `expects NHWC inputs, got per-sample shape ${fmtShape(inputShape)}`);
    const [h, w, c] = inputShape;
    const out = [convOutDim(h, this.poolSize[0], this.strides[0], this.padding), convOutDim(w, this.poolSize[1], this.strides[1], this.padding), c];
    if (out[0] < 1 || out[1] < 1) throw new ShapeError(this.describe(), `pool ${fmtShape(this.poolSize)} does not fit input ${fmtShape(inputShape)}`);
    return out;
  }

  call(x: Tensor): Tensor {
    return maxPool2d(x, { poolSize: this.poolSize, strides: this.strides, padding: this.padding });
  }

  getConfig() {
    return { name: this.name, inputShape: this.inputShape, poolSize: this.poolSize, strides: this.strides, padding: this.padding };
  }
}

export class Flatten extends Layer {
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

export interface DropoutConfig extends LayerConfig {
  rate: number;
}

/** Inverted dropout while training; the identity at inference. */
export class Dropout extends Layer {
  readonly className = 'Dropout';
  readonly rate: number;

  constructor(config: DropoutConfig) {
    super(config);
    if (!(config.rate >= 0 && config.rate < 1)) throw new ArgumentError(`Dropout: rate must be in [0, 1), got ${config.rate}`);
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
