/** `Input` and the layer behind it: where a functional model's graph starts. */
import { ArgumentError } from '../../errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Random } from '../../tensor/random.js';
import { Layer, type LayerExample, type SampleShape } from '../layer.js';
import { GraphNode, type SymbolicTensor } from '../symbolic.js';

export interface InputConfig {
  /** Per-sample shape, without the batch dimension (as Keras's `Input(shape=...)`). */
  shape: SampleShape;
  name?: string;
}

/** A graph's entry: what `Input` creates. It holds no weights and passes its tensor through. */
export class InputLayer extends Layer {
  /** A small instance for the layer contract (test/contract/layers.test.ts). */
  static readonly example: LayerExample = { config: { shape: [3] }, inputShape: [3] };
  readonly className = 'InputLayer';
  readonly shape: SampleShape;

  constructor(config: InputConfig) {
    super({ name: config.name });
    const shape = config.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d > 0))
      throw new ArgumentError(
        `Input: shape must be a list of positive integers (no batch dimension), got ${JSON.stringify(shape)}`,
      );
    this.shape = [...shape];
  }

  outputShape(inputShape: SampleShape): SampleShape {
    return inputShape;
  }

  /** Starts a graph: its node reads nothing and gives a tensor of its shape. */
  override buildFor(_shapes: SampleShape[], rng: Random): SampleShape[] {
    return [this.build(this.shape, rng)];
  }

  call(x: Tensor): Tensor {
    return x;
  }

  getConfig() {
    return { name: this.name, shape: this.shape };
  }
}

/** A symbolic tensor of per-sample `shape` to build a functional model from (Keras's and TensorFlow.js's `Input`). */
export function Input(config: InputConfig): SymbolicTensor {
  return inputTensor(new InputLayer(config));
}

/** The tensor an input layer starts a graph with (made once: a model rebuilt from its config reuses it). */
export function inputTensor(layer: InputLayer): SymbolicTensor {
  if (layer.inboundNodes.length === 0) layer.inboundNodes.push(new GraphNode(layer, [], [layer.shape], 0));
  return layer.inboundNodes[0].outputs[0];
}
