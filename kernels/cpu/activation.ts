import { allocate, copyOut } from '../buffers.js';
import { sigmoidOf, tanhOf } from './simd-math.js';
import { I32, V128, compileModule, encodeModule, forLoop, op } from './wasm-asm.js';
import { growMemory } from './wasm-memory.js';

/**
 * sigmoid and tanh, forward and backward (from the output y: dy·y·(1 − y) and dy·(1 − y²)), in
 * WebAssembly SIMD four values at a time (simd-math.ts's polynomials: a few ulp from Math's),
 * or in JavaScript where it does not run.
 */
export type SmoothActivation = 'sigmoid' | 'tanh';

function buildModule(): Uint8Array<ArrayBuffer> {
  // Each: (x or y, dy (backward only), out, vectors), walking the arrays 16 bytes at a time.
  const forward = (name: SmoothActivation) => {
    const [X, OUT, N, I, V, A, S, T, M] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
    return {
      exportName: name,
      params: [I32, I32, I32],
      locals: [
        [1, I32],
        [5, V128],
      ] as Array<[number, number]>,
      body: forLoop(I, N, [
        op.get(X),
        op.v128Load(0),
        op.set(V),
        op.get(OUT),
        ...(name === 'sigmoid' ? sigmoidOf(V, T, M) : tanhOf(V, A, S, T, M)),
        op.v128Store(0),
        ...[X, OUT].flatMap((p) => [op.get(p), op.i32(16), op.add, op.set(p)]),
      ]),
    };
  };
  const backward = (name: SmoothActivation) => {
    const [Y, DY, OUT, N, I, V] = [0, 1, 2, 3, 4, 5];
    const one = op.f32x4Const(1);
    // sigmoid: dy·y·(1 − y); tanh: dy·(1 − y·y)
    const slope =
      name === 'sigmoid'
        ? [op.get(V), one, op.get(V), op.f32x4Sub, op.f32x4Mul]
        : [one, op.get(V), op.get(V), op.f32x4Mul, op.f32x4Sub];
    return {
      exportName: `${name}Grad`,
      params: [I32, I32, I32, I32],
      locals: [
        [1, I32],
        [1, V128],
      ] as Array<[number, number]>,
      body: forLoop(I, N, [
        op.get(Y),
        op.v128Load(0),
        op.set(V),
        op.get(OUT),
        op.get(DY),
        op.v128Load(0),
        ...slope,
        op.f32x4Mul,
        op.v128Store(0),
        ...[Y, DY, OUT].flatMap((p) => [op.get(p), op.i32(16), op.add, op.set(p)]),
      ]),
    };
  };
  return encodeModule([forward('sigmoid'), forward('tanh'), backward('sigmoid'), backward('tanh')]);
}

type Pass = (...addresses: number[]) => void;
interface Kernel {
  memory: WebAssembly.Memory;
  passes: Record<string, Pass>;
}

let kernel: Kernel | null | undefined;

function load(): Kernel | null {
  const module = compileModule(buildModule());
  if (module === null) return null;
  const memory = new WebAssembly.Memory({ initial: 16 });
  return { memory, passes: new WebAssembly.Instance(module, { env: { memory } }).exports as Record<string, Pass> };
}

/** The memory as floats, grown to `floats` (the arrays' last vector may run past their length: scratch lanes). */
function heapOf(k: Kernel, floats: number): Float32Array {
  growMemory(k.memory, 4 * floats);
  return new Float32Array(k.memory.buffer);
}

const vectors = (n: number) => Math.ceil(n / 4);

export function activate(x: Float32Array, name: SmoothActivation): Float32Array {
  kernel ??= load();
  if (kernel === null) return activateScalar(x, name);
  const n = x.length,
    span = 4 * vectors(n);
  const heap = heapOf(kernel, 2 * span);
  heap.set(x, 0);
  kernel.passes[name](0, 4 * span, vectors(n));
  return copyOut(heap, span, n);
}

/** dL/dx from the activation's output `y` and dL/dy. */
export function activateGrad(y: Float32Array, dy: Float32Array, name: SmoothActivation): Float32Array {
  kernel ??= load();
  if (kernel === null) return activateGradScalar(y, dy, name);
  const n = y.length,
    span = 4 * vectors(n);
  const heap = heapOf(kernel, 3 * span);
  heap.set(y, 0);
  heap.set(dy, span);
  kernel.passes[`${name}Grad`](0, 4 * span, 8 * span, vectors(n));
  return copyOut(heap, 2 * span, n);
}

/** The JavaScript loops (Math's functions, rounded once). */
export function activateScalar(x: Float32Array, name: SmoothActivation): Float32Array {
  const o = allocate(x.length);
  if (name === 'tanh') {
    for (let i = 0; i < o.length; i++) o[i] = Math.tanh(x[i]);
    return o;
  }
  // Split by sign so exp never overflows: σ(x) = 1/(1+e^−x) = e^x/(1+e^x).
  for (let i = 0; i < o.length; i++) {
    const v = x[i];
    if (v >= 0) o[i] = 1 / (1 + Math.exp(-v));
    else {
      const e = Math.exp(v);
      o[i] = e / (1 + e);
    }
  }
  return o;
}

export function activateGradScalar(y: Float32Array, dy: Float32Array, name: SmoothActivation): Float32Array {
  const gx = allocate(y.length);
  if (name === 'sigmoid') for (let i = 0; i < gx.length; i++) gx[i] = dy[i] * y[i] * (1 - y[i]);
  else for (let i = 0; i < gx.length; i++) gx[i] = dy[i] * (1 - y[i] * y[i]);
  return gx;
}
