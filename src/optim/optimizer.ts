import { ArgumentError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import type { Shape } from '../tensor/shape.js';
import type { StateDict } from '../state/tree.js';
import { type LoadOptions, type Trackable, copyUnlessSame } from '../state/trackable.js';
import { CheckpointError } from '../state/errors.js';
import { backend } from '../backend/index.js';
import { LearningRateSchedule, type ScheduleConfig, scheduleFromConfig } from './schedules.js';

export type NamedParams = ReadonlyArray<readonly [path: string, param: Tensor]>;

/** What every optimizer takes, as Keras's base optimizer. At most one of the clipping options. */
export interface OptimizerConfig {
  learningRate?: number | LearningRateSchedule;
  /** Scale each gradient down to at most this L2 norm. */
  clipnorm?: number;
  /** Clip each gradient element to [-clipvalue, clipvalue]. */
  clipvalue?: number;
  /** Scale all gradients together down to at most this global L2 norm. */
  globalClipnorm?: number;
  /** Decoupled weight decay: p ← p − p·weightDecay·lr before each update (every parameter). */
  weightDecay?: number;
  /**
   * Keep an exponential moving average of the weights (Keras's `use_ema`): after each step
   * average ← momentum·average + (1 − momentum)·weight (the first step copies the weight);
   * every `overwriteFrequency` steps the weights take their averages; and `fit` ends with
   * the averages in the weights, as Keras's does. The averages are state: checkpoints keep
   * them (`optimizer/ema/...`) beside the raw weights.
   */
  ema?: EmaConfig;
}

export interface EmaConfig {
  /** Default 0.99 (Keras's `ema_momentum`). */
  momentum?: number;
  /** Copy the averages into the weights every this many steps (Keras's `ema_overwrite_frequency`); default never. */
  overwriteFrequency?: number;
}

/** An optimizer's config as saved: numbers and flags, and a schedule as `{ className, config }`. */
export type OptimizerConfigJson = Record<
  string,
  number | boolean | { className: string; config: ScheduleConfig } | { momentum: number; overwriteFrequency?: number }
>;

/** The state key of the weights' moving averages (beside the slots: `ema/layers/0/kernel`). */
const EMA = 'ema';

/**
 * Base of every optimizer. Per-parameter slots (momentum, m, v) are keyed by the parameter's
 * path (`layers/0/kernel`), never by object identity or position, and exist from `build`
 * on, so a fresh optimizer has the same state keys as a trained one. As in Keras, a step
 * clips the gradients, applies weight decay, then updates, at the learning rate of the
 * step before it (a schedule's value at `iterations`).
 */
export abstract class Optimizer implements Trackable {
  abstract readonly className: string;
  iterations = 0;
  protected slots = new Map<string, Map<string, Float32Array>>();
  /** Each parameter's shape: a slot is stored with it (`m/layers/0/kernel` is [3,3,1,8], not [72]). */
  private readonly shapes = new Map<string, Shape>();
  /** The rate given at construction (the config), and the one in use (state: callbacks change it). */
  private readonly initialRate: number | LearningRateSchedule;
  private rate: number;
  readonly clipnorm?: number;
  readonly clipvalue?: number;
  readonly globalClipnorm?: number;
  readonly weightDecay?: number;
  readonly ema?: { momentum: number; overwriteFrequency?: number };

  protected constructor(owner: string, config: OptimizerConfig, defaultLearningRate: number) {
    const lr = config.learningRate ?? defaultLearningRate;
    if (!(lr instanceof LearningRateSchedule)) checkRate(owner, 'learningRate', lr, { open: true });
    this.initialRate = lr;
    this.rate = lr instanceof LearningRateSchedule ? NaN : Math.fround(lr);
    const clips = (['clipnorm', 'clipvalue', 'globalClipnorm'] as const).filter(
      (k) => config[k] !== undefined && config[k] !== null,
    );
    if (clips.length > 1)
      throw new ArgumentError(
        `${owner}: give at most one of clipnorm, clipvalue and globalClipnorm, got ${clips.join(' and ')}`,
      );
    for (const k of clips) this[k] = checkRate(owner, k, config[k]!, { open: true });
    if (config.weightDecay !== undefined && config.weightDecay !== null)
      this.weightDecay = checkRate(owner, 'weightDecay', config.weightDecay);
    if (config.ema !== undefined && config.ema !== null) this.ema = checkEma(owner, config.ema);
  }

  /** The learning rate of the next step: the schedule's value at `iterations`, or the plain rate. */
  get learningRate(): number {
    return this.initialRate instanceof LearningRateSchedule ? this.initialRate.call(this.iterations) : this.rate;
  }

  /** Sets a plain learning rate (stored as float32, as Keras's variable); a schedule's is not settable. */
  set learningRate(value: number) {
    if (this.initialRate instanceof LearningRateSchedule) {
      throw new ArgumentError(
        `${this.className}: the learning rate follows a ${this.initialRate.className} schedule and cannot be set (give a number as learningRate to set it)`,
      );
    }
    this.rate = Math.fround(checkRate(this.className, 'learningRate', value));
  }

  /** The schedule the learning rate follows, or null for a plain rate. */
  get schedule(): LearningRateSchedule | null {
    return this.initialRate instanceof LearningRateSchedule ? this.initialRate : null;
  }

  protected abstract slotNames(): string[];
  protected abstract update(
    param: Float32Array,
    grad: Float32Array,
    slots: Float32Array[],
    t: number,
    lr: number,
  ): void;
  /** The optimizer's own hyperparameters (the base adds the learning rate, clipping and weight decay). */
  protected abstract ownConfig(): Record<string, number | boolean>;
  /** A slot's value before the first step (Adagrad starts its accumulators above 0). */
  protected slotInitialValue(_name: string): number {
    return 0;
  }

  getConfig(): OptimizerConfigJson {
    const lr =
      this.initialRate instanceof LearningRateSchedule
        ? { className: this.initialRate.className, config: this.initialRate.getConfig() }
        : this.initialRate;
    const extra: OptimizerConfigJson = {};
    for (const k of ['clipnorm', 'clipvalue', 'globalClipnorm', 'weightDecay'] as const)
      if (this[k] !== undefined) extra[k] = this[k]!;
    if (this.ema !== undefined) extra.ema = { ...this.ema };
    return { learningRate: lr, ...this.ownConfig(), ...extra };
  }

  /** Creates slots for every parameter (idempotent); only the parameters' shapes are read. */
  build(params: ReadonlyArray<readonly [string, { readonly shape: readonly number[]; readonly size: number }]>): void {
    for (const [path, p] of params) if (!this.shapes.has(path)) this.shapes.set(path, [...p.shape]);
    const names = this.slotNames();
    for (const name of names) if (!this.slots.has(name)) this.slots.set(name, new Map());
    for (const [path, p] of params) {
      if (names.length === 0 || this.slots.get(names[0])!.has(path)) continue;
      this.newSlots(p.size).forEach((slot, i) => this.slots.get(names[i])!.set(path, slot));
    }
    if (this.ema === undefined) return;
    const averages = this.slots.get(EMA) ?? this.slots.set(EMA, new Map()).get(EMA)!;
    for (const [path, p] of params) if (!averages.has(path)) averages.set(path, backend().emaAverage(p.size));
  }

  /**
   * Before a restore: slots for the parameters the file has slots of, shaped as saved, so that
   * a fresh optimizer (no step taken, `build` never called) restores as the trained one.
   */
  prepareRestore(entries: ReadonlyArray<{ key: string; shape: readonly number[] | null }>): void {
    const names = new Set([...this.slotNames(), ...(this.ema ? [EMA] : [])]);
    const shapes = new Map<string, number[]>();
    for (const { key, shape } of entries) {
      const at = key.indexOf('/');
      if (at > 0 && shape !== null && names.has(key.slice(0, at))) shapes.set(key.slice(at + 1), [...shape]);
    }
    this.build([...shapes].map(([path, shape]) => [path, { shape, size: shape.reduce((a, b) => a * b, 1) }]));
  }

  /** One array per slot name for a parameter of `size` values, at the slot's initial value. */
  protected newSlots(size: number): Float32Array[] {
    return this.slotNames().map((name) => new Float32Array(size).fill(this.slotInitialValue(name)));
  }

  /** One update of every parameter that has a gradient, in place. */
  applyGradients(params: NamedParams): void {
    this.build(params);
    const lr = this.learningRate;
    const t = ++this.iterations;
    const names = this.slotNames();
    const withGrads = params.filter(([, p]) => p.grad !== null);
    const grads = this.clipped(withGrads.map(([, p]) => p.grad!.data));
    withGrads.forEach(([path, p], i) => {
      if (this.weightDecay) {
        const keep = 1 - this.weightDecay * lr;
        for (let j = 0; j < p.data.length; j++) p.data[j] *= keep;
      }
      this.update(
        p.data,
        grads[i],
        names.map((n) => this.slots.get(n)!.get(path)!),
        t,
        lr,
      );
    });
    if (this.ema) this.updateAverages(params, t);
  }

  /**
   * Keras's moving average, in float32 as it computes it: momentum·average + (1 − momentum)·
   * weight, each product rounded, then the sum; momentum 0 on the first step. Every
   * `overwriteFrequency` steps the weights take the averages.
   */
  private updateAverages(params: NamedParams, t: number): void {
    const { momentum, overwriteFrequency } = this.ema!;
    const m = t === 1 ? 0 : Math.fround(momentum),
      rest = Math.fround(1 - m);
    const averages = this.slots.get(EMA)!;
    const overwrite = overwriteFrequency !== undefined && t % overwriteFrequency === 0;
    for (const [path, p] of params) {
      const average = averages.get(path)!;
      backend().emaUpdate(average, p.data, m, rest);
      if (overwrite) p.data.set(average);
    }
  }

  /** The weights' moving averages by parameter path (empty without `ema`, or before the first step). */
  get averages(): ReadonlyMap<string, Float32Array> {
    return this.slots.get(EMA) ?? new Map();
  }

  /** The end of a fit (Keras's `finalize_variable_values`): with `ema`, the weights take their averages. */
  finalizeWeights(params: NamedParams): void {
    if (this.ema === undefined || this.iterations === 0) return;
    for (const [path, p] of params) {
      const average = this.averages.get(path);
      if (average !== undefined) p.data.set(average);
    }
  }

  /** Keras's clipping: per-gradient norm, else global norm, else per-value; new arrays, the gradients stay as computed. */
  private clipped(grads: Float32Array[]): Float32Array[] {
    const norm = (g: Float32Array) => Math.sqrt(g.reduce((n, v) => n + v * v, 0));
    if (this.clipnorm) {
      const c = this.clipnorm;
      return grads.map((g) => {
        const n = Math.max(norm(g), c);
        return g.map((v) => (v * c) / n);
      });
    }
    if (this.globalClipnorm) {
      const total = Math.sqrt(grads.reduce((n, g) => n + norm(g) ** 2, 0));
      // As Keras: a non-finite norm makes every gradient NaN rather than silently unclipped.
      const scale = this.globalClipnorm * Math.min(1 / total, 1 / this.globalClipnorm) + (total - total);
      return grads.map((g) => g.map((v) => v * scale));
    }
    if (this.clipvalue) {
      const c = this.clipvalue;
      return grads.map((g) => g.map((v) => Math.min(c, Math.max(-c, v))));
    }
    return grads;
  }

  stateDict(): StateDict {
    const state: StateDict = {
      className: this.className,
      config: this.getConfig() as StateDict,
      iterations: this.iterations,
      learningRate: this.learningRate,
    };
    for (const [name, bySlot] of this.slots) state[name] = nest(bySlot, this.shapes);
    return state;
  }

  loadStateDict(state: StateDict, options: LoadOptions = {}): void {
    const strict = options.strict ?? true;
    if (strict) this.checkConfig(state);
    if (typeof state.iterations === 'number') this.iterations = state.iterations;
    // The rate in use (a callback may have lowered it); a schedule's follows from iterations.
    if (typeof state.learningRate === 'number' && this.schedule === null) this.rate = Math.fround(state.learningRate);
    for (const [name, bySlot] of this.slots) {
      for (const [path, arr] of bySlot) {
        const saved = lookup(state[name], path);
        if (saved === undefined) {
          if (strict)
            throw new CheckpointError('MISSING_KEYS', `${this.className} has no saved '${name}' for ${path}`, {
              entry: `${name}/${path}`,
            });
          continue;
        }
        const shape = this.shapes.get(path)!;
        const data = saved instanceof Float32Array ? saved : (saved as Tensor).data;
        // Files before slots kept their parameter's shape hold them flattened: read as before.
        const savedShape = saved instanceof Tensor ? saved.shape : [data.length];
        const fits = data.length === arr.length && (savedShape.length === 1 || sameShape(savedShape, shape));
        if (!fits) {
          throw new CheckpointError(
            'SHAPE_MISMATCH',
            `${this.className} slot '${name}' for ${path}: shape [${shape.join(', ')}] expected, [${savedShape.join(', ')}] saved`,
            { entry: `${name}/${path}` },
          );
        }
        copyUnlessSame(data, arr);
      }
    }
  }

  /** Refuses state saved by another optimizer type or with other hyperparameters, saying what differs. */
  private checkConfig(state: StateDict): void {
    const diffs: string[] = [];
    if (state.className !== undefined && state.className !== this.className)
      diffs.push(`type: saved ${String(state.className)}, this is ${this.className}`);
    const saved = (state.config ?? {}) as Record<string, unknown>;
    const text = (v: unknown) => (typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v));
    for (const [k, v] of Object.entries(this.getConfig())) {
      if (k in saved && text(saved[k]) !== text(v)) diffs.push(`${k}: saved ${text(saved[k])}, this is ${text(v)}`);
    }
    if (diffs.length)
      throw new CheckpointError(
        'SHAPE_MISMATCH',
        `optimizer config differs — ${diffs.join('; ')} (load with { strict: false } to keep this config)`,
      );
  }
}

