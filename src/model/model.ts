/**
 * `Model`: a graph of layers from `Input`s to outputs (Keras's and TensorFlow.js's Functional
 * API), with compile / fit / evaluate / predict, saving and the callbacks. `Sequential` is a
 * Model whose graph is a stack; everything here serves both. A model is also a layer: applied
 * to symbolic tensors it becomes one node of a bigger model, sharing its weights.
 */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { Tensor, noGrad } from '../tensor/tensor.js';
import { Random } from '../tensor/random.js';
import { takeRows } from '../tensor/ops/layout.js';
import type { StateDict } from '../state/tree.js';
import type { LoadOptions } from '../state/trackable.js';
import { CheckpointError } from '../state/errors.js';
import type { Optimizer } from '../optim/index.js';
import { type CallContext, Layer, type SampleShape, fmtShapes } from '../nn/layer.js';
import type { SymbolicTensor } from '../nn/symbolic.js';
import { InputLayer } from '../nn/layers/input.js';
import { type SerializedLayer, registerModelClass } from '../nn/registry.js';
import type { Dataset } from '../data/dataset.js';
import type { WriteResult } from '../checkpoint/format/writer.js';
import { History, type Logs } from './history.js';
import { InterruptSwitch } from './interrupt.js';
import { type Compiled, type CompileOptions, type OutputSpec, compileModel } from './compile.js';
import { Graph, type GraphConfig } from './graph.js';
import { type Dataflow, type DataflowSource, flatDataflow } from './dataflow.js';
import { type ModelData, dataList } from './model-data.js';
import { type EvaluateOptions, type FitOptions, evaluateModel, fitModel } from './fit.js';
import {
  type EvaluateDatasetOptions,
  type FitDatasetOptions,
  evaluateDatasetModel,
  fitDatasetModel,
} from './fit-dataset.js';
import { type ModelLoadOptions, type ModelSaveOptions, loadWeights, saveModel, saveWeights } from './persistence.js';
import { printSummary } from './summary.js';
import { type WhichWeights, checkWhichWeights, withWeights } from './ema-weights.js';

export interface ModelArgs {
  /** Tensors from `Input` (one, or a list). */
  inputs: SymbolicTensor | SymbolicTensor[];
  /** Tensors the inputs lead to (one, or a list). */
  outputs: SymbolicTensor | SymbolicTensor[];
  name?: string;
  /** Seeds every random number of this model: initialization, shuffling, dropout. */
  seed?: number;
}

export type FunctionalConfig = GraphConfig & {
  name: string;
  seed: number;
};

/** How a forward pass runs: training or not, its randomness, which outputs stay logits for their loss. */
export interface ForwardContext {
  training: boolean;
  rng: Random;
  logits?: ReadonlySet<number>;
}

const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

export class Model extends Layer implements DataflowSource {
  readonly className: string = 'Functional';
  readonly seed: number;
  /** The model's generator: weight initialization draws from it, in layer order. */
  readonly rng: Random;
  history = new History();
  stopTraining = false;
  compiled: Compiled | null = null;
  /** Whether a fit runs and was asked to stop (see `interrupt`). */
  readonly interruption = new InterruptSwitch();
  /** The layer graph; null for a Sequential, whose layers are a stack. */
  private readonly graph: Graph | null;

  constructor(args: ModelArgs) {
    const stack = new.target !== Model && args.inputs === undefined;
    super({ name: args.name ?? (stack ? undefined : 'functional') });
    this.seed = args.seed ?? 0;
    this.rng = new Random(this.seed);
    if (stack) {
      this.graph = null;
      return;
    }
    const where = `Model '${this.name}'`;
    if (args.inputs === undefined || args.outputs === undefined)
      throw new ArgumentError(
        `${where}: give { inputs, outputs } (tensors from Input() and the layers applied to them)`,
      );
    this.graph = new Graph(list(args.inputs), list(args.outputs), where);
    this.graph.build(this.rng);
  }

  private get functional(): Graph {
    if (this.graph === null) throw new Error('unreachable: a stack model overrides every graph method');
    return this.graph;
  }

  /** Every layer, in the order they run (a functional model's inputs first, as Keras's `model.layers`). */
  get layers(): Layer[] {
    return this.functional.layers;
  }

