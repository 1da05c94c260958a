/**
 * A Waypoint model as the equivalent PyTorch module: a Sequential as a `torch.nn.Sequential`,
 * a functional model as an `nn.Module` with one `nn.Sequential` attribute per layer and a
 * generated `forward` (merges as tensor expressions, a shared layer one attribute called
 * twice); which modules each layer becomes (each activation its own module, so indices
 * shift; images NCHW), and how every weight maps to its `state_dict` entry — transposed,
 * permuted, gate-reordered — both ways. `torchSource` prints the module as Python, with the
 * three small helper modules Keras's semantics need (an RNN that returns the last step or all
 * steps, a reshape).
 */
import { ArgumentError } from '../errors.js';
import type { Model } from '../model/model.js';
import type { Layer, SampleShape } from '../nn/layer.js';
import type { Tensor } from '../tensor/tensor.js';
import { channelsFirstMerge, channelsFirstOrder, convKernel, gateBias, gateMatrix, samePadding } from './layout.js';

/** One saved tensor (a state_dict entry, or a Keras-layout weight): its key and shape, and how to read it from / write it into the model. */
export interface WeightEntry {
  key: string;
  shape: number[];
  read(): Float32Array | BigInt64Array;
  /** Writes a value read from a file (already checked against `shape`); int64 entries are accepted and ignored. */
  write(data: Float32Array): void;
}

export interface TorchPlan {
  /** The model as Python: `model = nn.Sequential(...)`, or a `class Model(nn.Module)` and `model = Model()`. */
  definition: string[];
  entries: WeightEntry[];
  /** What the module takes, as a comment: images NCHW (permute NHWC batches with x.permute(0, 3, 1, 2)), the rest as Waypoint takes them. */
  inputs: string;
}

/** A value between layers: its Waypoint shape and, after an image's Flatten, torch's flat index j (C, H, W order) → Waypoint's (H, W, C). */
interface Value {
  shape: SampleShape;
  perm: Int32Array | null;
}

const ACTIVATION: Record<string, string> = {
  relu: 'nn.ReLU()',
  sigmoid: 'nn.Sigmoid()',
  tanh: 'nn.Tanh()',
  softmax: 'nn.Softmax(dim=-1)',
};
const py = (b: unknown) => (b ? 'True' : 'False');

/**
 * kernel [rows, cols] (rows reordered by `perm`) ↔ torch's [cols, rows], in 32×32 tiles so
 * that both sides are walked along cache lines: `back` writes the kernel from torch's layout.
 */
function transpose(
  from: Float32Array,
  to: Float32Array,
  rows: number,
  cols: number,
  perm: Int32Array | null,
  back: boolean,
): void {
  const T = 32;
  for (let r0 = 0; r0 < rows; r0 += T)
    for (let c0 = 0; c0 < cols; c0 += T) {
      for (let r = r0; r < Math.min(rows, r0 + T); r++) {
        const k = (perm ? perm[r] : r) * cols;
        for (let c = c0; c < Math.min(cols, c0 + T); c++) {
          if (back) to[k + c] = from[c * rows + r];
          else to[c * rows + r] = from[k + c];
        }
      }
    }
}

/**
 * The modules one call of `layer` becomes (appended with `add`, which gives each module's key
 * prefix) and its weights' entries; returns the value it makes.
 */
