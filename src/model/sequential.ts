import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { Tensor, noGrad } from '../tensor/tensor.js';
import { Random } from '../tensor/random.js';
import { takeRows } from '../tensor/ops/layout.js';
import type { StateDict } from '../state/tree.js';
import type { LoadOptions, Trackable } from '../state/trackable.js';
import { CheckpointError } from '../state/errors.js';
import { type Optimizer, type OptimizerName, getOptimizer } from '../optim/index.js';
import { History, type Logs } from './history.js';
import { type FitOptions, type EvaluateOptions, evaluateModel, fitModel } from './fit.js';
import {
  type EvaluateDatasetOptions,
  type FitDatasetOptions,
  evaluateDatasetModel,
  fitDatasetModel,
} from './fit-dataset.js';
import type { Dataset } from '../data/dataset.js';
import { type ModelLoadOptions, type ModelSaveOptions, loadWeights, saveModel, saveWeights } from './persistence.js';
import { InterruptSwitch } from './interrupt.js';
import type { WriteResult } from '../checkpoint/format/writer.js';
import { type Layer, type SampleShape } from '../nn/layer.js';
import { FUSABLE_ACTIVATION, type LossFn, type LossName, getLoss } from '../nn/losses.js';
import { type ResolvedMetric, resolveMetric } from '../nn/metrics.js';
import { type SerializedLayer, layerFromConfig, serializeLayer } from '../nn/registry.js';

export interface SequentialOptions {
  name?: string;
  /** Seeds every random number of this model: initialization, shuffling, dropout. */
  seed?: number;
}

export interface CompileOptions {
  optimizer: Optimizer | OptimizerName;
  loss: LossName;
  metrics?: string[];
}

export interface SequentialConfig {
  name: string;
  seed: number;
  layers: SerializedLayer[];
}

/** The compiled training setup. */
export interface Compiled {
  optimizer: Optimizer;
  lossName: LossName;
  loss: LossFn;
  metrics: ResolvedMetric[];
  /** The last layer's activation is folded into the loss (softmax/sigmoid + cross-entropy). */
  fromLogits: boolean;
}

/** A linear stack of layers with Keras's compile / fit / evaluate / predict. */
export class Sequential implements Trackable {
  readonly layers: Layer[] = [];
  readonly name: string;
  readonly seed: number;
  /** The model's generator: weight initialization draws from it, in layer order. */
  readonly rng: Random;
  history = new History();
  stopTraining = false;
  compiled: Compiled | null = null;
  /** Whether a fit runs and was asked to stop (see `interrupt`). */
  readonly interruption = new InterruptSwitch();
  private inputShape: SampleShape | null = null;

  constructor(layers: Layer[] = [], options: SequentialOptions = {}) {
    this.name = options.name ?? 'sequential';
    this.seed = options.seed ?? 0;
    this.rng = new Random(this.seed);
    for (const layer of layers) this.add(layer);
  }

  /**
   * Appends a layer. As in TensorFlow.js, a first layer with an `inputShape` builds the model
   * at once, and layers added to a built model are built on the previous output: weights
   * are drawn from the model's generator in layer order either way.
   */
  add(layer: Layer): void {
    if (this.inputShape !== null) {
      layer.build(this.outputShapes().at(-1) ?? this.inputShape, this.rng);
      this.layers.push(layer);
      return;
    }
    this.layers.push(layer);
    if (this.layers.length === 1 && layer.inputShape !== undefined) this.build();
  }

  /** Epochs already trained (the length of the history's series). */
  get currentEpoch(): number {
    return this.history.nextEpoch;
  }

  get optimizer(): Optimizer | undefined {
    return this.compiled?.optimizer;
  }

  get built(): boolean {
    return this.inputShape !== null;
  }