  /** The names `fit` and `predict` take inputs by (the Input layers' names). */
  get inputNames(): string[] {
    return this.functional.inputs.map((t) => t.layer.name);
  }

  /** The names of the outputs (their layers'), which compile, the logs and `fit`'s targets use. */
  get outputNames(): string[] {
    return uniqueNames(this.functional.outputs.map((t) => t.layer.name));
  }

  override get built(): boolean {
    return true;
  }

  /** Builds the model from the shapes it declares (a Sequential's first layer's inputShape), or says why it cannot. */
  ensureBuilt(): void {}

  /** Per-sample shapes of the inputs. */
  inputShapes(): SampleShape[] {
    return this.functional.inputs.map((t) => [...t.shape]);
  }

  /** Per-sample shapes of the outputs. */
  outputShapes(): SampleShape[] {
    return this.functional.outputs.map((t) => [...t.shape]);
  }

  /** Checks (a Sequential: builds) the model for inputs of these per-sample shapes. */
  buildInputs(shapes: SampleShape[]): void {
    const expected = this.inputShapes();
    const names = this.inputNames;
    if (shapes.length !== expected.length)
      throw new ArgumentError(
        `${this.describe()} takes ${expected.length} inputs (${names.join(', ')}), given ${shapes.length}`,
      );
    shapes.forEach((s, i) => {
      if (fmtShape(s) !== fmtShape(expected[i]))
        throw new ShapeError(
          this.describe(),
          `input '${names[i]}' takes samples ${fmtShape(expected[i])}, given ${fmtShape(s)}`,
        );
    });
  }

  /** The forward pass, recording the graph (training) or not: one tensor per output. */
  forwardAll(inputs: Tensor[], ctx: ForwardContext): Tensor[] {
    this.buildInputs(inputs.map((x) => x.shape.slice(1)));
    return this.functional.run(inputs, { training: ctx.training, rng: ctx.rng }, ctx.logits);
  }

  /** The graph as numbered values and layer calls, a nested model still one call (see dataflow.ts). */
  ownDataflow(): Dataflow {
    const g = this.functional;
    const shapes: SampleShape[] = [];
    const ids = new Map<SymbolicTensor, number>();
    const id = (t: SymbolicTensor) => {
      if (!ids.has(t)) ids.set(t, shapes.push([...t.shape]) - 1);
      return ids.get(t)!;
    };
    const inputs = g.inputs.map((t) => ({ name: t.layer.name, value: id(t) }));
    const calls = g.nodes
      .filter((n) => !(n.layer instanceof InputLayer))
      .map((n) => ({
        layer: n.layer,
        key: `layers.${n.layer.name}`,
        inputs: n.inputs.map(id),
        outputs: n.outputs.map(id),
      }));
    const outputs = this.outputNames.map((name, i) => ({ name, value: id(g.outputs[i]) }));
    return { inputs, calls, outputs, shapes };
  }

  /** What the exporters map: the model as layer calls over numbered values, nested models inlined. */
  dataflow(): Dataflow {
    this.ensureBuilt();
    return flatDataflow(this);
  }

  /** For compile: each output's name and the activation its loss may fold in. */
  protected outputSpecs(): OutputSpec[] {
    const g = this.functional;
    return this.outputNames.map((name, i) => ({
      name,
      fusableActivation: g.outputReadOnlyByLoss(i) ? activationOf(g.outputs[i].layer) : undefined,
    }));
  }

  /** Each layer's weights under `layers/<layer name>` (a Sequential: `layers/<index>`). */
  override sublayers(): Array<[string, Layer]> {
    return this.functional.layers.map((l) => [`layers/${l.name}`, l]);
  }

  /* As a layer of a bigger model: its inputs and outputs, the forward pass, built already. */

  override outputShapesFor(shapes: SampleShape[]): SampleShape[] {
    this.buildInputs(shapes);
    return this.outputShapes();
  }

  override buildFor(shapes: SampleShape[], _rng: Random): SampleShape[] {
    return this.outputShapesFor(shapes);
  }

  override callFor(inputs: Tensor[], ctx: CallContext): Tensor[] {
    return this.forwardAll(inputs, { training: ctx.training, rng: ctx.rng });
  }

  outputShape(inputShape: SampleShape): SampleShape {
    return this.outputShapesFor([inputShape])[0];
  }

