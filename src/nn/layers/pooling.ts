/** Pooling layers over NHWC inputs: windowed (max, average) and global (over all positions). */
import { ShapeError, fmtShape } from '../../errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { avgPool2d, globalAvgPool2d, max, maxPool2d, type Padding, type Pool2dOptions } from '../../tensor/ops.js';
import { Layer, type LayerExample, type LayerConfig, type SampleShape } from '../layer.js';
import { convOutDim, pairOf } from './conv2d.js';

export interface MaxPool2DConfig extends LayerConfig {
  poolSize?: number | [number, number];
  strides?: number | [number, number];
  padding?: Padding;
}

export class MaxPool2D extends Layer {
  /** A small instance for the layer contract (test/contract/layers.test.ts): its config and per-sample input shape. */
  static readonly example: LayerExample = { config: { poolSize: 2 }, inputShape: [4, 4, 2] };
  readonly className: string = 'MaxPool2D';
  override get kerasClassName(): string {
    return 'MaxPooling2D';
  }
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
    if (inputShape.length !== 3)
      throw new ShapeError(this.describe(), `expects NHWC inputs, got per-sample shape ${fmtShape(inputShape)}`);
    const [h, w, c] = inputShape;
    const out = [
      convOutDim(h, this.poolSize[0], this.strides[0], this.padding),
      convOutDim(w, this.poolSize[1], this.strides[1], this.padding),
      c,
    ];
    if (out[0] < 1 || out[1] < 1)
      throw new ShapeError(
        this.describe(),
        `pool ${fmtShape(this.poolSize)} does not fit input ${fmtShape(inputShape)}`,
      );
    return out;
  }

  call(x: Tensor): Tensor {
    return this.pool(x, { poolSize: this.poolSize, strides: this.strides, padding: this.padding });
  }

  protected pool(x: Tensor, options: Pool2dOptions): Tensor {
    return maxPool2d(x, options);
  }

  override kerasConfigExtras(): Record<string, unknown> {
    return { data_format: 'channels_last' };
  }

  getConfig() {
    return {
      name: this.name,
      inputShape: this.inputShape,
      poolSize: this.poolSize,
      strides: this.strides,
      padding: this.padding,
    };
  }
}

/** Average pooling (padding cells not counted, as Keras); the same options as MaxPool2D. */
export class AveragePooling2D extends MaxPool2D {
  /** A small instance for the layer contract (test/contract/layers.test.ts): its config and per-sample input shape. */
  static override readonly example: LayerExample = { config: { poolSize: 2 }, inputShape: [4, 4, 2] };
  override readonly className: string = 'AveragePooling2D';
  override get kerasClassName(): string {
    return this.className;
  }

  protected override pool(x: Tensor, options: Pool2dOptions): Tensor {
    return avgPool2d(x, options);
  }
}

function channelsOf(layer: Layer, inputShape: SampleShape): SampleShape {
  if (inputShape.length !== 3)
    throw new ShapeError(layer.describe(), `expects NHWC inputs, got per-sample shape ${fmtShape(inputShape)}`);
  return [inputShape[2]];
}

/** The mean over all positions of each channel: [batch, h, w, c] → [batch, c]. */
export class GlobalAveragePooling2D extends Layer {
  /** A small instance for the layer contract (test/contract/layers.test.ts): its config and per-sample input shape. */
  static readonly example: LayerExample = { config: {}, inputShape: [3, 3, 2] };
  readonly className = 'GlobalAveragePooling2D';

  outputShape(inputShape: SampleShape): SampleShape {
    return channelsOf(this, inputShape);
  }

  call(x: Tensor): Tensor {
    return globalAvgPool2d(x);
  }

  override kerasConfigExtras() {
    return { data_format: 'channels_last' };
  }

  getConfig() {
    return { name: this.name, inputShape: this.inputShape };
  }
}

/** The maximum over all positions of each channel: [batch, h, w, c] → [batch, c]. */
export class GlobalMaxPooling2D extends Layer {
  /** A small instance for the layer contract (test/contract/layers.test.ts): its config and per-sample input shape. */
  static readonly example: LayerExample = { config: {}, inputShape: [3, 3, 2] };
  readonly className = 'GlobalMaxPooling2D';

  outputShape(inputShape: SampleShape): SampleShape {
    return channelsOf(this, inputShape);
  }

  call(x: Tensor): Tensor {
    return max(max(x, 1), 1);
  }

  override kerasConfigExtras() {
    return { data_format: 'channels_last' };
  }

  getConfig() {
    return { name: this.name, inputShape: this.inputShape };
  }
}