function layerModules(
  layer: Layer,
  input: Value,
  add: (module: string) => string,
  entries: WeightEntry[],
  refuse: (why: string) => never,
): Value {
  const shape = input.shape;
  let perm = input.perm;
  const c = layer.getConfig() as Record<string, any>;
  const weight = (name: string): Tensor => layer.namedWeights().find(([n]) => n === name)![1];
  const plain = (key: string, w: Tensor, torchShape = w.shape) =>
    entries.push({ key, shape: [...torchShape], read: () => w.data, write: (d) => w.data.set(d) });
  const image = shape.length === 3;
  const activation = (name: string) => {
    if (name === 'linear') return;
    if (name === 'softmax' && image)
      refuse('has a softmax over NHWC channels, which nn.Softmax(dim=-1) would take over width');
    add(ACTIVATION[name]);
  };
  const next = layer.outputShape(shape);
  if (perm && !['Dense', 'Dropout', 'Activation'].includes(layer.className))
    refuse(
      'follows the flattening of an image, whose feature order torch has as C, H, W; only Dense, Dropout and Activation are mapped there',
    );
  switch (layer.className) {
    case 'Dense': {
      if (image) refuse('acts on the channel axis of images; torch Linear would act on width (Flatten first)');
      const kernel = weight('kernel');
      const [inF, units] = kernel.shape;
      const p = perm;
      perm = null;
      const m = add(`nn.Linear(${inF}, ${units}, bias=${py(c.useBias)})`);
      entries.push({
        key: `${m}.weight`,
        shape: [units, inF],
        read: () => {
          const out = new Float32Array(units * inF);
          transpose(kernel.data, out, inF, units, p, false);
          return out;
        },
        write: (d) => transpose(d, kernel.data, inF, units, p, true),
      });
      if (c.useBias) plain(`${m}.bias`, weight('bias'));
      activation(c.activation);
      break;
    }
    case 'Conv2D': {
      const kernel = weight('kernel');
      const [kh, kw, inC, outC] = kernel.shape;
      const [sh, sw] = c.strides as number[],
        [dh, dw] = (c.dilationRate ?? [1, 1]) as number[];
      let padding = '0';
      if (c.padding === 'same' && sh === 1 && sw === 1) padding = "'same'";
      else if (c.padding === 'same') {
        const [t, b] = samePadding(shape[0], (kh - 1) * dh + 1, sh),
          [l, r] = samePadding(shape[1], (kw - 1) * dw + 1, sw);
        if (t + b + l + r > 0) add(`nn.ZeroPad2d((${l}, ${r}, ${t}, ${b}))`);
      }
      const m = add(
        `nn.Conv2d(${inC}, ${outC}, (${kh}, ${kw}), stride=(${sh}, ${sw}), padding=${padding}, dilation=(${dh}, ${dw}), bias=${py(c.useBias)})`,
      );
      entries.push({
        key: `${m}.weight`,
        shape: [outC, inC, kh, kw],
        read: () => {
          const out = new Float32Array(kernel.size);
          convKernel(kernel.data, out, kernel.shape, false);
          return out;
        },
        write: (d) => convKernel(kernel.data, d, kernel.shape, true),
      });
      if (c.useBias) plain(`${m}.bias`, weight('bias'));
      activation(c.activation);
      break;
    }
    case 'MaxPool2D':
    case 'AveragePooling2D': {
      const [kh, kw] = c.poolSize as number[],
        [sh, sw] = c.strides as number[];
      const max = layer.className === 'MaxPool2D';
      if (c.padding === 'valid') {
        add(`nn.${max ? 'MaxPool2d' : 'AvgPool2d'}((${kh}, ${kw}), stride=(${sh}, ${sw}))`);
        break;
      }
      const [t, b] = samePadding(shape[0], kh, sh),
        [l, r] = samePadding(shape[1], kw, sw);
      if (max) {
        if (t + b + l + r > 0) add(`nn.ConstantPad2d((${l}, ${r}, ${t}, ${b}), float('-inf'))`);
        add(`nn.MaxPool2d((${kh}, ${kw}), stride=(${sh}, ${sw}))`);
      } else {
        if (t !== b || l !== r || 2 * t > kh || 2 * l > kw)
          refuse(`pads 'same' asymmetrically (${t}/${b}, ${l}/${r}), which AvgPool2d's count_include_pad=False cannot`);
        add(`nn.AvgPool2d((${kh}, ${kw}), stride=(${sh}, ${sw}), padding=(${t}, ${l}), count_include_pad=False)`);
      }
      break;
    }
    case 'GlobalAveragePooling2D':
    case 'GlobalMaxPooling2D':
      add(layer.className === 'GlobalMaxPooling2D' ? 'nn.AdaptiveMaxPool2d(1)' : 'nn.AdaptiveAvgPool2d(1)');
      add('nn.Flatten()');
      break;
    case 'Flatten': {
      if (image) perm = channelsFirstOrder(shape);
      add('nn.Flatten()');
      break;
    }
    case 'Reshape':
      if (image) refuse('reshapes NHWC images, which torch holds as NCHW');
      add(`KerasReshape(${(next as number[]).join(', ')})`);
      break;
    case 'Dropout':
      add(`nn.Dropout(${c.rate})`);
      break;
    case 'Activation':
      activation(c.activation);
      break;
    case 'BatchNormalization': {
      if (shape.length !== 1 && !image)
        refuse('normalizes the last axis of sequences; torch BatchNorm1d normalizes axis 1');
      if (c.center !== c.scale) refuse('has only one of center and scale; torch has both or neither (affine)');
      const ch = shape[shape.length - 1];
      const m = add(
        `nn.BatchNorm${image ? '2d' : '1d'}(${ch}, eps=${c.epsilon}, momentum=${+(1 - c.momentum).toPrecision(12)}, affine=${py(c.scale)})`,
      );
      if (c.scale) {
        plain(`${m}.weight`, weight('gamma'));
        plain(`${m}.bias`, weight('beta'));
      }
      plain(`${m}.running_mean`, weight('moving_mean'));
      plain(`${m}.running_var`, weight('moving_variance'));
      entries.push({
        key: `${m}.num_batches_tracked`,
        shape: [],
        read: () => new BigInt64Array(1),
        write: () => undefined,
      });
      break;
    }
    case 'LayerNormalization': {
      if (image) refuse('normalizes NHWC channels; torch LayerNorm would normalize width');
      if (c.center !== c.scale) refuse('has only one of center and scale; torch LayerNorm has both or neither');
      const f = shape[shape.length - 1];
      const m = add(`nn.LayerNorm(${f}, eps=${c.epsilon}, elementwise_affine=${py(c.scale)})`);
      if (c.scale) {
        plain(`${m}.weight`, weight('gamma'));
        plain(`${m}.bias`, weight('beta'));
      }
      break;
    }
    case 'Embedding': {
      const m = add(`nn.Embedding(${c.inputDim}, ${c.outputDim})`);
      plain(`${m}.weight`, weight('embeddings'));
      break;
    }
    case 'LSTM':
    case 'GRU': {
      const lstm = layer.className === 'LSTM';
      if (c.activation !== 'tanh' || c.recurrentActivation !== 'sigmoid')
        refuse('uses other activations than tanh and sigmoid, which torch fixes');
      const gates = lstm ? 4 : 3,
        u = c.units as number,
        f = shape[1];
      // Keras's gate blocks for torch's: LSTM i, f, c/g, o are the same order; GRU z, r, h → torch r, z, n.
      const order = lstm ? [0, 1, 2, 3] : [1, 0, 2];
      const m = add(
        `Keras${layer.className}(${f}, ${u}, return_sequences=${py(c.returnSequences)}, bias=${py(c.useBias)})`,
      );
      const matrix = (key: string, w: Tensor, rows: number) =>
        entries.push({
          key: `${m}.rnn.${key}`,
          shape: [gates * u, rows],
          read: () => {
            const out = new Float32Array(gates * u * rows);
            gateMatrix(w.data, out, rows, u, order, false);
            return out;
          },
          write: (d) => gateMatrix(w.data, d, rows, u, order, true),
        });
      matrix('weight_ih_l0', weight('kernel'), f);
      matrix('weight_hh_l0', weight('recurrent_kernel'), u);
      if (c.useBias) {
        const bias = weight('bias');
        const reordered = (from: Float32Array) => gateBias(from, order, u);
        // Back from torch's order: the permutation's inverse.
        const inverse = order.map((_, kb) => order.indexOf(kb));
        const restore = (d: Float32Array, into: Float32Array) => gateBias(d, inverse, u, into);
        // LSTM: Keras has one bias, torch two that add up: all of it goes to bias_ih; an import sums them.
        let pendingIh: Float32Array | null = null;
        entries.push({
          key: `${m}.rnn.bias_ih_l0`,
          shape: [gates * u],
          read: () => reordered(lstm ? bias.data : bias.data.subarray(0, gates * u)),
          write: (d) => {
            if (lstm) pendingIh = d.slice();
            else restore(d, bias.data.subarray(0, gates * u));
          },
        });
        entries.push({
          key: `${m}.rnn.bias_hh_l0`,
          shape: [gates * u],
          read: () => (lstm ? new Float32Array(gates * u) : reordered(bias.data.subarray(gates * u))),
          write: (d) => {
            if (!lstm) return restore(d, bias.data.subarray(gates * u));
            const sum = new Float32Array(gates * u);
            for (let k = 0; k < sum.length; k++) sum[k] = (pendingIh ?? new Float32Array(gates * u))[k] + d[k];
            restore(sum, bias.data);
          },
        });
      }
      break;
    }
    default:
      refuse('has no torch mapping');
  }
  return { shape: next, perm };
}