  call(x: Tensor, ctx: CallContext): Tensor {
    return this.callFor([x], ctx)[0];
  }

  /** Epochs already trained (the length of the history's series). */
  get currentEpoch(): number {
    return this.history.nextEpoch;
  }

  get optimizer(): Optimizer | undefined {
    return this.compiled?.optimizer;
  }

  compile(options: CompileOptions): void {
    this.compiled = compileModel(options, this.outputSpecs());
    if (this.built) this.compiled.optimizer.build(this.namedParams());
  }

  /** Trainable parameters keyed by path: `layers/0/kernel` (Sequential), `layers/dense/kernel` (functional). */
  namedParams(): Array<[string, Tensor]> {
    return this.trainableWeights();
  }

  /** Copies of every layer's weights, layer by layer in Keras's order (as `model.get_weights()`). */
  override getWeights(): Tensor[] {
    this.requireBuilt('getWeights');
    return super.getWeights();
  }

  /** Sets every layer's weights from one list in the order of `getWeights`; all or nothing. */
  override setWeights(values: ReadonlyArray<Tensor | ArrayLike<number>>): void {
    this.requireBuilt('setWeights');
    super.setWeights(values);
  }

  protected requireBuilt(what: string): void {
    if (!this.built)
      throw new ShapeError(
        this.name,
        `${what}: the model is not built (give the first layer an inputShape, or call build(shape))`,
      );
  }

  /** Trains on tensors: one per input and per output, as a list or an object keyed by name (one alone for a single input/output). */
  fit(x: ModelData, y: ModelData, options: FitOptions = {}): Promise<History> {
    return fitModel(this, x, y, options);
  }

  /** The loss and metrics on (x, y); `weights: 'ema'` evaluates the optimizer's moving averages of the weights. */
  async evaluate(
    x: ModelData,
    y: ModelData,
    options: EvaluateOptions & { weights?: WhichWeights } = {},
  ): Promise<Logs> {
    const { weights, ...rest } = options;
    const which = checkWhichWeights('evaluate', weights);
    return withWeights(this, which, 'evaluate', () => evaluateModel(this, x, y, rest));
  }

  /** Trains on a dataset whose elements are batches, `{ xs, ys }` or `[xs, ys]` (TensorFlow.js's fitDataset); resumable at the next sample. */
  fitDataset(dataset: Dataset<unknown>, options: FitDatasetOptions = {}): Promise<History> {
    return fitDatasetModel(this, dataset, options);
  }

  /** Loss and metrics over a dataset of batches (one pass, or `batches` of them). */
  evaluateDataset(dataset: Dataset<unknown>, options: EvaluateDatasetOptions = {}): Promise<Logs> {
    return evaluateDatasetModel(this, dataset, options);
  }

  /** Outputs for `x`, computed in batches without recording the graph: a Tensor, or a list for several outputs. */
  predict(x: ModelData, options: { batchSize?: number } = {}): Tensor | Tensor[] {
    const outputs = this.predictAll(x, options);
    return outputs.length === 1 ? outputs[0] : outputs;
  }

  /** `predict`, always as a list of one Tensor per output. */
  predictAll(x: ModelData, options: { batchSize?: number } = {}): Tensor[] {
    const batchSize = options.batchSize ?? 32;
    if (!(Number.isInteger(batchSize) && batchSize > 0))
      throw new ArgumentError(`predict: batchSize must be a positive integer, got ${batchSize}`);
    const xs = dataList('predict', 'x', x, this.inputNames);
    const n = xs[0].shape[0];
    this.buildInputs(xs.map((t) => t.shape.slice(1)));
    const rng = new Random(this.seed);
    return noGrad(() => {
      const parts: Tensor[][] = [];
      for (let start = 0; start < n; start += batchSize) {
        const end = Math.min(n, start + batchSize);
        parts.push(
          this.forwardAll(
            xs.map((t) => takeRows(t, start, end)),
            { training: false, rng },
          ),
        );
      }
      return this.outputShapes().map((shape, k) =>
        joinRows(
          parts.map((p) => p[k]),
          [n, ...shape],
        ),
      );
    });
  }

