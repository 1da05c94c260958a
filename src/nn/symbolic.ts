/**
 * The symbolic side of the Functional API: `Input` gives a `SymbolicTensor` (a shape with no
 * values), and `layer.apply(x)` records a `GraphNode` (which layer, on which tensors) and
 * returns the node's outputs. A `Model` is later built from the nodes between its inputs and
 * outputs; nothing here computes. (`Input` and its layer are in layers/input.ts.)
 */
import type { Layer, SampleShape } from './layer.js';

/** A tensor of a graph under construction: its per-sample shape and the node that makes it. */
export class SymbolicTensor {
  constructor(
    /** Per-sample shape (no batch dimension). */
    readonly shape: SampleShape,
    readonly node: GraphNode,
    /** Which of the node's outputs this is. */
    readonly index: number,
  ) {}

  /** The producing layer. */
  get layer(): Layer {
    return this.node.layer;
  }

  /** As Keras names it: `dense/0/0` is the first output of dense's first call. */
  get name(): string {
    return `${this.layer.name || this.layer.describe()}/${this.node.index}/${this.index}`;
  }

  toString(): string {
    return `SymbolicTensor(${this.name}, shape (None, ${this.shape.join(', ')}))`;
  }
}

/** One call of a layer on symbolic tensors (Keras's Node). */
export class GraphNode {
  readonly outputs: SymbolicTensor[];

  constructor(
    readonly layer: Layer,
    readonly inputs: SymbolicTensor[],
    outputShapes: SampleShape[],
    /** The position of this call among the layer's calls. */
    readonly index: number,
  ) {
    this.outputs = outputShapes.map((shape, i) => new SymbolicTensor([...shape], this, i));
  }
}
