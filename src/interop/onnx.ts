/**
 * A model as an ONNX graph (onnx.proto, written by field number with the small protobuf
 * writer): the same NHWC inputs Waypoint takes, with a dynamic batch dimension, each image
 * transposed once to NCHW for the image operators (and back where it is an output); each
 * layer call as ONNX's own operators (Gemm/MatMul, Conv, MaxPool, AveragePool,
 * GlobalAveragePool/GlobalMaxPool, BatchNormalization, LayerNormalization,
 * Relu/Sigmoid/Tanh/Softmax, Flatten/Reshape, Gather, LSTM, GRU; the merges as Sum, Sub, Mul,
 * Mean, Max, Min, Concat) and its weights as initializers, once per layer however often it is
 * called. A Sequential's graph has one input, `input`, and one output, `output`; a functional
 * model's are named as its inputs and outputs.
 */
import { ArgumentError } from '../errors.js';
import { ENGINE_VERSION } from '../version.js';
import type { Model } from '../model/model.js';
import type { Layer, SampleShape } from '../nn/layer.js';
import type { Tensor } from '../tensor/tensor.js';
import { ProtoWriter } from '../protobuf/protobuf.js';
import { channelsFirstMerge, channelsFirstOrder, convKernel, gateBias, gateMatrix, samePadding } from './layout.js';

const FLOAT = 1,
  INT64 = 7;
type Attribute = number | number[] | string;
interface Node {
  op: string;
  inputs: string[];
  outputs: string[];
  attributes?: Record<string, Attribute>;
}
interface Initializer {
  name: string;
  dims: number[];
  data: Float32Array | BigInt64Array;
}

function encodeAttribute(w: ProtoWriter, name: string, value: Attribute): void {
  w.string(1, name);
  if (typeof value === 'string') w.bytes(4, new TextEncoder().encode(value)).element(20, 3);
  else if (Array.isArray(value)) {
    for (const v of value) w.element(8, v);
    w.element(20, 7);
  } else w.element(3, value).element(20, 2); // integers only: the float attributes (epsilon) are written where they arise
}

function encodeValueInfo(w: ProtoWriter, name: string, dims: Array<number | string>, elemType = FLOAT): void {
  w.string(1, name).message(2, (t) =>
    t.message(1, (tt) =>
      tt.element(1, elemType).message(2, (shape) => {
        for (const d of dims) shape.message(1, (dim) => (typeof d === 'string' ? dim.string(2, d) : dim.element(1, d)));
      }),
    ),
  );
}

export interface OnnxOptions {
  /** The default operator set's version (default 17, which LayerNormalization needs; at least 13, for Squeeze's axes input). */
  opset?: number;
}

/** A value of the graph being written: its name there, its Waypoint shape, and (after an image's Flatten) its feature order. */
interface Value {
  name: string;
  shape: SampleShape;
  /** After flattening an image: ONNX's flat index j (C, H, W order) → Waypoint's (H, W, C). */
  perm: Int32Array | null;
}

/** The nodes and initializers being written, with fresh names for the values between them. */
class OnnxGraph {
  readonly nodes: Node[] = [];
  readonly initializers: Initializer[] = [];
  /** The float attributes (epsilon), by node index. */
  readonly epsilons = new Map<number, number>();
  private counter = 0;
  private readonly constants = new Set<string>();

  fresh(what: string): string {
    return `${what}_${this.counter++}`;
  }

  op(
    type: string,
    inputs: string[],
    attributes?: Record<string, Attribute>,
    outputs = [this.fresh(type.toLowerCase())],
  ) {
    this.nodes.push({ op: type, inputs, outputs, attributes });
    return outputs[0];
  }

  /** An initializer, written once however many calls of its layer read it. */
  constant(name: string, dims: number[], data: Float32Array | BigInt64Array): string {
    if (!this.constants.has(name)) this.initializers.push({ name, dims, data });
    this.constants.add(name);
    return name;
  }
}

const ELEMENTWISE: Record<string, string> = {
  Add: 'Sum',
  Subtract: 'Sub',
  Multiply: 'Mul',
  Average: 'Mean',
  Maximum: 'Max',
  Minimum: 'Min',
};