const PYTHON_RESERVED = new Set(
  'False None True and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield model torch nn self'.split(
    ' ',
  ),
);

/** A layer's attribute in the generated module: its key as a Python identifier (`layers.block.layers.dense` → `block_dense`). */
function attributeOf(key: string, taken: Set<string>): string {
  let name = key.replace(/(^|\.)layers\./g, '$1').replace(/\W/g, '_');
  if (/^\d/.test(name) || PYTHON_RESERVED.has(name)) name = `layer_${name}`;
  while (taken.has(name)) name = `${name}_`;
  taken.add(name);
  return name;
}

const ELEMENTWISE: Record<string, (args: string[]) => string> = {
  Add: (a) => a.join(' + '),
  Subtract: (a) => a.join(' - '),
  Multiply: (a) => a.join(' * '),
  Average: (a) => `(${a.join(' + ')}) / ${a.length}`,
  Maximum: (a) => a.slice(1).reduce((acc, x) => `torch.maximum(${acc}, ${x})`, a[0]),
  Minimum: (a) => a.slice(1).reduce((acc, x) => `torch.minimum(${acc}, ${x})`, a[0]),
};

/** A merge layer's call as a Python expression over its inputs (images are NCHW there). */
function mergeExpression(
  layer: Layer,
  inputs: Value[],
  args: string[],
  refuse: (why: string) => never,
): Value & { expression: string } {
  const { shape, concatAxis } = channelsFirstMerge(layer, inputs, 'torch', refuse);
  const expression =
    concatAxis !== null ? `torch.cat([${args.join(', ')}], dim=${concatAxis})` : ELEMENTWISE[layer.className](args);
  return { shape, perm: null, expression };
}

