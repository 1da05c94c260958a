import { Tensor, type TensorLike } from '../tensor.js';
import { backend } from '../../backend/index.js';
import {
  broadcastShapes,
  broadcastStrides,
  forEachRow,
  sameShape,
  sizeOf,
  sumToShape,
  trailingBlock,
  type Shape,
} from '../shape.js';
import { allocate } from '../../../kernels/buffers.js';

type F32 = Float32Array;
type Grads = [F32 | null, F32 | null];

const asTensor = (v: TensorLike): Tensor => (v instanceof Tensor ? v : new Tensor(Float32Array.of(v), []));

/** Copies `data` of `shape` out to the broadcast shape `to` (returns it unchanged when equal). */
export function broadcastData(data: F32, shape: Shape, to: Shape): F32 {
  if (sameShape(shape, to)) return data;
  if (data.length === 1) return allocate(sizeOf(to)).fill(data[0]);
  const out = allocate(sizeOf(to));
  const block = trailingBlock(shape, to);
  if (block > 0) {
    for (let start = 0; start < out.length; start += block) for (let j = 0; j < block; j++) out[start + j] = data[j];
    return out;
  }
  forEachRow(to, broadcastStrides(shape, to), (i, at, n, step) => {
    for (let j = 0; j < n; j++) out[i + j] = data[at + j * step];
  });
  return out;
}

/**
 * A broadcasting binary op. Operands are expanded to the output shape first, so each op's
 * forward and backward are plain same-shape loops; gradients are summed back down to
 * each operand's own shape.
 */
function binary(
  op: string,
  aIn: TensorLike,
  bIn: TensorLike,
  forward: (x: F32, y: F32, out: F32) => void,
  backward: (g: F32, x: F32, y: F32, out: F32, needA: boolean, needB: boolean) => Grads,
): Tensor {
  const a = asTensor(aIn);
  const b = asTensor(bIn);
  const shape = broadcastShapes(op, a.shape, b.shape);
  const x = broadcastData(a.data, a.shape, shape);
  const y = broadcastData(b.data, b.shape, shape);
  const out = allocate(sizeOf(shape));
  forward(x, y, out);
  return Tensor.record(new Tensor(out, shape), [a, b], (g) => {
    const [ga, gb] = backward(g, x, y, out, a.requiresGrad, b.requiresGrad);
    return [ga && sumToShape(ga, shape, a.shape), gb && sumToShape(gb, shape, b.shape)];
  });
}

/** An elementwise unary op: forward fills `out`; backward fills `gx` from the output gradient. */
function unary(
  x: Tensor,
  forward: (x: F32, out: F32) => void,
  backward: (g: F32, x: F32, out: F32, gx: F32) => void,
): Tensor {
  const out = allocate(x.size);
  forward(x.data, out);
  return Tensor.record(new Tensor(out, x.shape), [x], (g) => {
    const gx = allocate(g.length);
    backward(g, x.data, out, gx);
    return [gx];
  });
}

export function add(a: TensorLike, b: TensorLike): Tensor {
  return binary(
    'add',
    a,
    b,
    (x, y, o) => {
      for (let i = 0; i < o.length; i++) o[i] = x[i] + y[i];
    },
    (g, _x, _y, _o, needA, needB) => [needA ? g : null, needB ? g : null],
  );
}

export function sub(a: TensorLike, b: TensorLike): Tensor {
  return binary(
    'sub',
    a,
    b,
    (x, y, o) => {
      for (let i = 0; i < o.length; i++) o[i] = x[i] - y[i];
    },
    (g, _x, _y, _o, _needA, needB) => {
      if (!needB) return [g, null];
      const gb = allocate(g.length);
      for (let i = 0; i < g.length; i++) gb[i] = -g[i];
      return [g, gb];
    },
  );
}

export function mul(a: TensorLike, b: TensorLike): Tensor {
  return binary(
    'mul',
    a,
    b,
    (x, y, o) => {
      for (let i = 0; i < o.length; i++) o[i] = x[i] * y[i];
    },
    (g, x, y, _o, needA, needB) => {
      const ga = needA ? allocate(g.length) : null;
      const gb = needB ? allocate(g.length) : null;
      if (ga) for (let i = 0; i < g.length; i++) ga[i] = g[i] * y[i];
      if (gb) for (let i = 0; i < g.length; i++) gb[i] = g[i] * x[i];
      return [ga, gb];
    },
  );
}

export function div(a: TensorLike, b: TensorLike): Tensor {
  return binary(
    'div',
    a,
    b,
    (x, y, o) => {
      for (let i = 0; i < o.length; i++) o[i] = x[i] / y[i];
    },
    (g, _x, y, o, needA, needB) => {
      const ga = needA ? allocate(g.length) : null;
      const gb = needB ? allocate(g.length) : null;
      if (ga) for (let i = 0; i < g.length; i++) ga[i] = g[i] / y[i];
      if (gb) for (let i = 0; i < g.length; i++) gb[i] = (-g[i] * o[i]) / y[i];
      return [ga, gb];
    },
  );
}