const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

function nest(bySlot: Map<string, Float32Array>, shapes: Map<string, Shape>): StateDict {
  const root: StateDict = {};
  for (const [path, arr] of bySlot) {
    const parts = path.split('/');
    let node = root;
    for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as StateDict;
    node[parts[parts.length - 1]] = new Tensor(arr, [...shapes.get(path)!]);
  }
  return root;
}

function lookup(tree: unknown, path: string): unknown {
  let node = tree;
  for (const part of path.split('/')) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

export function checkRate(
  owner: string,
  name: string,
  value: number,
  { min = 0, max = Infinity, open = false } = {},
): number {
  if (!(typeof value === 'number' && (open ? value > min : value >= min) && value <= max)) {
    throw new ArgumentError(
      `${owner}: ${name} must be in ${open ? '(' : '['}${min}, ${max}${max === Infinity ? ')' : ']'}, got ${value}`,
    );
  }
  return value;
}

function checkEma(owner: string, ema: EmaConfig): { momentum: number; overwriteFrequency?: number } {
  if (typeof ema !== 'object')
    throw new ArgumentError(
      `${owner}: ema must be an object { momentum?, overwriteFrequency? }, got ${JSON.stringify(ema)}`,
    );
  const momentum = checkRate(owner, 'ema.momentum', ema.momentum ?? 0.99, { max: 1 });
  const every = ema.overwriteFrequency;
  if (every === undefined || every === null) return { momentum };
  if (!(Number.isInteger(every) && every >= 1))
    throw new ArgumentError(`${owner}: ema.overwriteFrequency must be an integer of at least 1, got ${every}`);
  return { momentum, overwriteFrequency: every };
}

/** The learning rate of a saved config: a number, or a schedule rebuilt from its config. */
export function learningRateFromConfig(lr: unknown): number | LearningRateSchedule | undefined {
  if (lr === undefined || typeof lr === 'number') return lr;
  return scheduleFromConfig(lr as { className: string; config: ScheduleConfig });
}
