import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import type { Random } from '../tensor/random.js';
import type { StateDict } from '../state/tree.js';
import { type LoadOptions, type Trackable, copyUnlessSame } from '../state/trackable.js';
import { CheckpointError } from '../state/errors.js';
import { keep } from '../tensor/memory.js';
import { GraphNode, SymbolicTensor } from './symbolic.js';

/** Per-sample shape (no batch dimension). */
export type SampleShape = number[];

/** Shapes as a list in errors: `[4], [8]`. */
export const fmtShapes = (shapes: SampleShape[]): string => shapes.map((s) => fmtShape(s)).join(', ');

export interface CallContext {
  training: boolean;
  /** Randomness for this call (dropout); derived per batch so a resumed run replays it. */
  rng: Random;
  /** The last layer returns pre-activation logits when the loss wants to fuse them. */
  logits?: boolean;
}

/** A small instance of a layer class, for the contract every registered layer passes (`static example`). */
export interface LayerExample {
  config: Record<string, unknown>;
  /** The per-sample input shape. */
  inputShape: number[];
  /** Several inputs (a merge layer): their per-sample shapes, `inputShape` being the first. */
  inputShapes?: number[][];
  /** Inputs are integer ids below this (Embedding), not floats. */
  integerInputs?: number;
}

export interface LayerConfig {
  name?: string;
  inputShape?: SampleShape;
  trainable?: boolean;
}

/**
 * A layer: its weights (by name), how it builds them for an input shape, and its forward
 * pass. Backward comes from autograd. Weights are trackable by name (`kernel`, `bias`).
 */
export abstract class Layer implements Trackable {
  abstract readonly className: string;
  readonly inputShape?: SampleShape;
  /** The calls of this layer on symbolic tensors, in order (Keras's inbound nodes). */
  readonly inboundNodes: GraphNode[] = [];
  private layerName: string;
  trainable: boolean;
  protected weights = new Map<string, Tensor>();
  /** Weights that training does not update by gradient (BatchNormalization's moving statistics). */
  private readonly nonTrainable = new Set<string>();
  private builtFor: SampleShape | null = null;

  constructor(config: LayerConfig = {}) {
    this.layerName = config.name ?? '';
    this.inputShape = config.inputShape;
    this.trainable = config.trainable ?? true;
  }

  get name(): string {
    return this.layerName;
  }

  /** Names a layer that has no name (a functional model names its layers as Keras would); a given name stays. */
  nameIfUnnamed(name: string): void {
    if (this.layerName === '') this.layerName = name;
  }

  get built(): boolean {
    return this.builtFor !== null;
  }

  /**
   * Calls the layer on symbolic tensors (from `Input` or another layer's `apply`), recording
   * the call for a functional `Model`, and returns its output (as TensorFlow.js's `apply`).
   * A list of tensors goes to layers that take several (`Add`, `Concatenate`, a model).
   */
  apply(inputs: SymbolicTensor | SymbolicTensor[]): SymbolicTensor {
    const outputs = this.applyAll(inputs);
    if (outputs.length !== 1)
      throw new ArgumentError(`${this.describe()} has ${outputs.length} outputs: call applyAll to get them all`);
    return outputs[0];
  }

  /** `apply` for a layer (a model) with several outputs: every output, in order. */
  applyAll(inputs: SymbolicTensor | SymbolicTensor[]): SymbolicTensor[] {
    const list = Array.isArray(inputs) ? inputs : [inputs];
    if (list.length === 0 || !list.every((t) => t instanceof SymbolicTensor)) {
      const got = list.map((t) => (t instanceof Tensor ? 'a Tensor' : typeof t)).join(', ');
      throw new ArgumentError(
        `${this.describe()}.apply takes symbolic tensors (from Input() or another layer's apply), got ${got || 'nothing'}: to compute on Tensors, build a Model and call predict`,
      );
    }
    const shapes = list.map((t) => t.shape);
    const first = this.inboundNodes[0];
    if (first !== undefined && fmtShapes(first.inputs.map((t) => t.shape)) !== fmtShapes(shapes))
      throw new ShapeError(
        this.describe(),
        `is shared, and a shared layer takes inputs of one shape: first called on ${fmtShapes(first.inputs.map((t) => t.shape))}, now on ${fmtShapes(shapes)}`,
      );
    const node = new GraphNode(this, list, this.outputShapesFor(shapes), this.inboundNodes.length);
    this.inboundNodes.push(node);
    return node.outputs;
  }