/**
 * The larger (or smaller) of a and b elementwise. As PyTorch's maximum/minimum (which Keras's
 * torch backend runs), a tie sends half the gradient to each operand.
 */
function extremum(op: string, a: TensorLike, b: TensorLike, larger: boolean): Tensor {
  return binary(
    op,
    a,
    b,
    (x, y, o) => {
      if (larger) for (let i = 0; i < o.length; i++) o[i] = x[i] >= y[i] ? x[i] : y[i];
      else for (let i = 0; i < o.length; i++) o[i] = x[i] <= y[i] ? x[i] : y[i];
    },
    (g, x, y, _o, needA, needB) => {
      const ga = needA ? allocate(g.length) : null;
      const gb = needB ? allocate(g.length) : null;
      for (let i = 0; i < g.length; i++) {
        const share = x[i] === y[i] ? 0.5 : x[i] > y[i] === larger ? 1 : 0;
        if (ga) ga[i] = g[i] * share;
        if (gb) gb[i] = g[i] * (1 - share);
      }
      return [ga, gb];
    },
  );
}

export function maximum(a: TensorLike, b: TensorLike): Tensor {
  return extremum('maximum', a, b, true);
}

export function minimum(a: TensorLike, b: TensorLike): Tensor {
  return extremum('minimum', a, b, false);
}

/** a^b elementwise; d/da = b·a^(b−1), d/db = a^b·ln a. */
export function pow(a: TensorLike, b: TensorLike): Tensor {
  return binary(
    'pow',
    a,
    b,
    (x, y, o) => {
      for (let i = 0; i < o.length; i++) o[i] = Math.pow(x[i], y[i]);
    },
    (g, x, y, o, needA, needB) => {
      const ga = needA ? allocate(g.length) : null;
      const gb = needB ? allocate(g.length) : null;
      if (ga) for (let i = 0; i < g.length; i++) ga[i] = g[i] * y[i] * Math.pow(x[i], y[i] - 1);
      if (gb) for (let i = 0; i < g.length; i++) gb[i] = g[i] * o[i] * Math.log(x[i]);
      return [ga, gb];
    },
  );
}

/*
 * Unary ops: `forward(x, out)` and `backward(g, x, out, gx)` each own one plain loop, so
 * V8 compiles every op's arithmetic inline (a shared per-element callback would not be).
 */
export function neg(x: Tensor): Tensor {
  return unary(
    x,
    (x, o) => {
      for (let i = 0; i < o.length; i++) o[i] = -x[i];
    },
    (g, _x, _o, gx) => {
      for (let i = 0; i < g.length; i++) gx[i] = -g[i];
    },
  );
}

export function exp(x: Tensor): Tensor {
  return unary(
    x,
    (x, o) => {
      for (let i = 0; i < o.length; i++) o[i] = Math.exp(x[i]);
    },
    (g, _x, o, gx) => {
      for (let i = 0; i < g.length; i++) gx[i] = g[i] * o[i];
    },
  );
}

export function log(x: Tensor): Tensor {
  return unary(
    x,
    (x, o) => {
      for (let i = 0; i < o.length; i++) o[i] = Math.log(x[i]);
    },
    (g, x, _o, gx) => {
      for (let i = 0; i < g.length; i++) gx[i] = g[i] / x[i];
    },
  );
}

export function sqrt(x: Tensor): Tensor {
  return unary(
    x,
    (x, o) => {
      for (let i = 0; i < o.length; i++) o[i] = Math.sqrt(x[i]);
    },
    (g, _x, o, gx) => {
      for (let i = 0; i < g.length; i++) gx[i] = g[i] / (2 * o[i]);
    },
  );
}

/** max(x, 0), except that NaN stays NaN (as in PyTorch and TensorFlow): `<=` is false for NaN. */
export function relu(x: Tensor): Tensor {
  return unary(
    x,
    (x, o) => {
      for (let i = 0; i < o.length; i++) o[i] = x[i] <= 0 ? 0 : x[i];
    },
    (g, x, _o, gx) => {
      for (let i = 0; i < g.length; i++) gx[i] = x[i] <= 0 ? 0 : g[i];
    },
  );
}

/** 1 / (1 + e^−x), in the backend's kernel (a few ulp from Math's where it runs in SIMD). */
export function sigmoid(x: Tensor): Tensor {
  return smooth(x, 'sigmoid');
}

export function tanh(x: Tensor): Tensor {
  return smooth(x, 'tanh');
}

function smooth(x: Tensor, name: 'sigmoid' | 'tanh'): Tensor {
  const out = backend().activate(x.data, name);
  return Tensor.record(new Tensor(out, x.shape), [x], (g) => [backend().activateGrad(out, g, name)]);
}

/** Clamps into [lo, hi] (NaN stays NaN); the gradient flows only where the value was inside. */
export function clip(x: Tensor, lo: number, hi: number): Tensor {
  return unary(
    x,
    (x, o) => {
      for (let i = 0; i < o.length; i++) o[i] = Math.min(Math.max(x[i], lo), hi);
    },
    (g, x, _o, gx) => {
      for (let i = 0; i < g.length; i++) gx[i] = x[i] >= lo && x[i] <= hi ? g[i] : 0;
    },
  );
}
