import { ArgumentError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import type { Shape } from '../tensor/shape.js';
import type { StateDict } from '../state/tree.js';
import { type LoadOptions, type Trackable, copyUnlessSame } from '../state/trackable.js';
import { CheckpointError } from '../state/errors.js';

export type NamedParams = ReadonlyArray<readonly [path: string, param: Tensor]>;

/**
 * Base of SGD and Adam. Per-parameter slots (momentum, m, v) are keyed by the parameter's
 * path (`layers/0/kernel`), never by object identity or position, and exist from `build`
 * on, so a fresh optimizer has the same state keys as a trained one.
 */
export abstract class Optimizer implements Trackable {
  abstract readonly className: string;
  iterations = 0;
  protected slots = new Map<string, Map<string, Float32Array>>();
  /** Each parameter's shape: a slot is stored with it (`m/layers/0/kernel` is [3,3,1,8], not [72]). */
  private readonly shapes = new Map<string, Shape>();

  protected abstract slotNames(): string[];
  protected abstract update(param: Float32Array, grad: Float32Array, slots: Float32Array[], t: number): void;
  abstract getConfig(): Record<string, number | boolean>;

  /** Creates zeroed slots for every parameter (idempotent). */
  build(params: NamedParams): void {
    for (const [path, p] of params) if (!this.shapes.has(path)) this.shapes.set(path, [...p.shape]);
    for (const name of this.slotNames()) {
      const bySlot = this.slots.get(name) ?? new Map<string, Float32Array>();
      for (const [path, p] of params) if (!bySlot.has(path)) bySlot.set(path, new Float32Array(p.size));
      this.slots.set(name, bySlot);
    }
  }

  /** One update of every parameter that has a gradient, in place. */
  applyGradients(params: NamedParams): void {
    this.build(params);
    const t = ++this.iterations;
    const names = this.slotNames();
    for (const [path, p] of params) {
      if (p.grad === null) continue;
      this.update(p.data, p.grad.data, names.map((n) => this.slots.get(n)!.get(path)!), t);
    }
  }

  stateDict(): StateDict {
    const state: StateDict = { className: this.className, config: this.getConfig(), iterations: this.iterations };
    for (const [name, bySlot] of this.slots) state[name] = nest(bySlot, this.shapes);
    return state;
  }

  loadStateDict(state: StateDict, options: LoadOptions = {}): void {
    const strict = options.strict ?? true;
    if (strict) this.checkConfig(state);
    if (typeof state.iterations === 'number') this.iterations = state.iterations;
    for (const [name, bySlot] of this.slots) {
      for (const [path, arr] of bySlot) {
        const saved = lookup(state[name], path);
        if (saved === undefined) {
          if (strict) throw new CheckpointError('MISSING_KEYS', `${this.className} has no saved '${name}' for ${path}`, { entry: `${name}/${path}` });
          continue;
        }
        const shape = this.shapes.get(path)!;
        const data = saved instanceof Float32Array ? saved : (saved as Tensor).data;
        // Files before slots kept their parameter's shape hold them flattened: read as before.
        const savedShape = saved instanceof Tensor ? saved.shape : [data.length];
        const fits = data.length === arr.length && (savedShape.length === 1 || sameShape(savedShape, shape));
        if (!fits) {
          throw new CheckpointError('SHAPE_MISMATCH', `${this.className} slot '${name}' for ${path}: shape [${shape.join(', ')}] expected, [${savedShape.join(', ')}] saved`, { entry: `${name}/${path}` });
        }
        copyUnlessSame(data, arr);
      }
    }
  }

  /** Refuses state saved by another optimizer type or with other hyperparameters, saying what differs. */
  private checkConfig(state: StateDict): void {
    const diffs: string[] = [];
    if (state.className !== undefined && state.className !== this.className) diffs.push(`type: saved ${String(state.className)}, this is ${this.className}`);
    const saved = (state.config ?? {}) as Record<string, unknown>;
    for (const [k, v] of Object.entries(this.getConfig())) {
      if (k in saved && saved[k] !== v) diffs.push(`${k}: saved ${String(saved[k])}, this is ${String(v)}`);
    }
    if (diffs.length) throw new CheckpointError('SHAPE_MISMATCH', `optimizer config differs — ${diffs.join('; ')} (load with { strict: false } to keep this config)`);
  }
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

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

export function checkRate(owner: string, name: string, value: number, { min = 0, max = Infinity, open = false } = {}): number {
  if (!(typeof value === 'number' && (open ? value > min : value >= min) && value <= max)) {
    throw new ArgumentError(`${owner}: ${name} must be in ${open ? '(' : '['}${min}, ${max}${max === Infinity ? ')' : ']'}, got ${value}`);
  }
  return value;
}
