/**
 * A Sequential as an ONNX model (onnx.proto, written by field number with the small protobuf
 * writer): the same NHWC input Waypoint takes, with a dynamic batch dimension, transposed
 * once to NCHW for the image operators; each layer as ONNX's own operators (Gemm/MatMul,
 * Conv, MaxPool, AveragePool, GlobalAveragePool/GlobalMaxPool, BatchNormalization,
 * LayerNormalization, Relu/Sigmoid/Tanh/Softmax, Flatten/Reshape, Gather, LSTM, GRU) and
 * its weights as initializers.
 */
import { ArgumentError } from '../errors.js';
import { ENGINE_VERSION } from '../version.js';
import type { Model } from '../model/model.js';
import { stackOf } from './stack.js';
import type { Tensor } from '../tensor/tensor.js';
import { ProtoWriter } from '../protobuf/protobuf.js';
import { channelsFirstOrder, convKernel, gateBias, gateMatrix, samePadding } from './layout.js';

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

export function exportOnnx(input: Model, options: OnnxOptions = {}): Uint8Array {
  const model = stackOf(input, 'ONNX export');
  const opset = options.opset ?? 17;
  if (!Number.isInteger(opset) || opset < 13)
    throw new ArgumentError(`exportOnnx: opset must be an integer of at least 13, got ${opset}`);
  if (!model.built) model.build();
  const nodes: Node[] = [];
  const initializers: Initializer[] = [];
  const floats: Record<string, number> = {};
  let counter = 0;
  let current = 'input';
  const fresh = (what: string) => `${what}_${counter++}`;
  const op = (
    type: string,
    inputs: string[],
    attributes?: Record<string, Attribute>,
    outputs = [fresh(type.toLowerCase())],
  ) => {
    nodes.push({ op: type, inputs, outputs, attributes });
    return outputs[0];
  };
  const constant = (name: string, dims: number[], data: Float32Array | BigInt64Array) => {
    initializers.push({ name, dims, data });
    return name;
  };
  const inputShape = model.inputShapeOf();
  let shape = inputShape;
  const ids = model.layers[0]?.className === 'Embedding';
  if (shape.length === 3) current = op('Transpose', [current], { perm: [0, 3, 1, 2] }); // NHWC → NCHW
  if (ids) current = op('Cast', [current], { to: INT64 });
  let perm: Int32Array | null = null;
  const unsupported = (i: number, why: string): never => {
    throw new ArgumentError(`ONNX export: layers/${i} (${model.layers[i].describe()}) ${why}`);
  };

  model.layers.forEach((layer, i) => {
    const c = layer.getConfig() as Record<string, any>;
    const weight = (n: string): Tensor => layer.namedWeights().find(([k]) => k === n)![1];
    const prefix = `layers.${i}`;
    const image = shape.length === 3;
    const activation = (name: string) => {
      if (name === 'linear') return;
      if (name === 'softmax' && image) unsupported(i, 'has a softmax over NHWC channels');
      current = op(
        { relu: 'Relu', sigmoid: 'Sigmoid', tanh: 'Tanh', softmax: 'Softmax' }[name]!,
        [current],
        name === 'softmax' ? { axis: -1 } : undefined,
      );
    };
    const next = layer.outputShape(shape);
    if (perm && !['Dense', 'Dropout', 'Activation'].includes(layer.className))
      unsupported(i, 'follows the flattening of an image; only Dense, Dropout and Activation are mapped there');
    switch (layer.className) {
      case 'Dense': {
        if (image) unsupported(i, 'acts on the channel axis of images (Flatten first)');
        const kernel = weight('kernel');
        const [inF, units] = kernel.shape;
        const data = new Float32Array(kernel.size);
        for (let j = 0; j < inF; j++)
          data.set(kernel.data.subarray((perm ? perm[j] : j) * units, ((perm ? perm[j] : j) + 1) * units), j * units);
        perm = null;
        const k = constant(`${prefix}.kernel`, [inF, units], data);
        const bias = c.useBias ? constant(`${prefix}.bias`, [units], weight('bias').data) : null;
        if (shape.length === 1) current = op('Gemm', [current, k, ...(bias ? [bias] : [])]);
        else {
          current = op('MatMul', [current, k]);
          if (bias) current = op('Add', [current, bias]);
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
          current,
          constant(`${prefix}.kernel`, [outC, inC, kh, kw], w),
          ...(c.useBias ? [constant(`${prefix}.bias`, [outC], weight('bias').data)] : []),
        ];
        current = op('Conv', inputs, {
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
        current = op(max ? 'MaxPool' : 'AveragePool', [current], {
          kernel_shape: [kh, kw],
          strides: [sh, sw],
          pads: [t, l, b, r],
          ...(max ? {} : { count_include_pad: 0 }),
        });
        break;
      }
      case 'GlobalAveragePooling2D':
      case 'GlobalMaxPooling2D':
        current = op(layer.className === 'GlobalMaxPooling2D' ? 'GlobalMaxPool' : 'GlobalAveragePool', [current]);
        current = op('Flatten', [current], { axis: 1 });
        break;
      case 'Flatten':
        if (image) perm = channelsFirstOrder(shape);
        current = op('Flatten', [current], { axis: 1 });
        break;
      case 'Reshape':
        if (image) unsupported(i, 'reshapes NHWC images, which the graph holds as NCHW');
        current = op('Reshape', [
          current,
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
          unsupported(i, 'normalizes the last axis of sequences; ONNX BatchNormalization normalizes axis 1');
        const ch = shape[shape.length - 1];
        const gamma = c.scale ? weight('gamma').data : new Float32Array(ch).fill(1),
          beta = c.center ? weight('beta').data : new Float32Array(ch);
        current = op('BatchNormalization', [
          current,
          constant(`${prefix}.gamma`, [ch], gamma),
          constant(`${prefix}.beta`, [ch], beta),
          constant(`${prefix}.moving_mean`, [ch], weight('moving_mean').data),
          constant(`${prefix}.moving_variance`, [ch], weight('moving_variance').data),
        ]);
        floats[`${nodes.length - 1}.epsilon`] = c.epsilon;
        break;
      }
      case 'LayerNormalization': {
        if (image) unsupported(i, 'normalizes NHWC channels, which the graph holds as NCHW');
        if (opset < 17) unsupported(i, `needs opset 17 (LayerNormalization), got ${opset}`);
        const f = shape[shape.length - 1];
        const gamma = c.scale ? weight('gamma').data : new Float32Array(f).fill(1),
          beta = c.center ? weight('beta').data : new Float32Array(f);
        current = op(
          'LayerNormalization',
          [current, constant(`${prefix}.gamma`, [f], gamma), constant(`${prefix}.beta`, [f], beta)],
          { axis: -1 },
        );
        floats[`${nodes.length - 1}.epsilon`] = c.epsilon;
        break;
      }
      case 'Embedding':
        current = op(
          'Gather',
          [constant(`${prefix}.embeddings`, weight('embeddings').shape, weight('embeddings').data), current],
          { axis: 0 },
        );
        break;
      case 'LSTM':
      case 'GRU': {
        const lstm = layer.className === 'LSTM';
        if (c.activation !== 'tanh' || c.recurrentActivation !== 'sigmoid')
          unsupported(i, 'uses other activations than tanh and sigmoid');
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
          op('Transpose', [current], { perm: [1, 0, 2] }),
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
        current = op('Squeeze', [
          c.returnSequences ? y : yh,
          constant(`${prefix}.squeeze`, [1], BigInt64Array.of(c.returnSequences ? 1n : 0n)),
        ]);
        if (c.returnSequences) current = op('Transpose', [current], { perm: [1, 0, 2] });
        break;
      }
      default:
        unsupported(i, 'has no ONNX mapping here');
    }
    shape = next;
  });
  nodes.push({ op: 'Identity', inputs: [current], outputs: ['output'] });

  const graph = (g: ProtoWriter) => {
    nodes.forEach((n, k) =>
      g.message(1, (w) => {
        for (const x of n.inputs) w.string(1, x);
        for (const x of n.outputs) w.string(2, x);
        w.string(3, `${n.op.toLowerCase()}_${k}`).string(4, n.op);
        for (const [name, value] of Object.entries(n.attributes ?? {}))
          w.message(5, (a) => encodeAttribute(a, name, value));
        const eps = floats[`${k}.epsilon`];
        if (eps !== undefined) w.message(5, (a) => a.string(1, 'epsilon').float(2, eps).element(20, 1));
      }),
    );
    g.string(2, model.name);
    for (const t of initializers) {
      g.message(5, (w) => {
        for (const d of t.dims) w.element(1, d);
        w.element(2, t.data instanceof BigInt64Array ? INT64 : FLOAT)
          .string(8, t.name)
          .bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
      });
    }
    g.message(11, (w) => encodeValueInfo(w, 'input', ['batch', ...inputShape]));
    g.message(12, (w) => encodeValueInfo(w, 'output', ['batch', ...shape]));
  };
  return new ProtoWriter()
    .element(1, 8)
    .string(2, 'waypoint')
    .string(3, ENGINE_VERSION)
    .message(7, graph)
    .message(8, (o) => o.element(2, opset))
    .finish();
}
