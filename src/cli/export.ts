import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { exportSafetensors } from '../interop/weights.js';
import { torchSource } from '../interop/torch-layout.js';
import { exportOnnx } from '../interop/onnx.js';
import { exportTfjs } from '../interop/tfjs.js';
import type { Sequential } from '../model/sequential.js';
import { modelFromFile } from '../model/persistence.js';
import { type Command, UsageError } from './args.js';

/** model.json + weights.bin that `tf.loadLayersModel` loads. Returns the written paths. */
export function writeTfjs(model: Sequential, outDir: string): string[] {
  const { modelJson, weightData } = exportTfjs(model);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'model.json'), JSON.stringify(modelJson));
  writeFileSync(join(outDir, 'weights.bin'), weightData);
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
      console.log(`wrote ${writeTfjs(model, (v.out as string) ?? `${stem}-tfjs`).join(', ')}`);
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
