/**
 * TensorFlow.js layers models both ways: `exportTfjs(model)` gives the model.json object and
 * the weights' bytes that `tf.loadLayersModel` loads; `importTfjs(modelJson, weightData)`
 * rebuilds a Sequential from a TensorFlow.js (or Keras) layers model and loads its weights.
 * Layer configs are Keras's snake_case; weights are named `{layer}/{weight}` in the manifest.
 */
import { ArgumentError, listSome } from '../errors.js';
import { staysInside } from '../paths.js';
import { ENGINE_VERSION } from '../version.js';
import { CheckpointError } from '../state/errors.js';
import type { Layer } from '../nn/layer.js';
import { layerFromConfig } from '../nn/registry.js';
import { withWeightBudget } from '../nn/initializers.js';
import { Sequential } from '../model/sequential.js';
import type { Model } from '../model/model.js';
import type { Dataflow } from '../model/dataflow.js';
import { kerasLayerNames, snakeCase } from '../model/keras-names.js';

type Json = Record<string, any>;
const INITIALIZER: Record<string, string> = {
  glorotUniform: 'GlorotUniform',
  heNormal: 'HeNormal',
  zeros: 'Zeros',
  ones: 'Ones',
  orthogonal: 'Orthogonal',
  uniform: 'RandomUniform',
};
const init = (name: string) => ({
  class_name: INITIALIZER[name] ?? 'GlorotUniform',
  config: name === 'uniform' ? { minval: -0.05, maxval: 0.05 } : {},
});

/** TensorFlow.js's class names (and aliases) for Waypoint's, where they differ. */
const WAYPOINT_CLASS: Record<string, string> = {
  MaxPooling2D: 'MaxPool2D',
  MaxPool2D: 'MaxPool2D',
  AvgPool2D: 'AveragePooling2D',
  GlobalAvgPool2D: 'GlobalAveragePooling2D',
  GlobalMaxPool2D: 'GlobalMaxPooling2D',
};

/** TensorFlow.js's layer classes that a Waypoint layer can be (a custom layer of another class has no equivalent there). */
const TFJS_CLASSES = new Set([
  'Dense',
  'Conv2D',
  'MaxPooling2D',
  'AveragePooling2D',
  'GlobalAveragePooling2D',
  'GlobalMaxPooling2D',
  'Flatten',
  'Reshape',
  'Dropout',
  'Activation',
  'BatchNormalization',
  'LayerNormalization',
  'Embedding',
  'LSTM',
  'GRU',
  'Add',
  'Multiply',
  'Average',
  'Maximum',
  'Minimum',
  'Concatenate',
]);

/** Config keys that stay Waypoint's own: the name and input shape are written by the model, not the layer. */
const NOT_KERAS = new Set(['name', 'inputShape', 'trainable']);

/**
 * A layer's Keras config, by one rule for every layer: its `getConfig()` snake-cased
 * (initializer names as Keras's objects), after what the layer declares beside its class
 * (`kerasConfigExtras`). Refused: what TensorFlow.js's layers cannot express.
 */
function kerasConfig(layer: Layer): Json {
  if (!TFJS_CLASSES.has(layer.kerasClassName))
    throw new ArgumentError(`TensorFlow.js export: ${layer.describe()} has no TensorFlow.js equivalent`);
  const out: Json = { ...layer.kerasConfigExtras() };
  for (const [key, value] of Object.entries(layer.getConfig())) {
    if (NOT_KERAS.has(key) || value === undefined) continue;
    out[snakeCase(key)] = key.endsWith('Initializer') ? init(value as string) : value;
  }
  // TensorFlow.js's GRU has only the original formulation (reset gate before the recurrent matmul).
  if (out.reset_after === true)
    throw new ArgumentError(
      `TensorFlow.js export: ${layer.describe()} has no TensorFlow.js equivalent (TensorFlow.js's GRU has no resetAfter)`,
    );
  return out;
}

