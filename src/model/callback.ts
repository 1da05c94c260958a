import { ArgumentError } from '../errors.js';
import type { Logs } from './history.js';
import type { Model } from './model.js';
import type { Trackable } from '../state/trackable.js';

/** Running sums of an epoch's loss and metrics, weighted by batch size; serializable for resume. */
export interface EpochTotals {
  samples: number;
  sums: Record<string, number>;
  counts: Record<string, number>;
}

/**
 * What the running fit does, as Keras's callback `params` (`set_params`) and TensorFlow.js's
 * `setParams`: fixed for the whole fit.
 */
export interface FitParams {
  epochs: number;
  /** Batches per epoch; null when an epoch lasts until its dataset ends. */
  steps: number | null;
  /** Samples per epoch, when known. */
  samples: number | null;
  /** null when a dataset's batches are made before the fit (fitDataset). */
  batchSize: number | null;
  verbose: 0 | 1 | 2;
  /** The epoch the caller asked to start at (a callback may move the start: `FitContext.resumeAt`). */
  initialEpoch: number;
  doValidation: boolean;
  /** Log keys at the end of each epoch (validation keys included). */
  metrics: string[];
  /** Log keys at the end of each batch. */
  batchMetrics: string[];
}

/** Where a fit starts: an epoch, the batch within it, and that epoch's totals so far. */
export interface FitStart {
  epoch: number;
  batch: number;
  /** The running totals of the batches before `batch` (null when `batch` is 0). */
  totals: EpochTotals | null;
  /** Batches trained since epoch 0 before this start (by default epoch × steps + batch). */
  stepsDone?: number;
}

/**
 * The fit as callbacks see it: its params, where it starts, and where it is. The start can be
 * moved only while callbacks run `onTrainBegin` (BackupAndRestore does, to continue a killed
 * run at its next batch); afterwards the fit reads it once.
 */
export class FitContext {
  /** The epoch being trained, and the batch (0-based) being or last trained in it. */
  epoch: number;
  batch = 0;
  /** The running totals of the epoch being trained (a mid-epoch backup saves them). */
  totals: EpochTotals = { samples: 0, sums: {}, counts: {} };
  private startAt: FitStart;
  private movable = true;
  private deferred: Array<() => void> = [];
  /** Whether a callback moved the start (a resume): CSVLogger then drops the rows it replays. */
  resumed = false;
  /** Batches trained since epoch 0: TensorBoard's step, a backup's number. */
  stepsDone = 0;
  /**
   * Where the model's state is whole: the position (next epoch and batch) that the weights,
   * optimizer, totals, history and data position all agree on — what a backup at an error
   * saves. Null until training starts.
   */
  consistentAt: { epoch: number; batch: number } | null = null;
  /** True from a batch's fetch (or an epoch's opening) to the end of its step: the state may be half-applied. */
  stepInFlight = false;
  /** Milliseconds the fit was blocked by checkpoint saves so far (what `checkpoint_overhead` divides). */
  checkpointMs = 0;

  /**
   * `data`: what a backup must keep of the training data to continue at the next batch (a
   * dataset's position and its shuffles' passes); null when the data is tensors in memory.
   */
  constructor(
    readonly params: FitParams,
    readonly data: Trackable | null = null,
  ) {
    this.startAt = { epoch: params.initialEpoch, batch: 0, totals: null };
    this.epoch = params.initialEpoch;
    this.stepsDone = params.initialEpoch * (params.steps ?? 0);
  }

  get start(): Readonly<FitStart> {
    return this.startAt;
  }

  /** Moves the start (from `onTrainBegin` only). */
  resumeAt(start: FitStart): void {
    if (!this.movable) throw new ArgumentError('FitContext.resumeAt: the start can only be moved in onTrainBegin');
    const { epochs, steps } = this.params;
    if (!(Number.isInteger(start.epoch) && start.epoch >= 0 && start.epoch <= epochs)) {
      throw new ArgumentError(`FitContext.resumeAt: epoch must be an integer in [0, ${epochs}], got ${start.epoch}`);
    }
    if (!(Number.isInteger(start.batch) && start.batch >= 0 && start.batch <= (steps ?? Infinity))) {
      throw new ArgumentError(
        `FitContext.resumeAt: batch must be an integer in [0, ${steps ?? 'the batches of an epoch'}] (batches per epoch), got ${start.batch}`,
      );
    }
    const stepsDone = start.stepsDone ?? start.epoch * (steps ?? 0) + start.batch;
    this.startAt = { ...start, stepsDone, totals: start.batch > 0 ? start.totals : null };
    this.resumed = true;
  }

  /**
   * Runs `action` once every callback's onTrainBegin has run: for state that those hooks
   * reset (BackupAndRestore gives the other callbacks their saved state this way).
   */
  afterTrainBegin(action: () => void): void {
    if (!this.movable) throw new ArgumentError('FitContext.afterTrainBegin: training has begun');
    this.deferred.push(action);
  }

  /** Called by the fit loop once onTrainBegin has run. */
  freezeStart(): FitStart {
    for (const action of this.deferred.splice(0)) action();
    this.movable = false;
    this.epoch = this.startAt.epoch;
    this.batch = this.startAt.batch;
    this.stepsDone = this.startAt.stepsDone ?? this.stepsDone;
    return this.startAt;
  }
}

