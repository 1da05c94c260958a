import { basename, dirname, join } from 'node:path';
import { exportSafetensors } from '../interop/weights.js';
import { torchSource } from '../interop/torch-layout.js';
import { exportOnnx } from '../interop/onnx.js';
import { exportTfjs } from '../interop/tfjs.js';
import type { Model } from '../model/model.js';
import { modelFromFile } from '../model/load.js';
import { isHttpUrl } from '../storage/http.js';
import { isS3Url } from '../s3/index.js';
import { type Command, UsageError } from './args.js';
import { checkOutputs, writeOutput } from './output.js';

/** The files of a TensorFlow.js layers model in `outDir`. */
const tfjsFiles = (outDir: string) => [join(outDir, 'weights.bin'), join(outDir, 'model.json')];

/** model.json + weights.bin that `tf.loadLayersModel` loads (the weights first: model.json names them). Returns the written paths. */
export async function writeTfjs(model: Model, outDir: string): Promise<string[]> {
  const { modelJson, weightData } = exportTfjs(model);
  const [weights, json] = tfjsFiles(outDir);
  await writeOutput(weights, weightData);
  await writeOutput(json, JSON.stringify(modelJson));
  return [json, weights];
}

export const exportCommand: Command = {
  name: 'export',
  title: 'export to TensorFlow.js, safetensors or ONNX',
  summary:
    "Export a model (or weights) file to a TensorFlow.js layers model (model.json + weights.bin) or a safetensors file, in Keras's layout (layers.0.kernel) or PyTorch's (the state_dict of the equivalent nn.Sequential, or of a functional model's nn.Module with its forward, whose Python source is written beside it).",
  usage:
    'export FILE --to tfjs|safetensors|onnx [--layout keras|torch] [--opset N] [--weights raw|ema] [--out PATH] [--overwrite]',
  options: {
    to: { type: 'string', help: 'tfjs, safetensors or onnx' },
    opset: { type: 'string', default: '17', help: 'ONNX operator set version (at least 13)' },
    layout: { type: 'string', help: 'safetensors names and shapes: keras (the default) or torch' },
    out: { type: 'string', help: 'output directory (tfjs) or file (safetensors); default next to FILE' },
    overwrite: { type: 'boolean', default: false, help: 'replace existing output files (never FILE itself)' },
    weights: {
      type: 'string',
      default: 'raw',
      help: "raw (the trained weights) or ema (the optimizer's moving averages, from a model file whose optimizer has ema)",
    },
  },
  async run(positionals, v) {
    if (positionals.length !== 1) throw new UsageError('export: give exactly one FILE');
    const file = positionals[0];
    if (v.to !== 'tfjs' && v.to !== 'safetensors' && v.to !== 'onnx')
      throw new UsageError(`export: --to must be tfjs, safetensors or onnx, got '${String(v.to ?? '')}'`);
    // A remote file's exports go to the working directory (unless --out says where).
    const remote = isHttpUrl(file) || isS3Url(file);
    const stem = remote ? basename(file, '.wpt') : join(dirname(file), basename(file, '.wpt'));
    if (v.layout !== undefined && v.to !== 'safetensors')
      throw new UsageError(
        `export: --layout applies to --to safetensors only (TensorFlow.js and ONNX have one layout each)`,
      );
    const layout = v.layout ?? 'keras';
    if (layout !== 'keras' && layout !== 'torch')
      throw new UsageError(`export: --layout must be keras or torch, got '${String(layout)}'`);
    const overwrite = v.overwrite === true;
    if (v.weights !== 'raw' && v.weights !== 'ema')
      throw new UsageError(`export: --weights must be raw or ema, got '${String(v.weights)}'`);
    const weights = v.weights;
    if (v.to === 'onnx') {
      const out = (v.out as string) ?? `${stem}.onnx`;
      checkOutputs('export', file, [out], overwrite);
      const model = await modelFromFile(file, { weights });
      await writeOutput(out, exportOnnx(model, { opset: Number(v.opset) }));
      const { inputs, outputs } = model.dataflow();
      const named = (what: string, list: Array<{ name: string }>) =>
        `${what}${list.length > 1 ? 's' : ''} ${list.map((v) => `'${v.name}'`).join(', ')}`;
      console.log(
        `wrote ${out} (${named('input', inputs)}: NHWC as Waypoint takes it, batch dimension dynamic; ${named('output', outputs)})`,
      );
      return;
    }
    if (v.to === 'tfjs') {
      const outDir = (v.out as string) ?? `${stem}-tfjs`;
      checkOutputs('export', file, tfjsFiles(outDir), overwrite);
      console.log(`wrote ${(await writeTfjs(await modelFromFile(file, { weights }), outDir)).join(', ')}`);
      return;
    }
    const out = (v.out as string) ?? `${stem}${layout === 'torch' ? '.torch' : ''}.safetensors`;
    const source = layout === 'torch' ? `${out.replace(/\.safetensors$/, '')}.py` : null;
    checkOutputs('export', file, source ? [out, source] : [out], overwrite);
    const model = await modelFromFile(file, { weights });
    await writeOutput(out, exportSafetensors(model, { layout }));
    if (source) await writeOutput(source, torchSource(model));
    console.log(`wrote ${[out, ...(source ? [source] : [])].join(', ')}`);
  },
};
