import { mkdirSync, writeFileSync } from 'node:fs';
import { kerasLayerNames } from '../model/keras-names.js';
import { basename, dirname, join } from 'node:path';
import { ENGINE_VERSION } from '../version.js';
import { exportSafetensors } from '../interop/weights.js';
import { torchSource } from '../interop/torch-layout.js';
import { exportOnnx } from '../interop/onnx.js';
import type { Layer } from '../nn/layer.js';
import type { Sequential } from '../model/sequential.js';
import { modelFromFile } from '../model/persistence.js';
import { type Command, UsageError } from './args.js';

const INITIALIZER: Record<string, string> = { glorotUniform: 'GlorotUniform', heNormal: 'HeNormal', zeros: 'Zeros', ones: 'Ones' };
const init = (name: string) => ({ class_name: INITIALIZER[name], config: {} });

/** A layer in TensorFlow.js / Keras layers-model JSON (snake_case config). */
function kerasLayer(layer: Layer, name: string, batchInputShape: number[] | null): { class_name: string; config: Record<string, unknown> } {
  const c = layer.getConfig() as Record<string, unknown>;
  const base: Record<string, unknown> = { name, trainable: layer.trainable, dtype: 'float32', ...(batchInputShape ? { batch_input_shape: [null, ...batchInputShape] } : {}) };
  const withWeights = () => ({ use_bias: c.useBias, kernel_initializer: init(c.kernelInitializer as string), bias_initializer: init(c.biasInitializer as string),
    kernel_regularizer: null, bias_regularizer: null, activity_regularizer: null, kernel_constraint: null, bias_constraint: null });
  switch (layer.className) {
    case 'Dense': return { class_name: 'Dense', config: { ...base, units: c.units, activation: c.activation, ...withWeights() } };
    case 'Conv2D': return { class_name: 'Conv2D', config: { ...base, filters: c.filters, kernel_size: c.kernelSize, strides: c.strides, padding: c.padding,
      data_format: 'channels_last', dilation_rate: [1, 1], activation: c.activation, ...withWeights() } };
    case 'MaxPool2D': return { class_name: 'MaxPooling2D', config: { ...base, pool_size: c.poolSize, strides: c.strides, padding: c.padding, data_format: 'channels_last' } };
    case 'Flatten': return { class_name: 'Flatten', config: base };
    case 'Dropout': return { class_name: 'Dropout', config: { ...base, rate: c.rate } };
    case 'Activation': return { class_name: 'Activation', config: { ...base, activation: c.activation } };
    default: throw new UsageError(`export: layer class ${layer.className} has no TensorFlow.js equivalent here`);
  }
}

function concat(parts: Float32Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) { out.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), at); at += p.byteLength; }
  return out;
}

/** model.json + weights.bin that `tf.loadLayersModel` loads. Returns the written paths. */
export function exportTfjs(model: Sequential, outDir: string): string[] {
  const names = kerasLayerNames(model);
  const inputShape = model.inputShapeOf();
  const layers = model.layers.map((l, i) => kerasLayer(l, names[i], i === 0 ? inputShape : null));
  const weights = model.layers.flatMap((l, i) => l.namedWeights().map(([w, t]) => ({ spec: { name: `${names[i]}/${w}`, shape: t.shape, dtype: 'float32' }, data: t.data })));
  const modelJson = {
    format: 'layers-model', generatedBy: `waypoint ${ENGINE_VERSION}`, convertedBy: null,
    modelTopology: { class_name: 'Sequential', config: { name: model.name, layers }, keras_version: 'tfjs-layers 4.22.0', backend: 'tensor_flow.js' },
    weightsManifest: [{ paths: ['weights.bin'], weights: weights.map((w) => w.spec) }],
  };
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'model.json'), JSON.stringify(modelJson));
  writeFileSync(join(outDir, 'weights.bin'), concat(weights.map((w) => w.data)));
  return [join(outDir, 'model.json'), join(outDir, 'weights.bin')];
}

export const exportCommand: Command = {
  name: 'export',
  title: 'export to TensorFlow.js, safetensors or ONNX',
  summary: 'Export a model (or weights) file to a TensorFlow.js layers model (model.json + weights.bin) or a safetensors file, in Keras\'s layout (layers.0.kernel) or PyTorch\'s (the state_dict of the equivalent nn.Sequential, whose Python source is written beside it).',
  usage: 'export FILE --to tfjs|safetensors|onnx [--layout keras|torch] [--opset N] [--out PATH]',
  options: {
    to: { type: 'string', help: 'tfjs, safetensors or onnx' },
    opset: { type: 'string', default: '17', help: 'ONNX operator set version (at least 13)' },
    layout: { type: 'string', default: 'keras', help: 'safetensors names and shapes: keras or torch' },
    out: { type: 'string', help: 'output directory (tfjs) or file (safetensors); default next to FILE' },
  },
  async run(positionals, v) {
    if (positionals.length !== 1) throw new UsageError('export: give exactly one FILE');
    const file = positionals[0];
    if (v.to !== 'tfjs' && v.to !== 'safetensors' && v.to !== 'onnx') throw new UsageError(`export: --to must be tfjs, safetensors or onnx, got '${String(v.to ?? '')}'`);
    const model = await modelFromFile(file);
    const stem = join(dirname(file), basename(file, '.wpt'));
    if (v.layout !== 'keras' && v.layout !== 'torch') throw new UsageError(`export: --layout must be keras or torch, got '${String(v.layout)}'`);
    if (v.to === 'onnx') {
      const out = (v.out as string) ?? `${stem}.onnx`;
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, exportOnnx(model, { opset: Number(v.opset) }));
      console.log(`wrote ${out} (input 'input': NHWC as Waypoint takes it, batch dimension dynamic; output 'output')`);
      return;
    }
    if (v.to === 'tfjs') {
      console.log(`wrote ${exportTfjs(model, (v.out as string) ?? `${stem}-tfjs`).join(', ')}`);
      return;
    }
    const out = (v.out as string) ?? `${stem}${v.layout === 'torch' ? '.torch' : ''}.safetensors`;
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, exportSafetensors(model, { layout: v.layout }));
    const written = [out];
    if (v.layout === 'torch') {
      const source = out.replace(/\.safetensors$/, '') + '.py';
      writeFileSync(source, torchSource(model));
      written.push(source);
    }
    console.log(`wrote ${written.join(', ')}`);
  },
};
