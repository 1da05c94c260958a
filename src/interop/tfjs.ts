/**
 * TensorFlow.js layers models both ways: `exportTfjs(model)` gives the model.json object and
 * the weights' bytes that `tf.loadLayersModel` loads; `importTfjs(modelJson, weightData)`
 * rebuilds a Sequential from a TensorFlow.js (or Keras) layers model and loads its weights.
 * Layer configs are Keras's snake_case; weights are named `{layer}/{weight}` in the manifest.
 */
import { ArgumentError } from '../errors.js';
import { ENGINE_VERSION } from '../version.js';
import { CheckpointError } from '../state/errors.js';
import type { Layer } from '../nn/layer.js';
import { layerFromConfig } from '../nn/registry.js';
import { Sequential } from '../model/sequential.js';
import { kerasLayerNames } from '../model/keras-names.js';

type Json = Record<string, any>;
const INITIALIZER: Record<string, string> = { glorotUniform: 'GlorotUniform', heNormal: 'HeNormal', zeros: 'Zeros', ones: 'Ones', orthogonal: 'Orthogonal', uniform: 'RandomUniform' };
const init = (name: string) => ({ class_name: INITIALIZER[name] ?? 'GlorotUniform', config: name === 'uniform' ? { minval: -0.05, maxval: 0.05 } : {} });

/** Waypoint class ↔ Keras class, where they differ. */
const KERAS_CLASS: Record<string, string> = { MaxPool2D: 'MaxPooling2D' };
const WAYPOINT_CLASS: Record<string, string> = { MaxPooling2D: 'MaxPool2D', MaxPool2D: 'MaxPool2D', AvgPool2D: 'AveragePooling2D', GlobalAvgPool2D: 'GlobalAveragePooling2D', GlobalMaxPool2D: 'GlobalMaxPooling2D' };

function kerasConfig(layer: Layer): Json {
  const c = layer.getConfig() as Json;
  const weights = () => ({ use_bias: c.useBias, kernel_initializer: init(c.kernelInitializer), bias_initializer: init(c.biasInitializer),
    kernel_regularizer: null, bias_regularizer: null, activity_regularizer: null, kernel_constraint: null, bias_constraint: null });
  switch (layer.className) {
    case 'Dense': return { units: c.units, activation: c.activation, ...weights() };
    case 'Conv2D': return { filters: c.filters, kernel_size: c.kernelSize, strides: c.strides, padding: c.padding, data_format: 'channels_last',
      dilation_rate: c.dilationRate ?? [1, 1], activation: c.activation, ...weights() };
    case 'MaxPool2D': case 'AveragePooling2D': return { pool_size: c.poolSize, strides: c.strides, padding: c.padding, data_format: 'channels_last' };
    case 'GlobalAveragePooling2D': case 'GlobalMaxPooling2D': return { data_format: 'channels_last' };
    case 'Flatten': return {};
    case 'Reshape': return { target_shape: c.targetShape };
    case 'Dropout': return { rate: c.rate };
    case 'Activation': return { activation: c.activation };
    case 'BatchNormalization': return { axis: -1, momentum: c.momentum, epsilon: c.epsilon, center: c.center, scale: c.scale };
    case 'LayerNormalization': return { axis: -1, epsilon: c.epsilon, center: c.center, scale: c.scale };
    case 'Embedding': return { input_dim: c.inputDim, output_dim: c.outputDim, embeddings_initializer: init(c.embeddingsInitializer) };
    case 'LSTM': return { units: c.units, activation: c.activation, recurrent_activation: c.recurrentActivation, use_bias: c.useBias, return_sequences: c.returnSequences,
      unit_forget_bias: c.unitForgetBias, kernel_initializer: init(c.kernelInitializer), recurrent_initializer: init(c.recurrentInitializer), bias_initializer: init(c.biasInitializer) };
    default: throw new ArgumentError(`TensorFlow.js export: ${layer.describe()} has no TensorFlow.js equivalent${layer.className === 'GRU' ? ' (TensorFlow.js\'s GRU has no resetAfter)' : ''}`);
  }
}

export interface TfjsArtifacts {
  /** model.json's content (its weightsManifest names `weights.bin`). */
  modelJson: Json;
  /** weights.bin's content: every weight, float32, in the manifest's order. */
  weightData: Uint8Array;
}

