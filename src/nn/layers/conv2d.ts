import { ArgumentError, ShapeError, fmtShape } from '../../errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Random } from '../../tensor/random.js';
import { conv2d, fusedConv2d, type Padding } from '../../tensor/ops.js';
import { type ActivationName, activation, biasThenActivate } from '../activations.js';
import { type InitializerName, initialize } from '../initializers.js';
import { type CallContext, Layer, type LayerExample, type LayerConfig, type SampleShape } from '../layer.js';

export interface Conv2DConfig extends LayerConfig {
  filters: number;
  kernelSize: number | [number, number];
  strides?: number | [number, number];
  padding?: Padding;
  /** Spacing of the kernel's taps (atrous convolution); not with strides above 1. */
  dilationRate?: number | [number, number];
  activation?: ActivationName;
  useBias?: boolean;
  kernelInitializer?: InitializerName;
  biasInitializer?: InitializerName;
}

export const pairOf = (v: number | [number, number]): [number, number] =>
  typeof v === 'number' ? [v, v] : [v[0], v[1]];

/** Output size of one spatial dim, as the conv2d op computes it. */
export function convOutDim(size: number, k: number, s: number, padding: Padding): number {
  return padding === 'same' ? Math.ceil(size / s) : Math.floor((size - k) / s) + 1;
}

/** 2-D convolution over NHWC inputs with an [kh, kw, inC, filters] kernel. */
export class Conv2D extends Layer {
  /** A small instance for the layer contract (test/contract/layers.test.ts): its config and per-sample input shape. */
  static readonly example: LayerExample = {
    config: { filters: 4, kernelSize: 3, padding: 'same', activation: 'tanh' },
    inputShape: [5, 5, 2],
  };
  readonly className = 'Conv2D';
  readonly filters: number;
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly dilationRate: [number, number];
  readonly padding: Padding;
  readonly activation: ActivationName;
  readonly useBias: boolean;
  readonly kernelInitializer: InitializerName;
  readonly biasInitializer: InitializerName;
  private readonly act: (x: Tensor) => Tensor;

  constructor(config: Conv2DConfig) {
    super(config);
    if (!Number.isInteger(config.filters) || config.filters < 1)
      throw new ArgumentError(`Conv2D: filters must be a positive integer, got ${config.filters}`);
    this.filters = config.filters;
    this.kernelSize = pairOf(config.kernelSize);
    this.strides = pairOf(config.strides ?? 1);
    this.dilationRate = pairOf(config.dilationRate ?? 1);
    if ([...this.strides, ...this.dilationRate].some((v) => !(Number.isInteger(v) && v >= 1))) {
      throw new ArgumentError(
        `Conv2D: strides and dilationRate must be positive integers, got ${JSON.stringify(config.strides)} and ${JSON.stringify(config.dilationRate)}`,
      );
    }
    if (this.strides.some((v) => v > 1) && this.dilationRate.some((v) => v > 1)) {
      throw new ArgumentError(
        `Conv2D: strides ${JSON.stringify(this.strides)} and dilationRate ${JSON.stringify(this.dilationRate)} cannot both be above 1 (as in Keras)`,
      );
    }
    this.padding = config.padding ?? 'valid';
    if (this.padding !== 'same' && this.padding !== 'valid')
      throw new ArgumentError(`Conv2D: padding must be 'same' or 'valid', got '${String(this.padding)}'`);
    this.activation = config.activation ?? 'linear';
    this.act = activation(this.activation, 'Conv2D');
    this.useBias = config.useBias ?? true;
    this.kernelInitializer = config.kernelInitializer ?? 'glorotUniform';
    this.biasInitializer = config.biasInitializer ?? 'zeros';
  }

  protected override createWeights(inputShape: SampleShape, rng: Random): void {
    if (inputShape.length !== 3)
      throw new ShapeError(
        this.describe(),
        `expects NHWC inputs [batch, h, w, c], got per-sample shape ${fmtShape(inputShape)}`,
      );
    const [kh, kw] = this.kernelSize;
    const inC = inputShape[2];
    const fanIn = kh * kw * inC,
      fanOut = kh * kw * this.filters;
    this.addWeight('kernel', initialize(this.kernelInitializer, fanIn * this.filters, fanIn, fanOut, rng), [
      kh,
      kw,
      inC,
      this.filters,
    ]);
    if (this.useBias)
      this.addWeight('bias', initialize(this.biasInitializer, this.filters, fanIn, fanOut, rng), [this.filters]);
  }

  outputShape(inputShape: SampleShape): SampleShape {
    const [h, w] = inputShape;
    const [kH, kW] = this.kernelSize.map((k, i) => (k - 1) * this.dilationRate[i] + 1); // the window a dilated kernel covers
    const outH = convOutDim(h, kH, this.strides[0], this.padding);
    const outW = convOutDim(w, kW, this.strides[1], this.padding);
    if (outH < 1 || outW < 1)
      throw new ShapeError(
        this.describe(),
        `kernel ${fmtShape(this.kernelSize)} does not fit input ${fmtShape(inputShape)} with '${this.padding}' padding`,
      );
    return [outH, outW, this.filters];
  }

  call(x: Tensor, ctx: CallContext): Tensor {
    const options = { strides: this.strides, padding: this.padding, dilationRate: this.dilationRate };
    // Logits skip the activation; a relu or nothing after the bias is one fused op.
    const tail = ctx.logits ? 'linear' : this.activation;
    if (this.useBias && (tail === 'relu' || tail === 'linear'))
      return fusedConv2d(x, this.weight('kernel'), this.weight('bias'), tail, options);
    const y = conv2d(x, this.weight('kernel'), options);
    return biasThenActivate(y, this.useBias ? this.weight('bias') : null, this.activation, this.act, ctx.logits);
  }

  override kerasConfigExtras() {
    return { data_format: 'channels_last', dilation_rate: this.dilationRate };
  }

  getConfig() {
    return {
      name: this.name,
      inputShape: this.inputShape,
      trainable: this.trainable,
      filters: this.filters,
      kernelSize: this.kernelSize,
      strides: this.strides,
      padding: this.padding,
      // Only when dilated: configs saved before dilation existed stay equal to today's.
      ...(this.dilationRate.some((d) => d > 1) ? { dilationRate: this.dilationRate } : {}),
      activation: this.activation,
      useBias: this.useBias,
      kernelInitializer: this.kernelInitializer,
      biasInitializer: this.biasInitializer,
    };
  }
}