/**
 * Base class of callbacks: every hook is an async no-op, awaited by the fit loop. Set
 * `model.stopTraining = true` to stop after the current epoch. During a fit, `params` and
 * `context` describe it (null outside one: hooks called by hand get what they are given).
 */
export class Callback {
  model!: Model;
  params: FitParams | null = null;
  context: FitContext | null = null;
  /** Every callback of the running fit (BackupAndRestore saves and restores their state). */
  peers: readonly Callback[] = [];
  /** Whether the fit should log the learning rate (`learning_rate`) at each epoch end, for this callback. */
  readonly logsLearningRate: boolean = false;
  /** Whether the fit should log `checkpoint_overhead` at each epoch end (a saving callback's `logOverhead`). */
  readonly logsCheckpointOverhead: boolean = false;

  setModel(model: Model): void {
    this.model = model;
  }

  setParams(params: FitParams): void {
    this.params = params;
  }

  /** Gives the callback the running fit's context (and so its params). */
  setContext(context: FitContext): void {
    this.context = context;
    this.setParams(context.params);
  }

  async onTrainBegin(_logs?: Logs): Promise<void> {}
  async onTrainEnd(_logs?: Logs): Promise<void> {}
  /** Not in Keras: training failed with `error` (a callback threw, a save failed, an interrupt); release resources. */
  async onTrainAbort(_error: unknown): Promise<void> {}
  async onEpochBegin(_epoch: number, _logs?: Logs): Promise<void> {}
  async onEpochEnd(_epoch: number, _logs?: Logs): Promise<void> {}
  async onBatchBegin(_batch: number, _logs?: Logs): Promise<void> {}
  async onBatchEnd(_batch: number, _logs?: Logs): Promise<void> {}
}

/** A callback as TensorFlow.js accepts it: a plain object with any of the hooks, each sync or async. */
export type CallbackHooks = {
  [K in 'onTrainBegin' | 'onTrainEnd' | 'onEpochBegin' | 'onEpochEnd' | 'onBatchBegin' | 'onBatchEnd']?: K extends
    'onTrainBegin' | 'onTrainEnd'
    ? (logs?: Logs) => void | Promise<void>
    : (index: number, logs?: Logs) => void | Promise<void>;
};

const HOOKS = ['onTrainBegin', 'onTrainEnd', 'onEpochBegin', 'onEpochEnd', 'onBatchBegin', 'onBatchEnd'] as const;

/** The hooks of a plain object, as a Callback (TensorFlow.js's CustomCallback). */
class HooksCallback extends Callback {
  constructor(hooks: CallbackHooks) {
    super();
    for (const name of HOOKS) {
      const hook = hooks[name] as ((...args: unknown[]) => unknown) | undefined;
      if (hook === undefined) continue;
      if (typeof hook !== 'function')
        throw new ArgumentError(`callback: ${name} must be a function, got ${typeof hook}`);
      this[name] = async (...args: unknown[]) => {
        await hook.apply(hooks, args);
      };
    }
  }
}

/** A Callback as it is, a plain object of hooks wrapped as one. */
export function asCallback(c: Callback | CallbackHooks): Callback {
  if (c instanceof Callback) return c;
  if (typeof c !== 'object' || c === null)
    throw new ArgumentError(
      `callbacks: expected a Callback or an object of hooks, got ${c === null ? 'null' : typeof c}`,
    );
  const unknown = Object.keys(c).filter((k) => k.startsWith('on') && !(HOOKS as readonly string[]).includes(k));
  if (unknown.length)
    throw new ArgumentError(
      `callbacks: unknown hook ${unknown.map((k) => `'${k}'`).join(', ')} (hooks: ${HOOKS.join(', ')})`,
    );
  return new HooksCallback(c);
}

/** Calls each callback's hook in order, awaiting each. */
export class CallbackList {
  readonly callbacks: Callback[];

  constructor(callbacks: Array<Callback | CallbackHooks> = []) {
    this.callbacks = callbacks.map(asCallback);
  }

  setModel(model: Model): void {
    for (const c of this.callbacks) {
      c.setModel(model);
      c.peers = this.callbacks;
    }
  }

  setContext(context: FitContext): void {
    for (const c of this.callbacks) c.setContext(context);
  }

  // As Keras's CallbackList, a hook called without logs passes {} (a callback may read it unguarded).
  async trainBegin(logs: Logs = {}) {
    for (const c of this.callbacks) await c.onTrainBegin(logs);
  }
  async trainEnd(logs: Logs = {}) {
    for (const c of this.callbacks) await c.onTrainEnd(logs);
  }
  async trainAbort(error: unknown) {
    for (const c of this.callbacks) await c.onTrainAbort(error).catch(() => undefined);
  }
  async epochBegin(epoch: number, logs: Logs = {}) {
    for (const c of this.callbacks) await c.onEpochBegin(epoch, logs);
  }
  async epochEnd(epoch: number, logs: Logs = {}) {
    for (const c of this.callbacks) await c.onEpochEnd(epoch, logs);
  }
  async batchBegin(batch: number, logs: Logs = {}) {
    for (const c of this.callbacks) await c.onBatchBegin(batch, logs);
  }
  async batchEnd(batch: number, logs: Logs = {}) {
    for (const c of this.callbacks) await c.onBatchEnd(batch, logs);
  }
}
