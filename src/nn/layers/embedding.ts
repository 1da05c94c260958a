import { ArgumentError, ShapeError } from '../../errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Random } from '../../tensor/random.js';
import { gather, reshape } from '../../tensor/ops.js';
import { type InitializerName, initialize } from '../initializers.js';
import { Layer, type LayerExample, type LayerConfig, type SampleShape } from '../layer.js';

export interface EmbeddingConfig extends LayerConfig {
  /** The vocabulary size: inputs are integers in [0, inputDim). */
  inputDim: number;
  outputDim: number;
  embeddingsInitializer?: InitializerName;
}

/**
 * Maps integer inputs (held as float values) to rows of an [inputDim, outputDim] table, as
 * Keras's Embedding: samples [t] become [t, outputDim]. Its gradient is dense: every row
 * of the table gets one (zero where no input picked it), so every optimizer treats the
 * table as it treats any weight, as PyTorch does.
 */
export class Embedding extends Layer {
  /** A small instance for the layer contract (test/contract/layers.test.ts): its config and per-sample input shape. */
  static readonly example: LayerExample = { config: { inputDim: 7, outputDim: 3 }, inputShape: [4], integerInputs: 7 };
  readonly className = 'Embedding';
  readonly inputDim: number;
  readonly outputDim: number;
  readonly embeddingsInitializer: InitializerName;

  constructor(config: EmbeddingConfig) {
    super(config);
    for (const k of ['inputDim', 'outputDim'] as const) {
      if (!(Number.isInteger(config[k]) && config[k] > 0))
        throw new ArgumentError(`Embedding: ${k} must be a positive integer, got ${config[k]}`);
    }
    this.inputDim = config.inputDim;
    this.outputDim = config.outputDim;
    this.embeddingsInitializer = config.embeddingsInitializer ?? 'uniform';
  }

  protected override createWeights(_inputShape: SampleShape, rng: Random): void {
    this.addWeight(
      'embeddings',
      initialize(this.embeddingsInitializer, this.inputDim * this.outputDim, this.inputDim, this.outputDim, rng),
      [this.inputDim, this.outputDim],
    );
  }

  outputShape(inputShape: SampleShape): SampleShape {
    return [...inputShape, this.outputDim];
  }

  call(x: Tensor): Tensor {
    for (let i = 0; i < x.size; i++) {
      const v = x.data[i];
      if (!(Number.isInteger(v) && v >= 0 && v < this.inputDim)) {
        throw new ShapeError(
          this.describe(),
          `input ${v} at flat position ${i} is not an integer in [0, ${this.inputDim}) (inputDim)`,
        );
      }
    }
    return reshape(gather(this.weight('embeddings'), x.data, 0), [...x.shape, this.outputDim]);
  }

  getConfig() {
    return {
      name: this.name,
      inputShape: this.inputShape,
      trainable: this.trainable,
      inputDim: this.inputDim,
      outputDim: this.outputDim,
      embeddingsInitializer: this.embeddingsInitializer,
    };
  }
}
