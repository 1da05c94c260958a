import { ShapeError, fmtShape } from '../errors.js';
import { type Shape, checkShape, sizeOf } from './shape.js';
import type { Random } from './random.js';
import * as ops from './ops.js';
import { defaultRandom } from './random.js';
import { allocate, copyOut } from '../../kernels/buffers.js';

const copy = (a: Float32Array) => copyOut(a, 0, a.length);

export type NestedArray = number | NestedArray[];
export type TensorLike = Tensor | number;
export type BackwardFn = (grad: Float32Array) => ReadonlyArray<Float32Array | null>;

let gradDisabled = 0;

/** True while ops should record the graph for backward. */
export function isGradEnabled(): boolean {
  return gradDisabled === 0;
}

/** Runs `fn` without recording the graph (evaluation, predict, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  gradDisabled++;
  try {
    return fn();
  } finally {
    gradDisabled--;
  }
}

/**
 * A float32 n-d array, row-major, that remembers how it was computed so that
 * `backward()` can push gradients to every input that requires them.
 */
export class Tensor {
  readonly data: Float32Array;
  readonly shape: number[];
  requiresGrad: boolean;
  grad: Tensor | null = null;
  /** The tensors this one was computed from, and how to turn this tensor's gradient into theirs. */
  private parents: Tensor[] = [];
  private backwardFn: BackwardFn | null = null;

  constructor(data: Float32Array, shape: Shape, requiresGrad = false) {
    checkShape('tensor', shape);
    if (data.length !== sizeOf(shape)) {
      throw new ShapeError('tensor', `${data.length} values do not fill shape ${fmtShape(shape)}`);
    }
    this.data = data;
    this.shape = [...shape];
    this.requiresGrad = requiresGrad;
  }

  get size(): number {
    return this.data.length;
  }

  get rank(): number {
    return this.shape.length;
  }

  /**
   * Wires a freshly computed tensor into the graph when recording is on and an input
   * requires a gradient. `backward` maps the output's gradient to one per parent
   * (null where a parent needs none); it may return the incoming array itself.
   */
  static record(out: Tensor, parents: Tensor[], backward: BackwardFn): Tensor {
    if (isGradEnabled() && parents.some((p) => p.requiresGrad)) {
      out.requiresGrad = true;
      out.parents = parents;
      out.backwardFn = backward;
    }
    return out;
  }

  /** Reverse-mode differentiation from this tensor; a non-scalar needs an explicit seed. */
  backward(seed?: Tensor): void {
    if (seed === undefined && this.size !== 1) {
      throw new ShapeError(
        'backward',
        `output has shape ${fmtShape(this.shape)}: pass a gradient or reduce to a scalar`,
      );
    }
    if (seed !== undefined && seed.size !== this.size) {
      throw new ShapeError(
        'backward',
        `gradient shape ${fmtShape(seed.shape)} does not match output ${fmtShape(this.shape)}`,
      );
    }
    const order = this.topologicalOrder();
    // Gradients of intermediate nodes live only for this pass; leaves keep (and accumulate) theirs.
    const grads = new Map<Tensor, Float32Array>();
    grads.set(this, seed ? copy(seed.data) : allocate(this.size).fill(1));
    for (let i = order.length - 1; i >= 0; i--) {
      const node = order[i];
      const g = grads.get(node);
      if (g === undefined) continue;
      grads.delete(node);
      if (node.backwardFn === null) {
        node.accumulateGrad(g);
        continue;
      }
      const parentGrads = node.backwardFn(g);
      let handedOn = false; // `g` itself may go to one parent; others get a copy.
      node.parents.forEach((p, k) => {
        let pg = parentGrads[k];
        if (pg === null || !p.requiresGrad) return;
        if (pg === g) {
          if (handedOn) pg = copy(g);
          handedOn = true;
        }
        const prev = grads.get(p);
        if (prev === undefined) grads.set(p, pg);
        else for (let j = 0; j < prev.length; j++) prev[j] += pg[j];
      });
    }
  }

  /** Adds `g` (owned by the caller no more) into this leaf's gradient. */
  private accumulateGrad(g: Float32Array): void {
    if (this.grad === null) {
      this.grad = new Tensor(g, this.shape);
      return;
    }
    const acc = this.grad.data;
    for (let i = 0; i < acc.length; i++) acc[i] += g[i];
  }