  /*
   * A layer as a graph node: inputs and outputs as lists. A layer of one input and one output
   * (all but the merge layers and models) keeps these defaults.
   */

  /** Output shapes for inputs of `shapes` (checked: a wrong count or shape is a ShapeError naming the layer). */
  outputShapesFor(shapes: SampleShape[]): SampleShape[] {
    return [this.outputShape(this.onlyInput(shapes))];
  }

  /** Builds the layer for inputs of `shapes`; returns the output shapes. */
  buildFor(shapes: SampleShape[], rng: Random): SampleShape[] {
    return [this.build(this.onlyInput(shapes), rng)];
  }

  /** The forward pass over a node's inputs. */
  callFor(inputs: Tensor[], ctx: CallContext): Tensor[] {
    return [this.call(this.onlyInput(inputs), ctx)];
  }

  private onlyInput<T>(inputs: T[]): T {
    if (inputs.length !== 1) throw new ArgumentError(`${this.describe()} takes one input, given ${inputs.length}`);
    return inputs[0];
  }

  /** Creates the weights for inputs of `inputShape`; returns the output shape. */
  build(inputShape: SampleShape, rng: Random): SampleShape {
    if (this.builtFor === null) {
      this.createWeights(inputShape, rng);
      const unbuilt = this.sublayers()
        .filter(([, l]) => !l.built)
        .map(([k, l]) => `'${k}' (${l.describe()})`);
      if (unbuilt.length) {
        throw new ArgumentError(
          `${this.describe()}: sublayer ${unbuilt.join(', ')} was not built: build each in createWeights, ` +
            'with the input shape it will see (`this.inner.build(shape, rng)`, which returns its output shape)',
        );
      }
      this.builtFor = [...inputShape];
    } else if (fmtShape(this.builtFor) !== fmtShape(inputShape)) {
      throw new ShapeError(
        this.describe(),
        `was built for input ${fmtShape(this.builtFor)}, now given ${fmtShape(inputShape)}`,
      );
    }
    return this.outputShape(inputShape);
  }

  protected createWeights(_inputShape: SampleShape, _rng: Random): void {}
  abstract outputShape(inputShape: SampleShape): SampleShape;
  abstract call(x: Tensor, ctx: CallContext): Tensor;
  abstract getConfig(): Record<string, unknown>;

  /** The Keras class this layer is (exports and Keras-style names use it): its own class name unless a layer says otherwise. */
  get kerasClassName(): string {
    return this.className;
  }

  /**
   * Keras config entries (snake_case) this layer always has but does not keep in its own
   * config, such as `data_format`; the rest of its Keras config is its `getConfig()`,
   * snake-cased. A layer whose Keras config differs declares it here, beside its class.
   */
  kerasConfigExtras(): Record<string, unknown> {
    return {};
  }

  describe(): string {
    return `${this.className}${this.name ? ` '${this.name}'` : ''}`;
  }

  /**
   * The layers this layer holds in its own properties — a Layer, or an array of them — keyed
   * by property (`inner`, `blocks/0`), as Keras tracks a layer's attributes: their weights are
   * this layer's too (trained, saved, counted), under that key.
   */
  sublayers(): Array<[string, Layer]> {
    const found: Array<[string, Layer]> = [];
    for (const [key, value] of Object.entries(this)) {
      if (value instanceof Layer) found.push([key, value]);
      else if (Array.isArray(value))
        value.forEach((v, i) => {
          if (v instanceof Layer) found.push([`${key}/${i}`, v]);
        });
    }
    return found;
  }

  /** Weights in creation order (kernel before bias), then the sublayers', prefixed by their key. */
  namedWeights(): Array<[string, Tensor]> {
    return [
      ...this.weights.entries(),
      ...this.sublayers().flatMap(([key, l]) =>
        l.namedWeights().map(([n, w]) => [`${key}/${n}`, w] as [string, Tensor]),
      ),
    ];
  }

  /** Copies of the weights, in Keras's order (Dense: kernel, bias), trainable or not. */
  getWeights(): Tensor[] {
    return this.namedWeights().map(([, w]) => w.clone());
  }