/** A merge layer's call. Images are NCHW in the graph: elementwise merges need equal shapes there, and Concatenate's axis moves. */
function emitMerge(g: OnnxGraph, layer: Layer, inputs: Value[], refuse: (why: string) => never): Value {
  const { shape, concatAxis } = channelsFirstMerge(layer, inputs, 'ONNX', refuse);
  const names = inputs.map((v) => v.name);
  if (concatAxis !== null) return { name: g.op('Concat', names, { axis: concatAxis }), shape, perm: null };
  const type = ELEMENTWISE[layer.className];
  // Sub and Mul take two inputs: a longer merge is a chain, in the order Waypoint computes it.
  const name =
    type === 'Sub' || type === 'Mul'
      ? names.slice(1).reduce((acc, n) => g.op(type, [acc, n]), names[0])
      : g.op(type, names);
  return { name, shape, perm: null };
}

/** One call of a single-input layer: its operators and initializers (named after `prefix`), and the value it makes. */
function emitLayer(
  g: OnnxGraph,
  layer: Layer,
  input: Value,
  prefix: string,
  opset: number,
  refuse: (why: string) => never,
): Value {
  const op = g.op.bind(g),
    constant = g.constant.bind(g),
    fresh = g.fresh.bind(g),
    nodes = g.nodes;
  const shape = input.shape;
  let x = input.name;
  let perm = input.perm;
  const c = layer.getConfig() as Record<string, any>;
  const weight = (n: string): Tensor => layer.namedWeights().find(([k]) => k === n)![1];
  const image = shape.length === 3;
  const activation = (name: string) => {
    if (name === 'linear') return;
    if (name === 'softmax' && image) refuse('has a softmax over NHWC channels');
    x = op(
      { relu: 'Relu', sigmoid: 'Sigmoid', tanh: 'Tanh', softmax: 'Softmax' }[name]!,
      [x],
      name === 'softmax' ? { axis: -1 } : undefined,
    );
  };
  const next = layer.outputShape(shape);
  if (perm && !['Dense', 'Dropout', 'Activation'].includes(layer.className))
    refuse('follows the flattening of an image; only Dense, Dropout and Activation are mapped there');
  switch (layer.className) {
    case 'Dense': {
      if (image) refuse('acts on the channel axis of images (Flatten first)');
      const kernel = weight('kernel');
      const [inF, units] = kernel.shape;
      const data = new Float32Array(kernel.size);
      for (let j = 0; j < inF; j++)
        data.set(kernel.data.subarray((perm ? perm[j] : j) * units, ((perm ? perm[j] : j) + 1) * units), j * units);
      perm = null;
      const k = constant(`${prefix}.kernel`, [inF, units], data);
      const bias = c.useBias ? constant(`${prefix}.bias`, [units], weight('bias').data) : null;
      if (shape.length === 1) x = op('Gemm', [x, k, ...(bias ? [bias] : [])]);
      else {
        x = op('MatMul', [x, k]);
        if (bias) x = op('Add', [x, bias]);
      }
      activation(c.activation);
      break;
    }
    case 'Conv2D': {
      const kernel = weight('kernel');
      const [kh, kw, inC, outC] = kernel.shape;
      const w = new Float32Array(kernel.size);
      convKernel(kernel.data, w, kernel.shape, false);
      const [sh, sw] = c.strides as number[],
        [dh, dw] = (c.dilationRate ?? [1, 1]) as number[];
      const [t, b] = c.padding === 'same' ? samePadding(shape[0], (kh - 1) * dh + 1, sh) : [0, 0];
      const [l, r] = c.padding === 'same' ? samePadding(shape[1], (kw - 1) * dw + 1, sw) : [0, 0];
      const inputs = [
        x,
        constant(`${prefix}.kernel`, [outC, inC, kh, kw], w),
        ...(c.useBias ? [constant(`${prefix}.bias`, [outC], weight('bias').data)] : []),
      ];
      x = op('Conv', inputs, {
        kernel_shape: [kh, kw],
        strides: [sh, sw],
        dilations: [dh, dw],
        pads: [t, l, b, r],
      });
      activation(c.activation);
      break;
    }
    case 'MaxPool2D':
    case 'AveragePooling2D': {
      const [kh, kw] = c.poolSize as number[],
        [sh, sw] = c.strides as number[];
      const [t, b] = c.padding === 'same' ? samePadding(shape[0], kh, sh) : [0, 0];
      const [l, r] = c.padding === 'same' ? samePadding(shape[1], kw, sw) : [0, 0];
      const max = layer.className === 'MaxPool2D';
      x = op(max ? 'MaxPool' : 'AveragePool', [x], {
        kernel_shape: [kh, kw],
        strides: [sh, sw],
        pads: [t, l, b, r],
        ...(max ? {} : { count_include_pad: 0 }),
      });
      break;
    }
    case 'GlobalAveragePooling2D':
    case 'GlobalMaxPooling2D':
      x = op(layer.className === 'GlobalMaxPooling2D' ? 'GlobalMaxPool' : 'GlobalAveragePool', [x]);
      x = op('Flatten', [x], { axis: 1 });
      break;
    case 'Flatten':
      if (image) perm = channelsFirstOrder(shape);
      x = op('Flatten', [x], { axis: 1 });
      break;
    case 'Reshape':
      if (image) refuse('reshapes NHWC images, which the graph holds as NCHW');
      x = op('Reshape', [
        x,
        constant(`${prefix}.shape`, [next.length + 1], BigInt64Array.from([0, ...next].map(BigInt))),
      ]);
      break;
    case 'Dropout':
      break; // inference: the identity
    case 'Activation':
      activation(c.activation);
      break;
    case 'BatchNormalization': {
      if (shape.length !== 1 && !image)
        refuse('normalizes the last axis of sequences; ONNX BatchNormalization normalizes axis 1');
      const ch = shape[shape.length - 1];
      const gamma = c.scale ? weight('gamma').data : new Float32Array(ch).fill(1),
        beta = c.center ? weight('beta').data : new Float32Array(ch);
      x = op('BatchNormalization', [
        x,
        constant(`${prefix}.gamma`, [ch], gamma),
        constant(`${prefix}.beta`, [ch], beta),
        constant(`${prefix}.moving_mean`, [ch], weight('moving_mean').data),
        constant(`${prefix}.moving_variance`, [ch], weight('moving_variance').data),
      ]);
      g.epsilons.set(nodes.length - 1, c.epsilon);
      break;
    }
    case 'LayerNormalization': {
      if (image) refuse('normalizes NHWC channels, which the graph holds as NCHW');
      if (opset < 17) refuse(`needs opset 17 (LayerNormalization), got ${opset}`);
      const f = shape[shape.length - 1];
      const gamma = c.scale ? weight('gamma').data : new Float32Array(f).fill(1),
        beta = c.center ? weight('beta').data : new Float32Array(f);
      x = op(
        'LayerNormalization',
        [x, constant(`${prefix}.gamma`, [f], gamma), constant(`${prefix}.beta`, [f], beta)],
        { axis: -1 },
      );
      g.epsilons.set(nodes.length - 1, c.epsilon);
      break;
    }
    case 'Embedding':
      x = op('Cast', [x], { to: INT64 });
      x = op('Gather', [constant(`${prefix}.embeddings`, weight('embeddings').shape, weight('embeddings').data), x], {
        axis: 0,
      });
      break;
    case 'LSTM':
    case 'GRU': {
      const lstm = layer.className === 'LSTM';
      if (c.activation !== 'tanh' || c.recurrentActivation !== 'sigmoid')
        refuse('uses other activations than tanh and sigmoid');
      const gates = lstm ? 4 : 3,
        u = c.units as number,
        f = shape[1];
      // ONNX's gate blocks from Keras's: LSTM i, o, f, c from i, f, c, o; GRU z, r, h is Keras's order.
      const order = lstm ? [0, 3, 1, 2] : [0, 1, 2];
      const blocks = (w: Tensor, rows: number) => {
        const out = new Float32Array(gates * u * rows);
        gateMatrix(w.data, out, rows, u, order, false);
        return out;
      };
      const bias = new Float32Array(2 * gates * u);
      if (c.useBias) {
        const b = weight('bias').data;
        gateBias(b.subarray(0, gates * u), order, u, bias); // input bias (all of an LSTM's)
        if (!lstm) gateBias(b.subarray(gates * u), order, u, bias, gates * u); // GRU's recurrent bias
      }
      // Time-major (layout 0), which every runtime implements: ONNX Runtime refuses layout 1.
      const inputs = [
        op('Transpose', [x], { perm: [1, 0, 2] }),
        constant(`${prefix}.W`, [1, gates * u, f], blocks(weight('kernel'), f)),
        constant(`${prefix}.R`, [1, gates * u, u], blocks(weight('recurrent_kernel'), u)),
        constant(`${prefix}.B`, [1, 2 * gates * u], bias),
      ];
      const y = fresh('y'),
        yh = fresh('y_h');
      nodes.push({
        op: layer.className,
        inputs,
        outputs: [y, yh],
        attributes: { hidden_size: u, ...(lstm ? {} : { linear_before_reset: 1 }) },
      });
      // Y is [time, 1, batch, units], Y_h [1, batch, units].
      x = op('Squeeze', [
        c.returnSequences ? y : yh,
        constant(`${prefix}.squeeze`, [1], BigInt64Array.of(c.returnSequences ? 1n : 0n)),
      ]);
      if (c.returnSequences) x = op('Transpose', [x], { perm: [1, 0, 2] });
      break;
    }
    default:
      refuse('has no ONNX mapping here');
  }
  return { name: x, shape: next, perm };
}