  private topologicalOrder(): Tensor[] {
    const order: Tensor[] = [];
    const visited = new Set<Tensor>();
    // Iterative DFS: deep graphs (long training loops unrolled by hand) must not overflow the stack.
    const stack: Array<[Tensor, number]> = [[this, 0]];
    visited.add(this);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const [node, next] = top;
      if (next < node.parents.length) {
        top[1]++;
        const p = node.parents[next];
        if (p.requiresGrad && !visited.has(p)) {
          visited.add(p);
          stack.push([p, 0]);
        }
      } else {
        stack.pop();
        order.push(node);
      }
    }
    return order;
  }

  /** A leaf copy without graph history. */
  detach(): Tensor {
    return new Tensor(this.data, this.shape);
  }

  clone(): Tensor {
    return new Tensor(this.data.slice(), this.shape, this.requiresGrad);
  }

  zeroGrad(): void {
    this.grad = null;
  }

  item(): number {
    if (this.size !== 1) throw new ShapeError('item', `tensor of shape ${fmtShape(this.shape)} is not a scalar`);
    return this.data[0];
  }

  toArray(): NestedArray {
    if (this.shape.length === 0) return this.data[0];
    const build = (dim: number, offset: number, stride: number): NestedArray[] => {
      const n = this.shape[dim];
      const inner = stride / n;
      const out: NestedArray[] = [];
      for (let i = 0; i < n; i++) {
        out.push(dim === this.shape.length - 1 ? this.data[offset + i] : build(dim + 1, offset + i * inner, inner));
      }
      return out;
    };
    return build(0, 0, this.size);
  }

  toString(): string {
    return `Tensor(${fmtShape(this.shape)}) ${JSON.stringify(this.toArray())}`;
  }

  add(b: TensorLike): Tensor {
    return ops.add(this, b);
  }
  sub(b: TensorLike): Tensor {
    return ops.sub(this, b);
  }
  mul(b: TensorLike): Tensor {
    return ops.mul(this, b);
  }
  div(b: TensorLike): Tensor {
    return ops.div(this, b);
  }
  pow(b: TensorLike): Tensor {
    return ops.pow(this, b);
  }
  neg(): Tensor {
    return ops.neg(this);
  }
  exp(): Tensor {
    return ops.exp(this);
  }
  log(): Tensor {
    return ops.log(this);
  }
  sqrt(): Tensor {
    return ops.sqrt(this);
  }
  relu(): Tensor {
    return ops.relu(this);
  }
  sigmoid(): Tensor {
    return ops.sigmoid(this);
  }
  tanh(): Tensor {
    return ops.tanh(this);
  }
  sum(axis?: number | number[], keepDims = false): Tensor {
    return ops.sum(this, axis, keepDims);
  }
  mean(axis?: number | number[], keepDims = false): Tensor {
    return ops.mean(this, axis, keepDims);
  }
  max(axis?: number, keepDims = false): Tensor {
    return ops.max(this, axis, keepDims);
  }
  reshape(shape: number[]): Tensor {
    return ops.reshape(this, shape);
  }
  transpose(perm?: number[]): Tensor {
    return ops.transpose(this, perm);
  }
  matmul(b: Tensor): Tensor {
    return ops.matmul(this, b);
  }
  softmax(axis = -1): Tensor {
    return ops.softmax(this, axis);
  }
  logSoftmax(axis = -1): Tensor {
    return ops.logSoftmax(this, axis);
  }
}

/** Builds a tensor from nested arrays, or from flat values plus a shape. */
export function tensor(values: NestedArray | ArrayLike<number>, shape?: Shape, requiresGrad = false): Tensor {
  if (shape !== undefined) {
    const flat = typeof values === 'number' ? [values] : (values as ArrayLike<number>);
    return new Tensor(Float32Array.from(flat), shape, requiresGrad);
  }
  if (typeof values === 'number') return new Tensor(Float32Array.of(values), [], requiresGrad);
  if (values instanceof Float32Array) return new Tensor(values.slice(), [values.length], requiresGrad);
  const inferred: number[] = [];
  let level: unknown = values;
  while (Array.isArray(level)) {
    inferred.push(level.length);
    level = level[0];
  }
  const flat = (values as NestedArray[]).flat(Infinity as 1) as unknown[];
  if (flat.length !== sizeOf(inferred) || flat.some((v) => typeof v !== 'number')) {
    throw new ShapeError('tensor', `nested array is ragged or not numeric (first-element shape ${fmtShape(inferred)})`);
  }
  return new Tensor(Float32Array.from(flat as number[]), inferred, requiresGrad);
}

export function full(shape: Shape, value: number, requiresGrad = false): Tensor {
  checkShape('full', shape);
  return new Tensor(new Float32Array(sizeOf(shape)).fill(value), shape, requiresGrad);
}

export function zeros(shape: Shape, requiresGrad = false): Tensor {
  return full(shape, 0, requiresGrad);
}

export function ones(shape: Shape, requiresGrad = false): Tensor {
  return full(shape, 1, requiresGrad);
}

/** Standard-normal values; draws from `rng`, or from a fixed-seed generator when none is given. */
export function randn(shape: Shape, rng?: Random, requiresGrad = false): Tensor {
  checkShape('randn', shape);
  const gen = rng ?? defaultRandom();
  const data = new Float32Array(sizeOf(shape));
  gen.fillNormal(data);
  return new Tensor(data, shape, requiresGrad);
}
