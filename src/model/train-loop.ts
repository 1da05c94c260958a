/**
 * The loop behind `fit` and `fitDataset`: epochs of batches from a `BatchSource`, the
 * callbacks around each, validation, interruption and the event loop's turns. The dropout
 * masks of batch b of epoch e depend only on (seed, e, b), and a source gives the same
 * batches on every run, so a run stopped and resumed at any batch reproduces an
 * uninterrupted one bit for bit.
 */
import { ArgumentError } from '../errors.js';
import { noGrad, type Tensor } from '../tensor/tensor.js';
import { add, mul } from '../tensor/ops/elementwise.js';
import { Random } from '../tensor/random.js';
import { withBufferScope } from '../tensor/memory.js';
import type { Trackable } from '../state/trackable.js';
import type { Model } from './model.js';
import { logKeys } from './compile.js';
import { type Callback, type CallbackHooks, CallbackList, type EpochTotals, FitContext } from './callback.js';
import type { History, Logs } from './history.js';
import { ProgressBar } from './progress.js';
import type { NamedParams } from '../optim/optimizer.js';
import { YIELD_EVERY_MS, Yielder } from './event-loop.js';
import { TrainingInterruptedError } from './interrupt.js';

/** Sub-streams of the model seed. */
export const STREAM = { shuffle: 1, dropout: 2 } as const;

/** One batch: a tensor per model input and per output, each of the same number of samples. */
export interface Batch {
  xs: Tensor[];
  ys: Tensor[];
}

/** The training data of a fit, a batch at a time. */
export interface BatchSource {
  /** Batches per epoch, or null when an epoch lasts until the data ends. */
  readonly steps: number | null;
  /** Samples per epoch, when known. */
  readonly samples: number | null;
  readonly batchSize: number | null;
  /** Starts epoch `epoch` at batch `from` (past 0 when a resumed fit continues an epoch). */
  openEpoch(epoch: number, from: number): Promise<void>;
  /** The next batch of the open epoch, or null at its end. */
  nextBatch(): Promise<Batch | null>;
  /** What backups must keep besides the model to continue at the next batch (a dataset's position). */
  readonly state?: Trackable;
}