export function torchPlan(model: Model): TorchPlan {
  const flow = model.dataflow();
  const entries: WeightEntry[] = [];
  const image = (v: number) => flow.shapes[v].length === 3;
  const inputs = flow.inputs.some((i) => image(i.value))
    ? `NCHW images (a Waypoint NHWC batch x: x.permute(0, 3, 1, 2))${flow.inputs.length > 1 ? ', the rest as Waypoint takes them' : ''}`
    : 'as Waypoint takes it';
  const refuser =
    (key: string, layer: Layer) =>
    (why: string): never => {
      throw new ArgumentError(`torch layout: ${key.replaceAll('.', '/')} (${layer.describe()}) ${why}`);
    };
  // A chain of distinct layers (a Sequential, nested ones inlined) is an nn.Sequential.
  const chain = flow.calls.every(
    (c, i) =>
      c.inputs.length === 1 &&
      c.inputs[0] === (i === 0 ? flow.inputs[0].value : flow.calls[i - 1].outputs[0]) &&
      flow.calls.findIndex((o) => o.layer === c.layer) === i,
  );
  if (model.className === 'Sequential' && chain) {
    const modules: string[] = [];
    let value: Value = { shape: flow.shapes[0], perm: null };
    for (const call of flow.calls)
      value = layerModules(
        call.layer,
        value,
        (m) => String(modules.push(m) - 1),
        entries,
        refuser(call.key, call.layer),
      );
    return { definition: ['model = nn.Sequential(', ...modules.map((m) => `    ${m},`), ')'], entries, inputs };
  }
  // A functional model: one nn.Sequential per layer, and a forward over named values.
  const taken = new Set<string>();
  const attributes = new Map<Layer, string>();
  const init: string[] = [];
  const values: Value[] = [];
  const names: string[] = [];
  const params = flow.inputs.map((i) => attributeOf(i.name, taken));
  flow.inputs.forEach((i, k) => {
    values[i.value] = { shape: flow.shapes[i.value], perm: null };
    names[i.value] = params[k];
  });
  const forward: string[] = [];
  let temp = 0;
  for (const call of flow.calls) {
    const refuse = refuser(call.key, call.layer);
    const args = call.inputs.map((v) => names[v]);
    const out = attributeOf(`x${temp++}`, taken);
    names[call.outputs[0]] = out;
    if (call.layer.className in ELEMENTWISE || call.layer.className === 'Concatenate') {
      const merged = mergeExpression(
        call.layer,
        call.inputs.map((v) => values[v]),
        args,
        refuse,
      );
      values[call.outputs[0]] = merged;
      forward.push(`        ${out} = ${merged.expression}`);
      continue;
    }
    const first = !attributes.has(call.layer);
    if (first) attributes.set(call.layer, attributeOf(call.key, taken));
    const attr = attributes.get(call.layer)!;
    const modules: string[] = [];
    // A shared layer's later calls reuse its attribute: its modules and weights are written once.
    const made = layerModules(
      call.layer,
      values[call.inputs[0]],
      (m) => `${attr}.${modules.push(m) - 1}`,
      first ? entries : [],
      refuse,
    );
    if (first) init.push(`        self.${attr} = nn.Sequential(${modules.join(', ')})`);
    values[call.outputs[0]] = made;
    forward.push(`        ${out} = self.${attr}(${args[0]})`);
  }
  const results = flow.outputs.map((o) => names[o.value]);
  return {
    definition: [
      'class Model(nn.Module):',
      '    def __init__(self):',
      '        super().__init__()',
      ...init,
      '',
      `    def forward(self, ${params.join(', ')}):`,
      ...forward,
      `        return ${results.length === 1 ? results[0] : `${results.join(', ')}`}`,
      '',
      '',
      'model = Model()',
    ],
    entries,
    inputs,
  };
}