export interface TfjsArtifacts {
  /** model.json's content (its weightsManifest names `weights.bin`). */
  modelJson: Json;
  /** weights.bin's content: every weight, float32, in the manifest's order. */
  weightData: Uint8Array;
}

/** TensorFlow.js's layers of a Sequential: the first carries the batch input shape. */
function sequentialLayers(model: Sequential): { layers: Json[]; names: string[] } {
  const names = kerasLayerNames(model);
  const layers = model.layers.map((l, i) => ({
    class_name: l.kerasClassName,
    config: {
      name: names[i],
      trainable: l.trainable,
      dtype: 'float32',
      ...(i === 0 ? { batch_input_shape: [null, ...model.inputShapeOf()] } : {}),
      ...kerasConfig(l),
    },
  }));
  return { layers, names };
}

/**
 * A functional model's layers as Keras lays them out: its InputLayers, then each layer once
 * with the calls that feed it (`inbound_nodes`: [layer, call, output] of each input), and the
 * model's input and output tensors. A nested model is inlined, its layers named
 * `outer_inner`.
 */
function functionalConfig(flow: Dataflow): { config: Json; layers: Layer[]; names: string[] } {
  const taken = new Set<string>();
  const unique = (name: string) => {
    while (taken.has(name)) name = `${name}_`;
    taken.add(name);
    return name;
  };
  type Ref = [string, number, number];
  const refs: Ref[] = [];
  const entries: Json[] = flow.inputs.map(({ name, value }) => {
    refs[value] = [unique(name), 0, 0];
    const config = {
      batch_input_shape: [null, ...flow.shapes[value]],
      dtype: 'float32',
      sparse: false,
      name: refs[value][0],
    };
    return { class_name: 'InputLayer', name: config.name, config, inbound_nodes: [] };
  });
  const layers: Layer[] = [];
  const names: string[] = [];
  const byLayer = new Map<Layer, Json>();
  for (const call of flow.calls) {
    let entry = byLayer.get(call.layer);
    if (entry === undefined) {
      const name = unique(call.key.replace(/(^|\.)layers\./g, '$1').replaceAll('.', '_'));
      const config = { name, trainable: call.layer.trainable, dtype: 'float32', ...kerasConfig(call.layer) };
      entry = { class_name: call.layer.kerasClassName, name, config, inbound_nodes: [] };
      byLayer.set(call.layer, entry);
      entries.push(entry);
      layers.push(call.layer);
      names.push(name);
    }
    const node = entry.inbound_nodes.length;
    entry.inbound_nodes.push(call.inputs.map((v) => [...refs[v], {}]));
    call.outputs.forEach((v, i) => (refs[v] = [entry.name, node, i]));
  }
  const config = {
    layers: entries,
    input_layers: flow.inputs.map((i) => refs[i.value]),
    output_layers: flow.outputs.map((o) => refs[o.value]),
  };
  return { config, layers, names };
}

export function exportTfjs(model: Model): TfjsArtifacts {
  const flow = model.dataflow();
  const sequential = model instanceof Sequential && flow.calls.length === model.layers.length;
  let topology: Json, layers: Layer[], names: string[];
  if (sequential) {
    const stack = sequentialLayers(model);
    topology = { class_name: 'Sequential', config: { name: model.name, layers: stack.layers } };
    [layers, names] = [model.layers, stack.names];
  } else {
    const graph = functionalConfig(flow);
    topology = { class_name: 'Model', config: { name: model.name, ...graph.config } };
    [layers, names] = [graph.layers, graph.names];
  }
  const weights = layers.flatMap((l, i) =>
    l
      .namedWeights()
      .map(([w, t]) => ({ spec: { name: `${names[i]}/${w}`, shape: t.shape, dtype: 'float32' }, data: t.data })),
  );
  const weightData = new Uint8Array(weights.reduce((n, w) => n + w.data.byteLength, 0));
  let at = 0;
  for (const w of weights) {
    weightData.set(new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength), at);
    at += w.data.byteLength;
  }
  return {
    modelJson: {
      format: 'layers-model',
      generatedBy: `waypoint ${ENGINE_VERSION}`,
      convertedBy: null,
      modelTopology: { ...topology, keras_version: 'tfjs-layers 4.22.0', backend: 'tensor_flow.js' },
      weightsManifest: [{ paths: ['weights.bin'], weights: weights.map((w) => w.spec) }],
    },
    weightData,
  };
}

