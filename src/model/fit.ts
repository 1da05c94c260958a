/**
 * The training loop behind `model.fit` and `model.evaluate`. The shuffle order of epoch e
 * and the dropout masks of batch b depend only on (seed, e, b), and every floating-point
 * operation happens in the same order on every run: a run stopped and resumed at any batch
 * reproduces an uninterrupted one bit for bit.
 */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { Tensor, noGrad } from '../tensor/tensor.js';
import { Random } from '../tensor/random.js';
import { withBufferScope } from '../tensor/memory.js';
import { takeRows } from '../tensor/ops/layout.js';
import type { Sequential } from './sequential.js';
import { type Callback, type CallbackHooks, CallbackList, type EpochTotals, FitContext } from './callback.js';
import type { History, Logs } from './history.js';
import { ProgressBar } from './progress.js';
import type { NamedParams } from '../optim/optimizer.js';
import { YIELD_EVERY_MS, Yielder } from './event-loop.js';
import { TrainingInterruptedError } from './interrupt.js';

export interface FitOptions {
  epochs?: number;
  batchSize?: number;
  shuffle?: boolean;
  validationData?: [Tensor, Tensor];
  /** Fraction of the samples, taken from the end before shuffling, held out for validation. */
  validationSplit?: number;
  /** Epoch to start at (epochs before it count as done); history entries from it on are dropped. */
  initialEpoch?: number;
  /** Callbacks, or plain objects with any of the hooks (as TensorFlow.js accepts). */
  callbacks?: Array<Callback | CallbackHooks>;
  verbose?: 0 | 1 | 2;
  /**
   * The longest stretch of batches, in milliseconds, before the event loop gets a turn
   * (signals, timers, a page's input). Default 50; Infinity never yields between batches.
   */
  yieldEveryMs?: number;
  /** Validate every N epochs (an integer), or at the listed 1-based epochs (an array), as Keras. Default 1. */
  validationFreq?: number | number[];
}

export interface EvaluateOptions {
  batchSize?: number;
}

/** Sub-streams of the model seed. */
const STREAM = { shuffle: 1, dropout: 2 } as const;

const emptyTotals = (): EpochTotals => ({ samples: 0, sums: {}, counts: {} });
const averages = (t: EpochTotals): Logs =>
  Object.fromEntries(Object.entries(t.sums).map(([k, s]) => [k, s / t.counts[k]]));

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

function positiveInt(where: string, name: string, v: number): number {
  if (!(Number.isInteger(v) && v > 0))
    throw new ArgumentError(`${where}: ${name} must be a positive integer, got ${v}`);
  return v;
}