/** What fit and fitDataset both take. */
export interface LoopOptions {
  epochs?: number;
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

export interface CheckedLoopOptions {
  epochs: number;
  initialEpoch: number;
  yieldEveryMs: number;
  validateAfter: (epoch: number) => boolean;
}

/** The options fit and fitDataset share, checked; `where` names the caller in errors. */
export function checkLoopOptions(where: string, options: LoopOptions): CheckedLoopOptions {
  const epochs = options.epochs ?? 1;
  const initialEpoch = options.initialEpoch ?? 0;
  if (!(Number.isInteger(epochs) && epochs >= 0))
    throw new ArgumentError(`${where}: epochs must be a non-negative integer, got ${epochs}`);
  if (!(Number.isInteger(initialEpoch) && initialEpoch >= 0 && initialEpoch <= epochs))
    throw new ArgumentError(`${where}: initialEpoch must be an integer in [0, epochs=${epochs}], got ${initialEpoch}`);
  const validationFreq = options.validationFreq ?? 1;
  if (
    !(Array.isArray(validationFreq)
      ? validationFreq.every((e) => Number.isInteger(e) && e >= 1)
      : Number.isInteger(validationFreq) && validationFreq >= 1)
  ) {
    throw new ArgumentError(
      `${where}: validationFreq must be a positive integer or an array of 1-based epochs, got ${JSON.stringify(validationFreq)}`,
    );
  }
  const yieldEveryMs = options.yieldEveryMs ?? YIELD_EVERY_MS;
  if (!(yieldEveryMs >= 0))
    throw new ArgumentError(
      `${where}: yieldEveryMs must be a non-negative number of milliseconds (or Infinity), got ${yieldEveryMs}`,
    );
  return {
    epochs,
    initialEpoch,
    yieldEveryMs,
    validateAfter: (epoch) =>
      Array.isArray(validationFreq) ? validationFreq.includes(epoch + 1) : (epoch + 1) % validationFreq === 0,
  };
}

export const emptyTotals = (): EpochTotals => ({ samples: 0, sums: {}, counts: {} });
export const averages = (t: EpochTotals): Logs =>
  Object.fromEntries(Object.entries(t.sums).map(([k, s]) => [k, s / t.counts[k]]));

/** Evaluates the validation data (given a turn-taker, to let the event loop run as the fit does). */
export type Validate = (yielder: Yielder) => Promise<Logs>;

/** Runs a fit of `model` over `source`: callbacks, context, interruption; the model is built and compiled. */
export async function runFit(
  model: Model,
  source: BatchSource,
  validate: Validate | null,
  options: LoopOptions,
  checked: CheckedLoopOptions,
): Promise<History> {
  const compiled = model.compiled!;
  const params = model.namedParams();
  compiled.optimizer.build(params);
  const verbose = options.verbose ?? 1;
  const callbacks = new CallbackList([
    ...(verbose > 0
      ? [
          new ProgressBar({
            verbose: verbose as 1 | 2,
            epochs: checked.epochs,
            stepsPerEpoch: source.steps ?? undefined,
          }),
        ]
      : []),
    ...(options.callbacks ?? []),
  ]);
  callbacks.setModel(model);
  model.stopTraining = false;
  const batchLogKeys = logKeys(compiled);
  const epochLogKeys = [
    ...batchLogKeys,
    ...(validate ? batchLogKeys.map((k) => `val_${k}`) : []),
    ...(callbacks.callbacks.some((c) => c.logsCheckpointOverhead) ? ['checkpoint_overhead'] : []),
  ];
  const context = new FitContext(
    {
      epochs: checked.epochs,
      steps: source.steps,
      samples: source.samples,
      batchSize: source.batchSize,
      verbose,
      initialEpoch: checked.initialEpoch,
      doValidation: validate !== null,
      metrics: epochLogKeys,
      batchMetrics: batchLogKeys,
    },
    source.state ?? null,
  );
  callbacks.setContext(context);
  model.interruption.begin();
  try {
    return await runEpochs(model, source, validate, callbacks, context, params, checked);
  } catch (error) {
    await callbacks.trainAbort(error);
    throw error;
  } finally {
    // Before the rejection reaches the caller: whoever waits in interrupt() acts first.
    model.interruption.end();
  }
}

/** Stops the fit here if `model.interrupt()` was called: at a batch boundary, after its callbacks. */
function checkInterrupt(model: Model, epoch: number, nextBatch: number): void {
  const reason = model.interruption.requested;
  if (reason !== null) throw new TrainingInterruptedError(reason, epoch, nextBatch);
}

async function runEpochs(
  model: Model,
  source: BatchSource,
  validate: Validate | null,
  callbacks: CallbackList,
  context: FitContext,
  params: NamedParams,
  { epochs, yieldEveryMs, validateAfter }: CheckedLoopOptions,
): Promise<History> {
  await callbacks.trainBegin({});
  const start = context.freezeStart();
  model.history.truncate(start.epoch);
  // Every ~50 ms of work the event loop gets a turn: signals, timers and a page's input are
  // not kept waiting for the epoch's next I/O (bench/interrupt.ts measures what it costs).
  const yielder = new Yielder(yieldEveryMs);
  checkInterrupt(model, start.epoch, start.batch);

  let lastLogs: Logs = {};
  context.consistentAt = { epoch: start.epoch, batch: start.batch };
  // An epoch's checkpoint_overhead: the share of the time since the last epoch's logs (its
  // end-of-epoch saves included) that saves blocked training.
  const logOverhead = callbacks.callbacks.some((c) => c.logsCheckpointOverhead);
  let windowStart = performance.now(),
    blockedBefore = context.checkpointMs;
  for (let epoch = start.epoch; epoch < epochs && !model.stopTraining; epoch++) {
    const resuming = epoch === start.epoch && start.batch > 0;
    const totals = resuming && start.totals ? structuredClone(start.totals) : emptyTotals();
    context.epoch = epoch;
    context.totals = totals;
    await callbacks.epochBegin(epoch, {});
    const first = resuming ? start.batch : 0;
    context.stepInFlight = true; // opening the epoch's data moves its position
    await source.openEpoch(epoch, first);
    for (let b = first; source.steps === null || b < source.steps; b++) {
      // From the fetch to the end of the step, the state may be half-way: no backup at an error.
      context.stepInFlight = true;
      const batch = await source.nextBatch();
      if (batch === null) {
        context.consistentAt = { epoch, batch: b };
        context.stepInFlight = false;
        break;
      }
      context.batch = b;
      const size = batch.xs[0].shape[0];
      await callbacks.batchBegin(b, { batch: b, size });
      trainBatch(model, params, batch, Random.derive(model.seed, STREAM.dropout, epoch, b), totals);
      context.stepsDone++;
      context.consistentAt = { epoch, batch: b + 1 };
      context.stepInFlight = false;
      await callbacks.batchEnd(b, { batch: b, size, ...averages(totals) });
      await yielder.maybeYield();
      checkInterrupt(model, epoch, b + 1);
      if (model.stopTraining) break; // as Keras: a callback may stop mid-epoch (TerminateOnNaN)
    }
    const logs = averages(totals);
    if (validate && validateAfter(epoch)) {
      const val = await validate(yielder);
      for (const [k, v] of Object.entries(val)) logs[`val_${k}`] = v;
    }
    // The rate the epoch ended with (a plateau callback lowers it after), as Keras's callbacks log it.
    if (callbacks.callbacks.some((c) => c.logsLearningRate))
      logs.learning_rate = model.compiled!.optimizer.learningRate;
    if (logOverhead) {
      const now = performance.now();
      logs.checkpoint_overhead = (context.checkpointMs - blockedBefore) / Math.max(now - windowStart, 1e-9);
      [windowStart, blockedBefore] = [now, context.checkpointMs];
    }
    model.history.record(epoch, logs);
    context.consistentAt = { epoch: epoch + 1, batch: 0 };
    context.stepInFlight = false;
    lastLogs = logs;
    await callbacks.epochEnd(epoch, logs);
    checkInterrupt(model, epoch + 1, 0);
  }
  // As Keras: an optimizer with `ema` leaves its averages in the weights (before onTrainEnd,
  // so EarlyStopping's restoreBestWeights still has the last word).
  if (epochs > 0) model.compiled!.optimizer.finalizeWeights(params);
  await callbacks.trainEnd(lastLogs);
  return model.history;
}

/**
 * One step: forward, backward, update, then the loss and metrics as numbers. It runs in a
 * buffer scope, so the next step computes into this one's activations and gradients
 * (kernels/buffers.ts); the gradients are dropped with them.
 */
function trainBatch(model: Model, params: NamedParams, batch: Batch, rng: Random, totals: EpochTotals): void {
  withBufferScope(() => {
    const compiled = model.compiled!;
    const outputs = model.forwardAll(batch.xs, { training: true, rng, logits: compiled.logits });
    const losses = outputLosses(model, batch.ys, outputs);
    const loss = totalLoss(model, losses);
    for (const [, p] of params) p.zeroGrad();
    loss.backward();
    noGrad(() => compiled.optimizer.applyGradients(params));
    addBatchLogs(model, totals, batch.ys, outputs, losses, loss);
    for (const [, p] of params) p.zeroGrad();
  });
}

/** Each output's loss (the mean over the batch). */
function outputLosses(model: Model, ys: Tensor[], outputs: Tensor[]): Tensor[] {
  return model.compiled!.outputs.map((o, i) => o.loss(ys[i], outputs[i], o.fromLogits));
}

/** What training minimizes: the outputs' losses times their weights, summed in output order (as Keras). */
function totalLoss(model: Model, losses: Tensor[]): Tensor {
  const weighted = model.compiled!.outputs.map((o, i) => (o.weight === 1 ? losses[i] : mul(losses[i], o.weight)));
  return weighted.slice(1).reduce((sum, l) => add(sum, l), weighted[0]);
}

/** Adds a batch's loss (weighted by its size), each output's loss (several outputs) and metrics to the running totals. */
function addBatchLogs(
  model: Model,
  totals: EpochTotals,
  ys: Tensor[],
  outputs: Tensor[],
  losses: Tensor[],
  loss: Tensor,
): void {
  const compiled = model.compiled!;
  const n = ys[0].shape[0];
  tally(totals, 'loss', loss.item() * n, n);
  compiled.outputs.forEach((o, i) => {
    if (compiled.outputs.length > 1) tally(totals, `${o.prefix}loss`, losses[i].item() * n, n);
    for (const m of o.metrics) {
      const { total, count } = m.fn(ys[i], outputs[i], o.fromLogits);
      tally(totals, o.prefix + m.name, total, count);
    }
  });
  totals.samples += n;
}

function tally(t: EpochTotals, key: string, sum: number, count: number): void {
  t.sums[key] = (t.sums[key] ?? 0) + sum;
  t.counts[key] = (t.counts[key] ?? 0) + count;
}

/** Loss and metrics over the batches `next` gives until null, giving the event loop a turn as fit does. */
export async function evaluateBatches(
  model: Model,
  next: () => Promise<Batch | null>,
  yielder: Yielder,
): Promise<Logs> {
  const compiled = model.compiled!;
  const totals = emptyTotals();
  const rng = new Random(model.seed);
  for (let batch = await next(); batch !== null; batch = await next()) {
    withBufferScope(() =>
      noGrad(() => {
        const outputs = model.forwardAll(batch.xs, { training: false, rng, logits: compiled.logits });
        const losses = outputLosses(model, batch.ys, outputs);
        addBatchLogs(model, totals, batch.ys, outputs, losses, totalLoss(model, losses));
      }),
    );
    await yielder.maybeYield();
  }
  return averages(totals);
}
