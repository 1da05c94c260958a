/**
 * `model.fit` and `model.evaluate` over tensors in memory: the batches of epoch e come in
 * the shuffled order that depends only on (seed, e), so a resumed fit takes the same batches.
 */
import { ArgumentError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { Random } from '../tensor/random.js';
import { takeRows } from '../tensor/ops/layout.js';
import type { Model } from './model.js';
import type { History, Logs } from './history.js';
import { Yielder } from './event-loop.js';
import { type ModelData, dataList, sameSamples } from './model-data.js';
import {
  type Batch,
  type BatchSource,
  type LoopOptions,
  STREAM,
  checkLoopOptions,
  evaluateBatches,
  runFit,
} from './train-loop.js';

export interface FitOptions extends LoopOptions {
  batchSize?: number;
  shuffle?: boolean;
  validationData?: [ModelData, ModelData];
  /** Fraction of the samples, taken from the end before shuffling, held out for validation. */
  validationSplit?: number;
}

export interface EvaluateOptions {
  batchSize?: number;
}

/** x and y as one tensor per input and per output, of the same number of samples (at least one). */
function dataOf(where: string, model: Model, x: unknown, y: unknown): Batch {
  const xs = dataList(where, 'x', x, model.inputNames);
  const ys = dataList(where, 'y', y, model.outputNames);
  const n = sameSamples(where, xs, ys, { x: model.inputNames, y: model.outputNames });
  if (n === 0) throw new ArgumentError(`${where}: x is empty (no samples)`);
  return { xs, ys };
}

const rowsOf = (data: Batch, start: number, end: number): Batch => ({
  xs: data.xs.map((t) => takeRows(t, start, end)),
  ys: data.ys.map((t) => takeRows(t, start, end)),
});

export function positiveInt(where: string, name: string, v: number): number {
  if (!(Number.isInteger(v) && v > 0))
    throw new ArgumentError(`${where}: ${name} must be a positive integer, got ${v}`);
  return v;
}

/** Batches of rows of every input and target, in epoch e's shuffled order (or in order), into reused buffers. */
class TensorBatches implements BatchSource {
  readonly steps: number;
  readonly samples: number;
  private order: Int32Array | undefined;
  private next = 0;
  private readonly into: { xs: Float32Array[]; ys: Float32Array[] };

  constructor(
    private readonly data: Batch,
    readonly batchSize: number,
    private readonly shuffle: boolean,
    private readonly seed: number,
  ) {
    const n = data.xs[0].shape[0];
    this.samples = n;
    this.steps = Math.ceil(n / batchSize);
    const buffer = (t: Tensor) => new Float32Array(Math.min(batchSize, n) * (t.size / Math.max(n, 1)));
    this.into = { xs: data.xs.map(buffer), ys: data.ys.map(buffer) };
  }

  async openEpoch(epoch: number, from: number): Promise<void> {
    this.order = this.shuffle ? Random.derive(this.seed, STREAM.shuffle, epoch).permutation(this.samples) : undefined;
    this.next = from;
  }

  async nextBatch(): Promise<Batch | null> {
    if (this.next >= this.steps) return null;
    const start = this.next++ * this.batchSize,
      end = Math.min(this.samples, start + this.batchSize);
    const take = (t: Tensor, into: Float32Array) => takeRows(t, start, end, { order: this.order, into });
    return {
      xs: this.data.xs.map((t, i) => take(t, this.into.xs[i])),
      ys: this.data.ys.map((t, i) => take(t, this.into.ys[i])),
    };
  }
}

export async function fitModel(model: Model, xAll: ModelData, yAll: ModelData, options: FitOptions): Promise<History> {
  if (model.compiled === null)
    throw new ArgumentError('fit: compile the model first (model.compile({ optimizer, loss }))');
  const all = dataOf('fit', model, xAll, yAll);
  const batchSize = positiveInt('fit', 'batchSize', options.batchSize ?? 32);
  const checked = checkLoopOptions('fit', options);
  const split = options.validationSplit ?? 0;
  if (!(split >= 0 && split < 1)) throw new ArgumentError(`fit: validationSplit must be in [0, 1), got ${split}`);
  if (options.validationData && split > 0)
    throw new ArgumentError('fit: give validationData or validationSplit, not both');

  let data = all;
  let validation = options.validationData && dataOf('fit validationData', model, ...options.validationData);
  if (split > 0) {
    const n = all.xs[0].shape[0];
    const nTrain = Math.floor(n * (1 - split));
    if (nTrain === 0 || nTrain === n)
      throw new ArgumentError(`fit: validationSplit ${split} of ${n} samples leaves an empty set`);
    data = rowsOf(all, 0, nTrain);
    validation = rowsOf(all, nTrain, n);
  }
  model.buildInputs(data.xs.map((t) => t.shape.slice(1)));
  const source = new TensorBatches(data, batchSize, options.shuffle ?? true, model.seed);
  const held = validation;
  const validate = held ? (yielder: Yielder) => evaluateData(model, held, batchSize, yielder) : null;
  return runFit(model, source, validate, options, checked);
}

export async function evaluateModel(model: Model, x: ModelData, y: ModelData, options: EvaluateOptions): Promise<Logs> {
  if (model.compiled === null) throw new ArgumentError('evaluate: compile the model first');
  const data = dataOf('evaluate', model, x, y);
  const batchSize = positiveInt('evaluate', 'batchSize', options.batchSize ?? 32);
  model.buildInputs(data.xs.map((t) => t.shape.slice(1)));
  return evaluateData(model, data, batchSize, new Yielder());
}

/** Loss and metrics over (x, y) tensors in order, in batches; `where` names the caller in errors. */
export async function evaluateTensors(
  model: Model,
  x: ModelData,
  y: ModelData,
  batchSize: number,
  yielder: Yielder,
  where = 'evaluate',
): Promise<Logs> {
  return evaluateData(model, dataOf(where, model, x, y), batchSize, yielder);
}

async function evaluateData(model: Model, data: Batch, batchSize: number, yielder: Yielder): Promise<Logs> {
  const batches = new TensorBatches(data, batchSize, false, model.seed);
  await batches.openEpoch(0, 0);
  return evaluateBatches(model, () => batches.nextBatch(), yielder);
}