export async function fitModel(model: Sequential, xAll: Tensor, yAll: Tensor, options: FitOptions): Promise<History> {
  const compiled = model.compiled;
  if (compiled === null) throw new ArgumentError('fit: compile the model first (model.compile({ optimizer, loss }))');
  validateXY('fit', xAll, yAll);
  const epochs = options.epochs ?? 1;
  const batchSize = positiveInt('fit', 'batchSize', options.batchSize ?? 32);
  const initialEpoch = options.initialEpoch ?? 0;
  if (!(Number.isInteger(epochs) && epochs >= 0))
    throw new ArgumentError(`fit: epochs must be a non-negative integer, got ${epochs}`);
  if (!(Number.isInteger(initialEpoch) && initialEpoch >= 0 && initialEpoch <= epochs)) {
    throw new ArgumentError(`fit: initialEpoch must be an integer in [0, epochs=${epochs}], got ${initialEpoch}`);
  }
  const split = options.validationSplit ?? 0;
  if (!(split >= 0 && split < 1)) throw new ArgumentError(`fit: validationSplit must be in [0, 1), got ${split}`);
  if (options.validationData && split > 0)
    throw new ArgumentError('fit: give validationData or validationSplit, not both');
  const validationFreq = options.validationFreq ?? 1;
  if (
    !(Array.isArray(validationFreq)
      ? validationFreq.every((e) => Number.isInteger(e) && e >= 1)
      : Number.isInteger(validationFreq) && validationFreq >= 1)
  ) {
    throw new ArgumentError(
      `fit: validationFreq must be a positive integer or an array of 1-based epochs, got ${JSON.stringify(validationFreq)}`,
    );
  }
  const validateAfter = (epoch: number) =>
    Array.isArray(validationFreq) ? validationFreq.includes(epoch + 1) : (epoch + 1) % validationFreq === 0;
  const yieldEveryMs = options.yieldEveryMs ?? YIELD_EVERY_MS;
  if (!(yieldEveryMs >= 0))
    throw new ArgumentError(
      `fit: yieldEveryMs must be a non-negative number of milliseconds (or Infinity), got ${yieldEveryMs}`,
    );

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
  const params = model.namedParams();
  compiled.optimizer.build(params);
  const n = x.shape[0];
  const batches = Math.ceil(n / batchSize);
  const verbose = options.verbose ?? 1;
  const callbacks = new CallbackList([
    ...(verbose > 0 ? [new ProgressBar({ verbose: verbose as 1 | 2, epochs, stepsPerEpoch: batches })] : []),
    ...(options.callbacks ?? []),
  ]);
  callbacks.setModel(model);
  model.stopTraining = false;
  const batchLogKeys = ['loss', ...compiled.metrics.map((m) => m.name)];
  const epochLogKeys = validation ? [...batchLogKeys, ...batchLogKeys.map((k) => `val_${k}`)] : batchLogKeys;
  const context = new FitContext({
    epochs,
    steps: batches,
    samples: n,
    batchSize,
    verbose,
    initialEpoch,
    doValidation: validation !== undefined,
    metrics: epochLogKeys,
    batchMetrics: batchLogKeys,
  });
  callbacks.setContext(context);
  model.interruption.begin();
  try {
    return await runEpochs(model, x, y, validation, callbacks, context, {
      epochs,
      batchSize,
      batches,
      n,
      shuffle: options.shuffle ?? true,
      params,
      yieldEveryMs,
      validateAfter,
    });
  } catch (error) {
    await callbacks.trainAbort(error);
    throw error;
  } finally {
    // Before the rejection reaches the caller: whoever waits in interrupt() acts first.
    model.interruption.end();
  }
}

/** Stops the fit here if `model.interrupt()` was called: at a batch boundary, after its callbacks. */
function checkInterrupt(model: Sequential, epoch: number, nextBatch: number): void {
  const reason = model.interruption.requested;
  if (reason !== null) throw new TrainingInterruptedError(reason, epoch, nextBatch);
}

/** `params` is computed once per fit: the same tensors are updated in place every batch. */
interface LoopSettings {
  epochs: number;
  batchSize: number;
  batches: number;
  n: number;
  shuffle: boolean;
  params: NamedParams;
  yieldEveryMs: number;
  validateAfter: (epoch: number) => boolean;
}

async function runEpochs(
  model: Sequential,
  x: Tensor,
  y: Tensor,
  validation: [Tensor, Tensor] | undefined,
  callbacks: CallbackList,
  context: FitContext,
  { epochs, batchSize, batches, n, shuffle, params, yieldEveryMs, validateAfter }: LoopSettings,
): Promise<History> {
  await callbacks.trainBegin({});
  const start = context.freezeStart();
  model.history.truncate(start.epoch);
  // Every ~50 ms of work the event loop gets a turn: signals, timers and a page's input are
  // not kept waiting for the epoch's next I/O (bench/interrupt.ts measures what it costs).
  const yielder = new Yielder(yieldEveryMs);
  checkInterrupt(model, start.epoch, start.batch);

  let lastLogs: Logs = {};
  const xBatch = new Float32Array(Math.min(batchSize, n) * (x.size / Math.max(n, 1)));
  const yBatch = new Float32Array(Math.min(batchSize, n) * (y.size / Math.max(n, 1)));
  for (let epoch = start.epoch; epoch < epochs && !model.stopTraining; epoch++) {
    const resuming = epoch === start.epoch && start.batch > 0;
    const totals = resuming && start.totals ? structuredClone(start.totals) : emptyTotals();
    context.epoch = epoch;
    context.totals = totals;
    await callbacks.epochBegin(epoch, {});
    const order = shuffle
      ? Random.derive(model.seed, STREAM.shuffle, epoch).permutation(n)
      : Int32Array.from({ length: n }, (_, i) => i);
    for (let b = resuming ? start.batch : 0; b < batches; b++) {
      context.batch = b;
      const start = b * batchSize,
        end = Math.min(n, start + batchSize);
      await callbacks.batchBegin(b, { batch: b, size: end - start });
      trainBatch(
        model,
        params,
        takeRows(x, start, end, { order, into: xBatch }),
        takeRows(y, start, end, { order, into: yBatch }),
        Random.derive(model.seed, STREAM.dropout, epoch, b),
        totals,
      );
      await callbacks.batchEnd(b, { batch: b, size: end - start, ...averages(totals) });
      await yielder.maybeYield();
      checkInterrupt(model, epoch, b + 1);
      if (model.stopTraining) break; // as Keras: a callback may stop mid-epoch (TerminateOnNaN)
    }
    const logs = averages(totals);
    if (validation && validateAfter(epoch)) {
      const val = await evaluateLoop(model, validation[0], validation[1], batchSize, yielder);
      for (const [k, v] of Object.entries(val)) logs[`val_${k}`] = v;
    }
    // The rate the epoch ended with (a plateau callback lowers it after), as Keras's callbacks log it.
    if (callbacks.callbacks.some((c) => c.logsLearningRate))
      logs.learning_rate = model.compiled!.optimizer.learningRate;
    model.history.record(epoch, logs);
    lastLogs = logs;
    await callbacks.epochEnd(epoch, logs);
    checkInterrupt(model, epoch + 1, 0);
  }
  await callbacks.trainEnd(lastLogs);
  return model.history;
}