/** The Python source of the equivalent module, with the helpers it uses: `model = nn.Sequential(...)` or `model = Model()`. */
export function torchSource(model: Model): string {
  const { definition, inputs } = torchPlan(model);
  const helpers = [
    'import torch',
    'from torch import nn',
    '',
    '',
    'class _KerasRNN(nn.Module):',
    '    """Keras\'s LSTM/GRU: batch-first sequences, zero initial state, the last output or every one."""',
    '    def __init__(self, rnn, return_sequences):',
    '        super().__init__()',
    '        self.rnn, self.return_sequences = rnn, return_sequences',
    '',
    '    def forward(self, x):',
    '        y, _ = self.rnn(x)',
    '        return y if self.return_sequences else y[:, -1]',
    '',
    '',
    'def KerasLSTM(input_size, units, return_sequences=False, bias=True):',
    '    return _KerasRNN(nn.LSTM(input_size, units, batch_first=True, bias=bias), return_sequences)',
    '',
    '',
    'def KerasGRU(input_size, units, return_sequences=False, bias=True):',
    '    return _KerasRNN(nn.GRU(input_size, units, batch_first=True, bias=bias), return_sequences)',
    '',
    '',
    'class KerasReshape(nn.Module):',
    '    def __init__(self, *shape):',
    '        super().__init__()',
    '        self.shape = shape',
    '',
    '    def forward(self, x):',
    '        return x.reshape(x.shape[0], *self.shape)',
    '',
    '',
  ];
  return [...helpers, `# input: ${inputs}`, ...definition, ''].join('\n');
}