export function exportTfjs(model: Sequential): TfjsArtifacts {
  if (!model.built) model.build();
  const names = kerasLayerNames(model);
  const layers = model.layers.map((l, i) => ({
    class_name: KERAS_CLASS[l.className] ?? l.className,
    config: { name: names[i], trainable: l.trainable, dtype: 'float32', ...(i === 0 ? { batch_input_shape: [null, ...model.inputShapeOf()] } : {}), ...kerasConfig(l) },
  }));
  const weights = model.layers.flatMap((l, i) => l.namedWeights().map(([w, t]) => ({ spec: { name: `${names[i]}/${w}`, shape: t.shape, dtype: 'float32' }, data: t.data })));
  const weightData = new Uint8Array(weights.reduce((n, w) => n + w.data.byteLength, 0));
  let at = 0;
  for (const w of weights) { weightData.set(new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength), at); at += w.data.byteLength; }
  return {
    modelJson: {
      format: 'layers-model', generatedBy: `waypoint ${ENGINE_VERSION}`, convertedBy: null,
      modelTopology: { class_name: 'Sequential', config: { name: model.name, layers }, keras_version: 'tfjs-layers 4.22.0', backend: 'tensor_flow.js' },
      weightsManifest: [{ paths: ['weights.bin'], weights: weights.map((w) => w.spec) }],
    },
    weightData,
  };
}

const camel = (k: string) => k.replace(/_([a-z])/g, (_, ch: string) => ch.toUpperCase());
const INITIALIZER_BACK: Record<string, string> = Object.fromEntries(Object.entries(INITIALIZER).map(([k, v]) => [v, k]));

/** A Keras/TensorFlow.js layer config as Waypoint's, checked for what Waypoint cannot do. */
function waypointConfig(className: string, k: Json, name: string): Json {
  const refuse = (why: string): never => { throw new ArgumentError(`TensorFlow.js import: layer '${name}' (${className}) ${why}`); };
  if (k.data_format && k.data_format !== 'channels_last') refuse(`has data_format '${k.data_format}'; Waypoint is channels_last (NHWC)`);
  if (className === 'GRU' && k.reset_after === false) refuse('has reset_after: false; Waypoint\'s GRU is resetAfter: true');
  const out: Json = {};
  for (const [key, v] of Object.entries(k)) {
    if (['name', 'dtype', 'trainable', 'batch_input_shape', 'batch_shape', 'data_format', 'axis', 'input_length'].includes(key) || key.endsWith('_regularizer') || key.endsWith('_constraint')) continue;
    if (key.endsWith('_initializer')) {
      const cls = (v as Json | null)?.class_name;
      if (INITIALIZER_BACK[cls]) out[camel(key)] = INITIALIZER_BACK[cls];
      continue;
    }
    if (['activation', 'recurrent_activation'].includes(key) && !['linear', 'relu', 'sigmoid', 'tanh', 'softmax'].includes(v as string)) {
      refuse(`has ${key} '${String(v)}'${v === 'hard_sigmoid' ? ' (TensorFlow.js\'s default for recurrent layers)' : ''}; Waypoint has linear, relu, sigmoid, tanh and softmax`);
    }
    if (['dropout', 'recurrent_dropout'].includes(key) && v) refuse(`has ${key} ${v}, which Waypoint's recurrent layers do not have`);
    if (['dropout', 'recurrent_dropout', 'implementation', 'stateful', 'unroll', 'go_backwards', 'return_state', 'reset_after', 'seed', 'noise_shape'].includes(key)) {
      if (['stateful', 'go_backwards', 'return_state'].includes(key) && v) refuse(`has ${key}: true, which Waypoint does not do`);
      continue;
    }
    out[camel(key)] = v;
  }
  return out;
}

/**
 * A Sequential rebuilt from a TensorFlow.js layers model: `modelJson` is model.json's
 * content, `weightData` the concatenated bytes of its weight files (one ArrayBuffer, as
 * tf.io gives them). Weights are matched by name, strictly: a missing, extra or mis-shaped
 * one is a CheckpointError naming it.
 */