export function exportOnnx(model: Model, options: OnnxOptions = {}): Uint8Array {
  const opset = options.opset ?? 17;
  if (!Number.isInteger(opset) || opset < 13)
    throw new ArgumentError(`exportOnnx: opset must be an integer of at least 13, got ${opset}`);
  const flow = model.dataflow();
  const g = new OnnxGraph();
  const values: Value[] = [];
  for (const { name, value } of flow.inputs) {
    const shape = flow.shapes[value];
    values[value] = {
      name: shape.length === 3 ? g.op('Transpose', [name], { perm: [0, 3, 1, 2] }) : name,
      shape,
      perm: null,
    }; // NHWC → NCHW
  }
  for (const call of flow.calls) {
    const refuse = (why: string): never => {
      throw new ArgumentError(`ONNX export: ${call.key.replaceAll('.', '/')} (${call.layer.describe()}) ${why}`);
    };
    const inputs = call.inputs.map((v) => values[v]);
    values[call.outputs[0]] =
      call.layer.className in ELEMENTWISE || call.layer.className === 'Concatenate'
        ? emitMerge(g, call.layer, inputs, refuse)
        : emitLayer(g, call.layer, inputs[0], call.key, opset, refuse);
  }
  for (const { name, value } of flow.outputs) {
    const v = values[value];
    const nhwc = v.shape.length === 3 ? g.op('Transpose', [v.name], { perm: [0, 2, 3, 1] }) : v.name;
    g.op('Identity', [nhwc], undefined, [name]);
  }

  const graph = (w: ProtoWriter) => {
    g.nodes.forEach((n, k) =>
      w.message(1, (m) => {
        for (const x of n.inputs) m.string(1, x);
        for (const x of n.outputs) m.string(2, x);
        m.string(3, `${n.op.toLowerCase()}_${k}`).string(4, n.op);
        for (const [name, value] of Object.entries(n.attributes ?? {}))
          m.message(5, (a) => encodeAttribute(a, name, value));
        const eps = g.epsilons.get(k);
        if (eps !== undefined) m.message(5, (a) => a.string(1, 'epsilon').float(2, eps).element(20, 1));
      }),
    );
    w.string(2, model.name);
    for (const t of g.initializers) {
      w.message(5, (m) => {
        for (const d of t.dims) m.element(1, d);
        m.element(2, t.data instanceof BigInt64Array ? INT64 : FLOAT)
          .string(8, t.name)
          .bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
      });
    }
    for (const { name, value } of flow.inputs)
      w.message(11, (m) => encodeValueInfo(m, name, ['batch', ...flow.shapes[value]]));
    for (const { name, value } of flow.outputs)
      w.message(12, (m) => encodeValueInfo(m, name, ['batch', ...flow.shapes[value]]));
  };
  return new ProtoWriter()
    .element(1, 8)
    .string(2, 'waypoint')
    .string(3, ENGINE_VERSION)
    .message(7, graph)
    .message(8, (o) => o.element(2, opset))
    .finish();
}
