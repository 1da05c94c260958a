/**
 * `model.fit` and `model.evaluate` over tensors in memory: the batches of epoch e come in
 * the shuffled order that depends only on (seed, e), so a resumed fit takes the same batches.
 */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { Random } from '../tensor/random.js';
import { takeRows } from '../tensor/ops/layout.js';
import type { Sequential } from './sequential.js';
import type { History, Logs } from './history.js';
import { Yielder } from './event-loop.js';
import { type BatchSource, type LoopOptions, STREAM, checkLoopOptions, evaluateBatches, runFit } from './train-loop.js';

export interface FitOptions extends LoopOptions {
  batchSize?: number;
  shuffle?: boolean;
  validationData?: [Tensor, Tensor];
  /** Fraction of the samples, taken from the end before shuffling, held out for validation. */
  validationSplit?: number;
}

export interface EvaluateOptions {
  batchSize?: number;
}

function validateXY(where: string, x: Tensor, y: Tensor): void {
  if (!(x instanceof Tensor) || !(y instanceof Tensor)) throw new ArgumentError(`${where}: x and y must be Tensors`);
  if (x.rank < 1 || x.shape[0] === 0) throw new ArgumentError(`${where}: x is empty (shape ${fmtShape(x.shape)})`);
  if (y.rank < 1 || x.shape[0] !== y.shape[0]) {
    throw new ShapeError(
      where,
      `x has ${x.shape[0]} samples (${fmtShape(x.shape)}) but y has ${y.shape[0] ?? 0} (${fmtShape(y.shape)})`,
    );
  }
}

export function positiveInt(where: string, name: string, v: number): number {
  if (!(Number.isInteger(v) && v > 0))
    throw new ArgumentError(`${where}: ${name} must be a positive integer, got ${v}`);
  return v;
}

/** Batches of rows of (x, y), in epoch e's shuffled order (or in order), into two reused buffers. */
class TensorBatches implements BatchSource {
  readonly steps: number;
  readonly samples: number;
  private order: Int32Array | undefined;
  private next = 0;
  private readonly xInto: Float32Array;
  private readonly yInto: Float32Array;

  constructor(
    private readonly x: Tensor,
    private readonly y: Tensor,
    readonly batchSize: number,
    private readonly shuffle: boolean,
    private readonly seed: number,
  ) {
    const n = x.shape[0];
    this.samples = n;
    this.steps = Math.ceil(n / batchSize);
    this.xInto = new Float32Array(Math.min(batchSize, n) * (x.size / Math.max(n, 1)));
    this.yInto = new Float32Array(Math.min(batchSize, n) * (y.size / Math.max(n, 1)));
  }

  async openEpoch(epoch: number, from: number): Promise<void> {
    this.order = this.shuffle ? Random.derive(this.seed, STREAM.shuffle, epoch).permutation(this.samples) : undefined;
    this.next = from;
  }

  async nextBatch(): Promise<[Tensor, Tensor] | null> {
    if (this.next >= this.steps) return null;
    const start = this.next++ * this.batchSize,
      end = Math.min(this.samples, start + this.batchSize);
    return [
      takeRows(this.x, start, end, { order: this.order, into: this.xInto }),
      takeRows(this.y, start, end, { order: this.order, into: this.yInto }),
    ];
  }
}

export async function fitModel(model: Sequential, xAll: Tensor, yAll: Tensor, options: FitOptions): Promise<History> {
  if (model.compiled === null)
    throw new ArgumentError('fit: compile the model first (model.compile({ optimizer, loss }))');
  validateXY('fit', xAll, yAll);
  const batchSize = positiveInt('fit', 'batchSize', options.batchSize ?? 32);
  const checked = checkLoopOptions('fit', options);
  const split = options.validationSplit ?? 0;
  if (!(split >= 0 && split < 1)) throw new ArgumentError(`fit: validationSplit must be in [0, 1), got ${split}`);
  if (options.validationData && split > 0)
    throw new ArgumentError('fit: give validationData or validationSplit, not both');

  let [x, y] = [xAll, yAll];
  let validation = options.validationData;
  if (validation) validateXY('fit validationData', validation[0], validation[1]);
  if (split > 0) {
    const nTrain = Math.floor(xAll.shape[0] * (1 - split));
    if (nTrain === 0 || nTrain === xAll.shape[0])
      throw new ArgumentError(`fit: validationSplit ${split} of ${xAll.shape[0]} samples leaves an empty set`);
    [x, y] = [takeRows(xAll, 0, nTrain), takeRows(yAll, 0, nTrain)];
    validation = [takeRows(xAll, nTrain, xAll.shape[0]), takeRows(yAll, nTrain, xAll.shape[0])];
  }
  model.build(x.shape.slice(1));
  const source = new TensorBatches(x, y, batchSize, options.shuffle ?? true, model.seed);
  const held = validation;
  const validate = held ? (yielder: Yielder) => evaluateTensors(model, held[0], held[1], batchSize, yielder) : null;
  return runFit(model, source, validate, options, checked);
}

export async function evaluateModel(model: Sequential, x: Tensor, y: Tensor, options: EvaluateOptions): Promise<Logs> {
  if (model.compiled === null) throw new ArgumentError('evaluate: compile the model first');
  validateXY('evaluate', x, y);
  const batchSize = positiveInt('evaluate', 'batchSize', options.batchSize ?? 32);
  return evaluateTensors(model, x, y, batchSize, new Yielder());
}

/** Loss and metrics over (x, y) in order, in batches. */
export async function evaluateTensors(
  model: Sequential,
  x: Tensor,
  y: Tensor,
  batchSize: number,
  yielder: Yielder,
): Promise<Logs> {
  const batches = new TensorBatches(x, y, batchSize, false, model.seed);
  await batches.openEpoch(0, 0);
  return evaluateBatches(model, () => batches.nextBatch(), yielder);
}