const camel = (k: string) => k.replace(/_([a-z])/g, (_, ch: string) => ch.toUpperCase());
const INITIALIZER_BACK: Record<string, string> = Object.fromEntries(
  Object.entries(INITIALIZER).map(([k, v]) => [v, k]),
);

/** A Keras/TensorFlow.js layer config as Waypoint's, checked for what Waypoint cannot do. */
function waypointConfig(className: string, k: Json, name: string): Json {
  const refuse = (why: string): never => {
    throw new ArgumentError(`TensorFlow.js import: layer '${name}' (${className}) ${why}`);
  };
  if (k.data_format && k.data_format !== 'channels_last')
    refuse(`has data_format '${k.data_format}'; Waypoint is channels_last (NHWC)`);
  if (className === 'GRU' && k.reset_after === false)
    refuse("has reset_after: false; Waypoint's GRU is resetAfter: true");
  const out: Json = {};
  for (const [key, v] of Object.entries(k)) {
    if (
      [
        'name',
        'dtype',
        'trainable',
        'batch_input_shape',
        'batch_shape',
        'data_format',
        'axis',
        'input_length',
      ].includes(key) ||
      key.endsWith('_regularizer') ||
      key.endsWith('_constraint')
    )
      continue;
    if (key.endsWith('_initializer')) {
      const cls = (v as Json | null)?.class_name;
      if (INITIALIZER_BACK[cls]) out[camel(key)] = INITIALIZER_BACK[cls];
      continue;
    }
    if (
      ['activation', 'recurrent_activation'].includes(key) &&
      !['linear', 'relu', 'sigmoid', 'tanh', 'softmax'].includes(v as string)
    ) {
      refuse(
        `has ${key} '${String(v)}'${v === 'hard_sigmoid' ? " (TensorFlow.js's default for recurrent layers)" : ''}; Waypoint has linear, relu, sigmoid, tanh and softmax`,
      );
    }
    if (['dropout', 'recurrent_dropout'].includes(key) && v)
      refuse(`has ${key} ${v}, which Waypoint's recurrent layers do not have`);
    if (
      [
        'dropout',
        'recurrent_dropout',
        'implementation',
        'stateful',
        'unroll',
        'go_backwards',
        'return_state',
        'reset_after',
        'seed',
        'noise_shape',
      ].includes(key)
    ) {
      if (['stateful', 'go_backwards', 'return_state'].includes(key) && v)
        refuse(`has ${key}: true, which Waypoint does not do`);
      continue;
    }
    out[camel(key)] = v;
  }
  return out;
}

/** A model.json that is not a layers model Waypoint can read: says what and where. */
const malformed = (what: string) => new CheckpointError('MALFORMED_HEADER', `TensorFlow.js import: ${what}`);

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** What model.json says of its weights, checked: the files to read, in order, and the bytes they must hold in all. */
export interface TfjsWeightsManifest {
  paths: string[];
  specs: Array<{ name: string; shape: number[]; dtype: 'float32' }>;
  /** The bytes of every weight, float32: exactly what the files together must hold. */
  bytes: number;
}

/**
 * Reads and checks model.json's `weightsManifest` before anything is read or allocated:
 * every path a relative one inside model.json's directory, every shape a list of
 * non-negative integers, every weight float32, and the total size exact.
 */
