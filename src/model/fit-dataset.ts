/**
 * `model.fitDataset` and `model.evaluateDataset`, as TensorFlow.js's: each element of the
 * dataset is one batch, `{ xs, ys }` or `[xs, ys]`. The dataset's position after each batch
 * (and its shuffles' passes) is state a backup keeps, so a resumed fit seeks the data and
 * continues at the next sample.
 */
import { ArgumentError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import type { StateDict } from '../state/tree.js';
import type { Trackable } from '../state/trackable.js';
import { Dataset, type DatasetIterator, type Position } from '../data/dataset.js';
import { decodeValue, encodeValue, isPlainObject } from '../data/element.js';
import type { Model } from './model.js';
import { type ModelData, dataList, sameSamples } from './model-data.js';
import type { History, Logs } from './history.js';
import { Yielder } from './event-loop.js';
import { evaluateTensors, positiveInt } from './fit.js';
import {
  type Batch,
  type BatchSource,
  type LoopOptions,
  checkLoopOptions,
  evaluateBatches,
  runFit,
} from './train-loop.js';

export interface FitDatasetOptions extends LoopOptions {
  /**
   * Batches per epoch. Without it an epoch is one pass over the dataset; with it the fit
   * keeps one iterator across epochs and stops, with a warning, if the data runs out.
   */
  batchesPerEpoch?: number;
  /** A dataset of batches (as the training one), or [x, y] tensors evaluated in batches of 32. */
  validationData?: Dataset<unknown> | [ModelData, ModelData];
  /** At most this many validation batches each time (default: the whole validation dataset). */
  validationBatches?: number;
  warn?: (message: string) => void;
}

export interface EvaluateDatasetOptions {
  /** At most this many batches (default: one whole pass). */
  batches?: number;
}

/**
 * A dataset element as a batch: `{ xs, ys }` or `[xs, ys]`, each a Tensor, a list of them or an
 * object keyed by input (output) name; or a clear error saying what the element is instead.
 */
function batchOf(where: string, model: Model, element: unknown, index: number): Batch {
  let pair: [unknown, unknown];
  if (Array.isArray(element) && element.length === 2) pair = [element[0], element[1]];
  else if (isPlainObject(element) && 'xs' in element && 'ys' in element) pair = [element.xs, element.ys];
  else
    throw new ArgumentError(
      `${where}: element ${index} is ${describe(element)}; each element is one batch, { xs, ys } or [xs, ys]`,
    );
  for (const [k, part] of pair.entries()) {
    const parts =
      part instanceof Tensor ? [part] : Array.isArray(part) ? part : isPlainObject(part) ? Object.values(part) : [part];
    if (!parts.every((p) => p instanceof Tensor))
      throw new ArgumentError(
        `${where}: element ${index}'s ${k === 0 ? 'xs' : 'ys'} is ${describe(part)}, not a Tensor: batch the dataset first (dataset.batch(32))`,
      );
  }
  const at = `${where}: element ${index}`;
  const xs = dataList(at, 'x', pair[0], model.inputNames);
  const ys = dataList(at, 'y', pair[1], model.outputNames);
  sameSamples(at, xs, ys, { x: model.inputNames, y: model.outputNames });
  return { xs, ys };
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (isPlainObject(v)) return `an object with keys ${Object.keys(v).join(', ') || '(none)'}`;
  return v === null ? 'null' : typeof v;
}

/** Batches from a dataset's iterator; its position after each batch is what a backup saves. */
class DatasetBatches implements BatchSource {
  readonly steps: number | null;
  readonly samples = null;
  readonly batchSize = null;
  private it: DatasetIterator<unknown> | null = null;
  /** A position restored from a backup, for the first epoch opened. */
  private restored: Position | null | undefined;
  private given = 0;
  readonly state: Trackable;

  constructor(
    private readonly model: Model,
    private readonly dataset: Dataset<unknown>,
    private readonly batchesPerEpoch: number | undefined,
    private readonly onRunOut: () => void,
    validation: Dataset<unknown> | null,
  ) {
    const size = dataset.size;
    this.steps = batchesPerEpoch ?? (size !== null && Number.isFinite(size) ? size : null);
    this.state = {
      stateDict: (): StateDict => ({
        dataset: dataset.stateDict(),
        ...(validation ? { validation: validation.stateDict() } : {}),
        // Taken when a backup asks (between batches, so right after the last one given), not after
        // every batch: a shuffle's position copies its buffer. Null: the next epoch starts a new pass.
        position: encodeValue(this.it?.position() ?? null),
      }),
      loadStateDict: (s: StateDict) => {
        dataset.loadStateDict(s.dataset as StateDict);
        if (validation && s.validation) validation.loadStateDict(s.validation as StateDict);
        this.restored = decodeValue(s.position as never) as Position | null;
      },
    };
  }

  async openEpoch(_epoch: number, from: number): Promise<void> {
    const restored = this.restored;
    this.restored = undefined;
    // A backup taken mid-epoch, or between epochs of a fit that keeps one iterator, continues its pass.
    if (restored != null && (from > 0 || this.batchesPerEpoch !== undefined))
      this.it = await this.dataset.iterator(restored);
    else if (this.batchesPerEpoch === undefined || this.it === null) this.it = await this.dataset.iterator();
  }

  async nextBatch(): Promise<Batch | null> {
    const r = await this.it!.next();
    if (r.done) {
      this.it = null;
      if (this.batchesPerEpoch !== undefined) this.onRunOut();
      return null;
    }
    return batchOf('fitDataset', this.model, r.value, this.given++);
  }
}

/** Builds an unbuilt model from the first batch's shape, leaving the dataset's passes as they were. */
async function buildFromFirstBatch(model: Model, dataset: Dataset<unknown>): Promise<void> {
  if (model.built) return;
  const passes = dataset.stateDict();
  const first = await (await dataset.iterator()).next();
  dataset.loadStateDict(passes);
  if (first.done) throw new ArgumentError('fitDataset: the dataset is empty');
  model.buildInputs(batchOf('fitDataset', model, first.value, 0).xs.map((t) => t.shape.slice(1)));
}

export async function fitDatasetModel(
  model: Model,
  dataset: Dataset<unknown>,
  options: FitDatasetOptions,
): Promise<History> {
  if (model.compiled === null)
    throw new ArgumentError('fitDataset: compile the model first (model.compile({ optimizer, loss }))');
  if (!(dataset instanceof Dataset))
    throw new ArgumentError(`fitDataset: expects a Dataset (data.csv, data.array, …), got ${describe(dataset)}`);
  const checked = checkLoopOptions('fitDataset', options);
  if (options.batchesPerEpoch !== undefined) positiveInt('fitDataset', 'batchesPerEpoch', options.batchesPerEpoch);
  if (options.batchesPerEpoch === undefined && dataset.size === Infinity)
    throw new ArgumentError('fitDataset: the dataset never ends (repeat() without a count): give batchesPerEpoch');
  if (options.validationBatches !== undefined)
    positiveInt('fitDataset', 'validationBatches', options.validationBatches);
  const v = options.validationData;
  if (v !== undefined && !(v instanceof Dataset) && !(Array.isArray(v) && v.length === 2))
    throw new ArgumentError(`fitDataset: validationData must be a Dataset or [x, y], got ${describe(v)}`);
  await buildFromFirstBatch(model, dataset);
  const warn = options.warn ?? ((m: string) => console.warn(`waypoint: ${m}`));
  const source = new DatasetBatches(
    model,
    dataset,
    options.batchesPerEpoch,
    () => {
      warn(
        `fitDataset: the dataset ran out of data; training stops. Make sure it can give at least batchesPerEpoch × epochs = ${options.batchesPerEpoch! * checked.epochs} batches (repeat() it).`,
      );
      model.stopTraining = true;
    },
    v instanceof Dataset ? v : null,
  );
  const validate =
    v === undefined
      ? null
      : v instanceof Dataset
        ? (yielder: Yielder) => evaluateDatasetBatches(model, v, options.validationBatches, yielder)
        : (yielder: Yielder) => evaluateTensors(model, v[0], v[1], 32, yielder, 'fitDataset validationData');
  return runFit(model, source, validate, options, checked);
}

function evaluateDatasetBatches(
  model: Model,
  dataset: Dataset<unknown>,
  batches: number | undefined,
  yielder: Yielder,
): Promise<Logs> {
  let it: DatasetIterator<unknown> | null = null;
  let n = 0;
  return evaluateBatches(
    model,
    async () => {
      it ??= await dataset.iterator();
      if (batches !== undefined && n >= batches) return null;
      const r = await it.next();
      return r.done ? null : batchOf('evaluateDataset', model, r.value, n++);
    },
    yielder,
  );
}

export async function evaluateDatasetModel(
  model: Model,
  dataset: Dataset<unknown>,
  options: EvaluateDatasetOptions,
): Promise<Logs> {
  if (model.compiled === null) throw new ArgumentError('evaluateDataset: compile the model first');
  if (!(dataset instanceof Dataset))
    throw new ArgumentError(`evaluateDataset: expects a Dataset, got ${describe(dataset)}`);
  if (options.batches !== undefined) positiveInt('evaluateDataset', 'batches', options.batches);
  else if (dataset.size === Infinity)
    throw new ArgumentError('evaluateDataset: the dataset never ends (repeat() without a count): give batches');
  await buildFromFirstBatch(model, dataset);
  return evaluateDatasetBatches(model, dataset, options.batches, new Yielder());
}