/**
 * One step: forward, backward, update, then the loss and metrics as numbers. It runs in a
 * buffer scope, so the next step computes into this one's activations and gradients
 * (kernels/buffers.ts); the gradients are dropped with them.
 */
function trainBatch(
  model: Sequential,
  params: NamedParams,
  x: Tensor,
  y: Tensor,
  rng: Random,
  totals: EpochTotals,
): void {
  withBufferScope(() => {
    trainStep(model, params, x, y, rng, totals);
    for (const [, p] of params) p.zeroGrad();
  });
}

function trainStep(
  model: Sequential,
  params: NamedParams,
  x: Tensor,
  y: Tensor,
  rng: Random,
  totals: EpochTotals,
): void {
  const compiled = model.compiled!;
  const output = model.forward(x, { training: true, rng, logits: compiled.fromLogits });
  const loss = compiled.loss(y, output, compiled.fromLogits);
  for (const [, p] of params) p.zeroGrad();
  loss.backward();
  noGrad(() => compiled.optimizer.applyGradients(params));
  const bs = x.shape[0];
  add(totals, 'loss', loss.item() * bs, bs);
  for (const m of compiled.metrics) {
    const { total, count } = m.fn(y, output, compiled.fromLogits);
    add(totals, m.name, total, count);
  }
  totals.samples += bs;
}

function add(t: EpochTotals, key: string, sum: number, count: number): void {
  t.sums[key] = (t.sums[key] ?? 0) + sum;
  t.counts[key] = (t.counts[key] ?? 0) + count;
}

export async function evaluateModel(model: Sequential, x: Tensor, y: Tensor, options: EvaluateOptions): Promise<Logs> {
  const compiled = model.compiled;
  if (compiled === null) throw new ArgumentError('evaluate: compile the model first');
  validateXY('evaluate', x, y);
  const batchSize = positiveInt('evaluate', 'batchSize', options.batchSize ?? 32);
  return evaluateLoop(model, x, y, batchSize, new Yielder());
}

/** Loss and metrics over (x, y) in batches, giving the event loop a turn as fit does. */
async function evaluateLoop(
  model: Sequential,
  x: Tensor,
  y: Tensor,
  batchSize: number,
  yielder: Yielder,
): Promise<Logs> {
  const compiled = model.compiled!;
  const totals = emptyTotals();
  const rng = new Random(model.seed);
  for (let start = 0; start < x.shape[0]; start += batchSize) {
    const end = Math.min(x.shape[0], start + batchSize);
    withBufferScope(() =>
      noGrad(() => {
        const xb = takeRows(x, start, end),
          yb = takeRows(y, start, end);
        const output = model.forward(xb, { training: false, rng, logits: compiled.fromLogits });
        add(totals, 'loss', compiled.loss(yb, output, compiled.fromLogits).item() * (end - start), end - start);
        for (const m of compiled.metrics) {
          const { total, count } = m.fn(yb, output, compiled.fromLogits);
          add(totals, m.name, total, count);
        }
      }),
    );
    await yielder.maybeYield();
  }
  return averages(totals);
}