export function tfjsWeightsManifest(modelJson: unknown): TfjsWeightsManifest {
  if (!isObject(modelJson))
    throw malformed(`model.json must be a JSON object, got ${JSON.stringify(modelJson)?.slice(0, 40)}`);
  const groups = modelJson.weightsManifest ?? [];
  if (!Array.isArray(groups)) throw malformed(`weightsManifest must be a list, got ${typeof groups}`);
  const out: TfjsWeightsManifest = { paths: [], specs: [], bytes: 0 };
  groups.forEach((g: unknown, i) => {
    if (!isObject(g) || !Array.isArray(g.paths) || !Array.isArray(g.weights))
      throw malformed(`weightsManifest[${i}] must have lists 'paths' and 'weights'`);
    g.paths.forEach((p: unknown, j: number) => {
      if (!staysInside(p))
        throw new CheckpointError(
          'UNSAFE_PATH',
          `TensorFlow.js import: weightsManifest[${i}].paths[${j}] is ${JSON.stringify(p)}; weight files must be named relative to model.json's directory, inside it`,
        );
      out.paths.push(p);
    });
    g.weights.forEach((w: unknown, j: number) => {
      const where = `weightsManifest[${i}].weights[${j}]`;
      if (!isObject(w) || typeof w.name !== 'string') throw malformed(`${where} must be an object with a 'name'`);
      const { name, shape, dtype } = w;
      if (dtype !== 'float32')
        throw new ArgumentError(
          `TensorFlow.js import: weight '${name}' is ${JSON.stringify(dtype)}; only float32 weights are read`,
        );
      if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
        throw malformed(
          `weight '${name}' has shape ${JSON.stringify(shape)}; a shape is a list of non-negative integers`,
        );
      const bytes = shape.reduce((n: number, d: number) => n * d, 4);
      if (!Number.isSafeInteger(out.bytes + bytes))
        throw malformed(
          `weight '${name}' of shape [${shape.join(', ')}] makes the weights larger than any file can be`,
        );
      out.specs.push({ name, shape, dtype });
      out.bytes += bytes;
    });
  });
  return out;
}

/** The batch input shape of a layers model, checked: null or a size, then positive sizes. */
function batchInputShape(shape: unknown): number[] {
  const ok =
    Array.isArray(shape) &&
    shape.length >= 2 &&
    (shape[0] === null || Number.isSafeInteger(shape[0])) &&
    shape.slice(1).every((d) => Number.isSafeInteger(d) && d > 0);
  if (!ok) throw malformed(`the input shape ${JSON.stringify(shape)} is not [batch, ...positive sizes]`);
  return (shape as number[]).slice(1);
}

/**
 * A Sequential rebuilt from a TensorFlow.js layers model: `modelJson` is model.json's
 * content, `weightData` the concatenated bytes of its weight files (one ArrayBuffer, as
 * tf.io gives them). Weights are matched by name, strictly: a missing, extra or mis-shaped
 * one is a CheckpointError naming it; weight data longer or shorter than the manifest says is
 * refused. The layers are built within the weights present: a configuration that would
 * allocate more (`units: 1e9`) fails before allocating.
 */