export function importTfjs(modelJson: Json, weightData: Uint8Array): Sequential {
  const topology = modelJson.modelTopology?.model_config ?? modelJson.modelTopology;
  if (topology?.class_name !== 'Sequential') throw new ArgumentError(`TensorFlow.js import: only Sequential models, got ${JSON.stringify(topology?.class_name)}`);
  const kerasLayers = (topology.config.layers ?? topology.config) as Json[];
  const inputLayer = kerasLayers[0]?.class_name === 'InputLayer' ? kerasLayers[0] : null;
  const layersJson = kerasLayers.filter((l) => l.class_name !== 'InputLayer');
  const firstShape = (inputLayer?.config.batch_input_shape ?? inputLayer?.config.batch_shape ?? layersJson[0]?.config.batch_input_shape) as Array<number | null> | undefined;
  if (!firstShape) throw new ArgumentError('TensorFlow.js import: the model has no input shape (batch_input_shape of its first layer)');
  const layers = layersJson.map((l, i) => {
    const className = WAYPOINT_CLASS[l.class_name] ?? l.class_name;
    const config = waypointConfig(className, l.config, l.config.name);
    return layerFromConfig({ className, config: { ...config, name: l.config.name, ...(i === 0 ? { inputShape: firstShape.slice(1) } : {}) } });
  });
  const model = new Sequential(layers, { name: topology.config.name ?? 'sequential' });
  // Waypoint's normalizations act on the last axis: an axis given as a number or a one-element list must name it.
  let shape = model.inputShapeOf();
  layersJson.forEach((l, i) => {
    const axis = l.config.axis;
    if (['BatchNormalization', 'LayerNormalization'].includes(l.class_name) && axis !== undefined) {
      const a = Array.isArray(axis) && axis.length === 1 ? axis[0] : axis, rank = shape.length + 1;
      if (!(Number.isInteger(a) && (a < 0 ? a + rank : a) === rank - 1)) {
        throw new ArgumentError(`TensorFlow.js import: layer '${l.config.name}' (${l.class_name}) normalizes axis ${JSON.stringify(axis)} of rank-${rank} inputs; Waypoint normalizes the last axis`);
      }
    }
    shape = model.layers[i].outputShape(shape);
  });
  // The manifest, in file order: each weight's name, shape and where its bytes are.
  const specs = ((modelJson.weightsManifest ?? []) as Json[]).flatMap((g) => g.weights as Array<{ name: string; shape: number[]; dtype: string }>);
  const byName = new Map<string, { shape: number[]; data: Float32Array }>();
  let at = 0;
  for (const s of specs) {
    if (s.dtype !== 'float32') throw new ArgumentError(`TensorFlow.js import: weight '${s.name}' is ${s.dtype}; only float32 weights are read`);
    const size = s.shape.reduce((a, b) => a * b, 1);
    if (at + size * 4 > weightData.length) throw new CheckpointError('TRUNCATED', `TensorFlow.js import: weight '${s.name}' needs bytes ${at}–${at + size * 4}, but the weight data has ${weightData.length}`);
    byName.set(s.name, { shape: s.shape, data: new Float32Array(weightData.slice(at, at + size * 4).buffer) });
    at += size * 4;
  }
  const names = model.layers.map((l) => l.name);
  const used = new Set<string>();
  model.layers.forEach((layer, i) => {
    const values = layer.namedWeights().map(([w, t]) => {
      const key = `${names[i]}/${w}`;
      const found = byName.get(key) ?? [...byName.entries()].find(([k]) => k.endsWith(`/${key}`))?.[1];
      if (!found) throw new CheckpointError('MISSING_KEYS', `TensorFlow.js import: no weight '${key}' in the manifest (it has ${[...byName.keys()].join(', ')})`);
      if (found.shape.join() !== t.shape.join()) throw new CheckpointError('SHAPE_MISMATCH', `TensorFlow.js import: weight '${key}' is [${found.shape.join(', ')}], the layer needs [${t.shape.join(', ')}]`);
      used.add(key);
      return found.data;
    });
    layer.setWeights(values);
  });
  const unused = [...byName.keys()].filter((k) => ![...used].some((u) => k === u || k.endsWith(`/${u}`)));
  if (unused.length) throw new CheckpointError('UNEXPECTED_KEYS', `TensorFlow.js import: weights no layer takes: ${unused.join(', ')}`);
  return model;
}