  /** Sets every weight from `values`, in the order of `getWeights`; counts and shapes must match. */
  setWeights(values: ReadonlyArray<Tensor | ArrayLike<number>>): void {
    const named = this.namedWeights();
    if (!Array.isArray(values) || values.length !== named.length) {
      throw new ShapeError(
        this.describe(),
        `setWeights needs ${named.length} arrays (${named.map(([n, w]) => `${n} ${fmtShape(w.shape)}`).join(', ') || 'none'}), got ${Array.isArray(values) ? values.length : typeof values}`,
      );
    }
    named.forEach(([name, w], i) => {
      const v = values[i];
      const fits =
        v instanceof Tensor
          ? fmtShape(v.shape) === fmtShape(w.shape)
          : v !== null && typeof v === 'object' && v.length === w.size;
      if (!fits) {
        const got =
          v instanceof Tensor ? fmtShape(v.shape) : `${(v as ArrayLike<number> | null)?.length ?? typeof v} values`;
        throw new ShapeError(
          this.describe(),
          `setWeights: '${name}' is ${fmtShape(w.shape)} (${w.size} values), got ${got}`,
        );
      }
    });
    named.forEach(([, w], i) => {
      const v = values[i];
      w.data.set(v instanceof Tensor ? v.data : v);
    });
  }

  /** The weights the optimizer updates: none when the layer is frozen (`trainable: false`). */
  trainableWeights(): Array<[string, Tensor]> {
    if (!this.trainable) return [];
    const own = [...this.weights.entries()].filter(([name]) => !this.nonTrainable.has(name));
    return [
      ...own,
      ...this.sublayers().flatMap(([key, l]) =>
        l.trainableWeights().map(([n, w]) => [`${key}/${n}`, w] as [string, Tensor]),
      ),
    ];
  }

  countParams(): number {
    return this.namedWeights().reduce((n, [, w]) => n + w.size, 0);
  }

  protected addWeight(name: string, data: Float32Array, shape: number[], trainable = true): Tensor {
    // Kept: a weight built inside a training step (a lazily built layer) outlives it.
    const t = keep(new Tensor(data, shape, this.trainable && trainable));
    this.weights.set(name, t);
    if (!trainable) this.nonTrainable.add(name);
    return t;
  }

  protected weight(name: string): Tensor {
    const w = this.weights.get(name);
    if (w === undefined)
      throw new ArgumentError(`${this.describe()}: weight '${name}' does not exist (is the layer built?)`);
    return w;
  }

  stateDict(): StateDict {
    const state: StateDict = Object.fromEntries(this.weights);
    for (const [key, l] of this.sublayers()) {
      const [head, index] = key.split('/');
      if (index === undefined) state[head] = l.stateDict();
      else ((state[head] ??= {}) as StateDict)[index] = l.stateDict();
    }
    return state;
  }

  loadStateDict(state: StateDict, options: LoadOptions = {}): void {
    for (const [key, l] of this.sublayers()) {
      const [head, index] = key.split('/');
      const saved = (index === undefined ? state[head] : (state[head] as StateDict | undefined)?.[index]) as
        StateDict | undefined;
      if (saved === undefined || saved === null || typeof saved !== 'object') {
        if (options.strict ?? true)
          throw new CheckpointError('MISSING_KEYS', `${this.describe()} has no saved sublayer '${key}'`, {
            entry: key,
          });
        continue;
      }
      l.loadStateDict(saved, options);
    }
    for (const [name, w] of this.weights) {
      const v = state[name];
      if (v === undefined) {
        if (options.strict ?? true)
          throw new CheckpointError('MISSING_KEYS', `${this.describe()} has no saved '${name}'`, { entry: name });
        continue;
      }
      if (!(v instanceof Tensor) || fmtShape(v.shape) !== fmtShape(w.shape)) {
        throw new CheckpointError(
          'SHAPE_MISMATCH',
          `${this.describe()} '${name}': expected ${fmtShape(w.shape)}, got ${v instanceof Tensor ? fmtShape(v.shape) : typeof v}`,
          { entry: name },
        );
      }
      copyUnlessSame(v.data, w.data);
    }
  }
}