  /** Creates every layer's weights for samples of `inputShape` (taken from the first layer if omitted). */
  build(inputShape?: SampleShape): SampleShape {
    const shape = inputShape ?? this.layers[0]?.inputShape;
    if (shape === undefined)
      throw new ShapeError(this.name, 'the first layer needs an inputShape (or call build(shape), or fit on data)');
    if (this.inputShape !== null) {
      if (fmtShape(this.inputShape) !== fmtShape(shape))
        throw new ShapeError(this.name, `built for samples ${fmtShape(this.inputShape)}, given ${fmtShape(shape)}`);
      return this.outputShapes().at(-1)!;
    }
    let s: SampleShape = [...shape];
    for (const layer of this.layers) s = layer.build(s, this.rng);
    this.inputShape = [...shape];
    return s;
  }

  /** Per-sample input shape the model was built for. */
  inputShapeOf(): SampleShape {
    if (this.inputShape === null) throw new ShapeError(this.name, 'is not built yet');
    return [...this.inputShape];
  }

  private outputShapes(): SampleShape[] {
    const shapes: SampleShape[] = [];
    let s = this.inputShape as SampleShape;
    for (const layer of this.layers) shapes.push((s = layer.outputShape(s)));
    return shapes;
  }

  compile(options: CompileOptions): void {
    const loss = getLoss(options.loss);
    const metrics = (options.metrics ?? []).map((m) => resolveMetric(m, options.loss));
    const last = this.layers.at(-1) as (Layer & { activation?: string }) | undefined;
    this.compiled = {
      optimizer: getOptimizer(options.optimizer),
      lossName: options.loss,
      loss,
      metrics,
      fromLogits: last?.activation !== undefined && last.activation === FUSABLE_ACTIVATION[options.loss],
    };
    if (this.built) this.compiled.optimizer.build(this.namedParams());
  }

  /** Copies of every layer's weights, layer by layer in Keras's order (as `model.get_weights()`). */
  getWeights(): Tensor[] {
    this.requireBuilt('getWeights');
    return this.layers.flatMap((layer) => layer.getWeights());
  }

  /** Sets every layer's weights from one list in the order of `getWeights`. */
  setWeights(values: ReadonlyArray<Tensor | ArrayLike<number>>): void {
    this.requireBuilt('setWeights');
    const counts = this.layers.map((layer) => layer.namedWeights().length);
    const total = counts.reduce((a, b) => a + b, 0);
    if (!Array.isArray(values) || values.length !== total)
      throw new ShapeError(
        this.name,
        `setWeights needs ${total} arrays, got ${Array.isArray(values) ? values.length : typeof values}`,
      );
    let at = 0;
    const perLayer = counts.map((n) => values.slice(at, (at += n)));
    const before = this.layers.map((layer) => layer.getWeights());
    try {
      this.layers.forEach((layer, i) => layer.setWeights(perLayer[i]));
    } catch (e) {
      this.layers.forEach((layer, i) => layer.setWeights(before[i]));
      throw e; // all or nothing: a bad array leaves every layer as it was
    }
  }

  private requireBuilt(what: string): void {
    if (!this.built)
      throw new ShapeError(
        this.name,
        `${what}: the model is not built (give the first layer an inputShape, or call build(shape))`,
      );
  }

  /** Trainable parameters keyed by path: `layers/0/kernel`, `layers/0/bias`, … */
  namedParams(): Array<[string, Tensor]> {
    return this.layers.flatMap((layer, i) =>
      layer.trainableWeights().map(([n, w]) => [`layers/${i}/${n}`, w] as [string, Tensor]),
    );
  }

  /** The forward pass, recording the graph (training) or not. */
  forward(x: Tensor, ctx: { training: boolean; rng: Random; logits?: boolean }): Tensor {
    this.build(x.shape.slice(1));
    let y = x;
    this.layers.forEach((layer, i) => {
      y = layer.call(y, { ...ctx, logits: ctx.logits === true && i === this.layers.length - 1 });
    });
    return y;
  }

  fit(x: Tensor, y: Tensor, options: FitOptions = {}): Promise<History> {
    return fitModel(this, x, y, options);
  }

  evaluate(x: Tensor, y: Tensor, options: EvaluateOptions = {}): Promise<Logs> {
    return evaluateModel(this, x, y, options);
  }

  /** Trains on a dataset whose elements are batches, `{ xs, ys }` or `[xs, ys]` (TensorFlow.js's fitDataset); resumable at the next sample. */
  fitDataset(dataset: Dataset<unknown>, options: FitDatasetOptions = {}): Promise<History> {
    return fitDatasetModel(this, dataset, options);
  }