  /**
   * The layers, their output shapes, parameter counts and (a graph) what each is connected to,
   * as Keras prints it: a shared layer once, connected to the inputs of all its calls, its
   * output shape "multiple" where the calls give different shapes.
   */
  summary(write: (line: string) => void = console.log): void {
    const g = this.functional;
    const rows = g.layers.map((layer) => {
      const calls = g.nodes.filter((n) => n.layer === layer);
      const shapes = calls.map((n) => n.outputs.map((t) => t.shape));
      const same = shapes.every((s) => fmtShapes(s) === fmtShapes(shapes[0]));
      return {
        layer,
        outputShapes: same ? shapes[0] : 'multiple',
        params: layer.countParams(),
        connectedTo: calls.flatMap((n) => n.inputs.map((t) => `${t.layer.name}[${t.node.index}][${t.index}]`)),
      } as const;
    });
    printSummary(this, rows, true, write);
  }

  /**
   * Asks the running fit to stop at the end of the batch in flight: callbacks get
   * `onTrainAbort` with a TrainingInterruptedError (BackupAndRestore backs up that batch) and
   * `fit` rejects with it. Resolves true once the fit has stopped, false at once if none runs
   * (so a callback that calls it must not await it: the fit waits for that callback).
   */
  interrupt(reason = 'interrupt'): Promise<boolean> {
    return this.interruption.request(reason);
  }

  /** Architecture, weights, optimizer state, history and RNG in one file (see `loadModel`). */
  save(path: string, options: ModelSaveOptions = {}): Promise<WriteResult> {
    return saveModel(this, path, options);
  }

  saveWeights(path: string, options: ModelSaveOptions = {}): Promise<WriteResult> {
    return saveWeights(this, path, options);
  }

  /** Loads weights saved by `saveWeights` or `save`; a different architecture is refused with a diff. */
  loadWeights(path: string, options: ModelLoadOptions = {}): Promise<void> {
    return loadWeights(this, path, options);
  }

  getConfig(): FunctionalConfig | SequentialConfig {
    return { name: this.name, seed: this.seed, ...this.functional.getConfig() };
  }

  static fromConfig(config: FunctionalConfig): Model {
    const { inputs, outputs } = Graph.tensorsFromConfig(config, `Model '${config?.name}'`);
    return new Model({ inputs, outputs, name: config.name, seed: config.seed });
  }

  /** Every weight by path (`layers/<name>/kernel`, …); layers without weights have no entry. */
  override stateDict(): StateDict {
    const layers: StateDict = {};
    for (const [key, layer] of this.sublayers())
      if (layer.namedWeights().length) layers[key.slice('layers/'.length)] = layer.stateDict();
    return { layers };
  }

  override loadStateDict(state: StateDict, options: LoadOptions = {}): void {
    this.requireBuilt('loadStateDict');
    const layers = (state.layers ?? {}) as StateDict;
    for (const [key, layer] of this.sublayers()) {
      if (!layer.namedWeights().length) continue;
      const saved = layers[key.slice('layers/'.length)] as StateDict | undefined;
      if (saved === undefined) {
        if (options.strict ?? true)
          throw new CheckpointError('MISSING_KEYS', `no saved weights for ${key} (${layer.describe()})`, {
            entry: key,
          });
        continue;
      }
      layer.loadStateDict(saved, options);
    }
  }
}

registerModelClass('Functional', (config: FunctionalConfig) => Model.fromConfig(config));

/** A Sequential's config: its layers in order. */
export type SequentialConfig = {
  name: string;
  seed: number;
  layers: SerializedLayer[];
};

/** Output names made unique as Keras does when one layer makes two outputs (`dense`, `dense_1`). */
function uniqueNames(names: string[]): string[] {
  const used = new Set<string>();
  return names.map((n) => {
    let name = n;
    for (let k = 1; used.has(name); k++) name = `${n}_${k}`;
    used.add(name);
    return name;
  });
}

/** A layer's final activation, if it has one a loss can fold in. */
export function activationOf(layer: Layer | undefined): string | undefined {
  if (layer === undefined || layer instanceof Model || layer instanceof InputLayer) return undefined;
  const a = (layer as Layer & { activation?: unknown }).activation;
  return typeof a === 'string' ? a : undefined;
}

/** Batches of outputs joined into one tensor of `shape`. */
function joinRows(parts: Tensor[], shape: number[]): Tensor {
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  let at = 0;
  for (const p of parts) {
    out.set(p.data, at);
    at += p.size;
  }
  return new Tensor(out, shape);
}