export function importTfjs(modelJson: Json, weightData: Uint8Array): Sequential {
  const manifest = tfjsWeightsManifest(modelJson);
  if (weightData.length !== manifest.bytes) {
    throw new CheckpointError(
      weightData.length < manifest.bytes ? 'TRUNCATED' : 'MALFORMED_HEADER',
      `TensorFlow.js import: the manifest's weights take ${manifest.bytes} bytes, the weight data has ${weightData.length}` +
        (weightData.length > manifest.bytes ? ' (trailing bytes are refused)' : ''),
    );
  }
  const topology = isObject(modelJson.modelTopology)
    ? (modelJson.modelTopology.model_config ?? modelJson.modelTopology)
    : undefined;
  if (topology?.class_name !== 'Sequential')
    throw new ArgumentError(
      `TensorFlow.js import: only Sequential models, got ${JSON.stringify(topology?.class_name)}`,
    );
  const kerasLayers = (isObject(topology.config) ? topology.config.layers : topology.config) as unknown;
  if (!Array.isArray(kerasLayers)) throw malformed('the Sequential model has no list of layers');
  kerasLayers.forEach((l: unknown, i) => {
    if (!isObject(l) || typeof l.class_name !== 'string' || !isObject(l.config))
      throw malformed(
        `layers[${i}] must be an object with a 'class_name' and a 'config', got ${JSON.stringify(l)?.slice(0, 60)}`,
      );
  });
  const layersJson = (kerasLayers as Json[]).filter((l) => l.class_name !== 'InputLayer');
  const inputLayer = kerasLayers[0]?.class_name === 'InputLayer' ? (kerasLayers[0] as Json) : null;
  const firstShape =
    inputLayer?.config.batch_input_shape ?? inputLayer?.config.batch_shape ?? layersJson[0]?.config.batch_input_shape;
  if (!firstShape)
    throw new ArgumentError(
      'TensorFlow.js import: the model has no input shape (batch_input_shape of its first layer)',
    );
  const inputShape = batchInputShape(firstShape);
  const layers = layersJson.map((l, i) => {
    const className = WAYPOINT_CLASS[l.class_name] ?? l.class_name;
    const config = waypointConfig(className, l.config, l.config.name);
    return layerFromConfig({
      className,
      config: { ...config, name: l.config.name, ...(i === 0 ? { inputShape } : {}) },
    });
  });
  const model = new Sequential([], { name: topology.config.name ?? 'sequential' });
  withWeightBudget(manifest.bytes / 4, () =>
    layers.forEach((layer, i) => {
      try {
        model.add(layer);
      } catch (e) {
        if (e instanceof ArgumentError)
          throw new ArgumentError(
            `TensorFlow.js import: layer '${layersJson[i].config.name}' (${layersJson[i].class_name}): ${e.message}`,
          );
        throw e;
      }
    }),
  );
  // Waypoint's normalizations act on the last axis: an axis given as a number or a one-element list must name it.
  let shape = model.inputShapeOf();
  layersJson.forEach((l, i) => {
    const axis = l.config.axis;
    if (['BatchNormalization', 'LayerNormalization'].includes(l.class_name) && axis !== undefined) {
      const a = Array.isArray(axis) && axis.length === 1 ? axis[0] : axis,
        rank = shape.length + 1;
      if (!(Number.isInteger(a) && (a < 0 ? a + rank : a) === rank - 1)) {
        throw new ArgumentError(
          `TensorFlow.js import: layer '${l.config.name}' (${l.class_name}) normalizes axis ${JSON.stringify(axis)} of rank-${rank} inputs; Waypoint normalizes the last axis`,
        );
      }
    }
    shape = model.layers[i].outputShape(shape);
  });
  // The manifest, in file order: each weight's name, shape and where its bytes are.
  const byName = new Map<string, { shape: number[]; data: Float32Array }>();
  let at = 0;
  for (const s of manifest.specs) {
    const bytes = s.shape.reduce((a, b) => a * b, 4);
    byName.set(s.name, { shape: s.shape, data: new Float32Array(weightData.slice(at, at + bytes).buffer) });
    at += bytes;
  }
  const names = model.layers.map((l) => l.name);
  const used = new Set<string>();
  model.layers.forEach((layer, i) => {
    const values = layer.namedWeights().map(([w, t]) => {
      const key = `${names[i]}/${w}`;
      const found = byName.get(key) ?? [...byName.entries()].find(([k]) => k.endsWith(`/${key}`))?.[1];
      if (!found)
        throw new CheckpointError(
          'MISSING_KEYS',
          `TensorFlow.js import: no weight '${key}' in the manifest (it has ${listSome([...byName.keys()])})`,
        );
      if (found.shape.join() !== t.shape.join())
        throw new CheckpointError(
          'SHAPE_MISMATCH',
          `TensorFlow.js import: weight '${key}' is [${found.shape.join(', ')}], the layer needs [${t.shape.join(', ')}]`,
        );
      used.add(key);
      return found.data;
    });
    layer.setWeights(values);
  });
  const unused = [...byName.keys()].filter((k) => ![...used].some((u) => k === u || k.endsWith(`/${u}`)));
  if (unused.length)
    throw new CheckpointError('UNEXPECTED_KEYS', `TensorFlow.js import: weights no layer takes: ${listSome(unused)}`);
  return model;
}