  /** Loss and metrics over a dataset of batches (one pass, or `batches` of them). */
  evaluateDataset(dataset: Dataset<unknown>, options: EvaluateDatasetOptions = {}): Promise<Logs> {
    return evaluateDatasetModel(this, dataset, options);
  }

  /** Outputs for `x`, computed in batches without recording the graph. */
  predict(x: Tensor, options: { batchSize?: number } = {}): Tensor {
    const batchSize = options.batchSize ?? 32;
    if (!(Number.isInteger(batchSize) && batchSize > 0))
      throw new ArgumentError(`predict: batchSize must be a positive integer, got ${batchSize}`);
    const n = x.shape[0];
    const rng = new Random(this.seed);
    return noGrad(() => {
      const parts: Tensor[] = [];
      for (let start = 0; start < n; start += batchSize)
        parts.push(this.forward(takeRows(x, start, Math.min(n, start + batchSize)), { training: false, rng }));
      if (parts.length === 0) return new Tensor(new Float32Array(0), [0, ...this.build(x.shape.slice(1))]);
      const out = new Float32Array(parts.reduce((s, p) => s + p.size, 0));
      let at = 0;
      for (const p of parts) {
        out.set(p.data, at);
        at += p.size;
      }
      return new Tensor(out, [n, ...parts[0].shape.slice(1)]);
    });
  }

  summary(write: (line: string) => void = console.log): void {
    if (!this.built && this.layers[0]?.inputShape) this.build();
    const shapes = this.built ? this.outputShapes() : this.layers.map(() => null);
    const rows = this.layers.map((l, i) => [
      `${l.name || `${l.className.toLowerCase()}_${i}`} (${l.className})`,
      shapes[i] ? `(None, ${shapes[i]!.join(', ')})` : '(unbuilt)',
      String(l.countParams()),
    ]);
    const widths = [34, 24, 12];
    const line = (cols: string[]) => cols.map((c, i) => c.padEnd(widths[i])).join('');
    write(`Model: "${this.name}"`);
    write('_'.repeat(70));
    write(line(['Layer (type)', 'Output Shape', 'Param #']));
    write('='.repeat(70));
    rows.forEach((r, i) => {
      write(line(r));
      if (i < rows.length - 1) write('_'.repeat(70));
    });
    write('='.repeat(70));
    const total = this.layers.reduce((n, l) => n + l.countParams(), 0);
    const trainable = this.layers.reduce((n, l) => n + (l.trainable ? l.countParams() : 0), 0);
    write(`Total params: ${total.toLocaleString('en-US')}`);
    write(`Trainable params: ${trainable.toLocaleString('en-US')}`);
    write(`Non-trainable params: ${(total - trainable).toLocaleString('en-US')}`);
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

  countParams(): number {
    return this.layers.reduce((n, l) => n + l.countParams(), 0);
  }

  getConfig(): SequentialConfig {
    return { name: this.name, seed: this.seed, layers: this.layers.map(serializeLayer) };
  }

  static fromConfig(config: SequentialConfig): Sequential {
    return new Sequential(config.layers.map(layerFromConfig), { name: config.name, seed: config.seed });
  }

  /** Every weight by path (`layers/0/kernel`, …). */
  stateDict(): StateDict {
    const layers: StateDict = {};
    this.layers.forEach((layer, i) => {
      if (layer.namedWeights().length) layers[String(i)] = layer.stateDict();
    });
    return { layers };
  }

  loadStateDict(state: StateDict, options: LoadOptions = {}): void {
    if (!this.built) this.build();
    const layers = (state.layers ?? {}) as StateDict;
    this.layers.forEach((layer, i) => {
      if (!layer.namedWeights().length) return;
      const s = layers[String(i)] as StateDict | undefined;
      if (s === undefined) {
        if (options.strict ?? true)
          throw new CheckpointError('MISSING_KEYS', `no saved weights for layers/${i} (${layer.describe()})`, {
            entry: `layers/${i}`,
          });
        return;
      }
      layer.loadStateDict(s, options);
    });
  }
}
