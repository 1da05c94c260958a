/** `waypoint import`: a model or weights trained elsewhere (TensorFlow.js; safetensors in Keras's or PyTorch's layout) as a Waypoint model file. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { importSafetensors } from '../interop/weights.js';
import { importTfjs } from '../interop/tfjs.js';
import { loadModel } from '../model/persistence.js';
import { type Command, UsageError } from './args.js';

export const importCommand: Command = {
  name: 'import',
  title: 'import a TensorFlow.js model or safetensors weights',
  summary: 'Rebuild a TensorFlow.js layers model (FILE = model.json, its weight files beside it) as a Waypoint model file, or load the weights of a safetensors file (Keras layout, or PyTorch\'s state_dict of the equivalent nn.Sequential: see waypoint export --layout torch) into the architecture of a Waypoint model file (--like). Every tensor must be there with its shape unless --partial.',
  usage: 'import FILE --from tfjs|safetensors --out MODEL.wpt [--like MODEL.wpt] [--layout keras|torch] [--partial]',
  options: {
    from: { type: 'string', help: 'the format of FILE: tfjs or safetensors' },
    like: { type: 'string', help: 'safetensors: a Waypoint model file with the architecture (its weights are replaced)' },
    out: { type: 'string', help: 'the model file to write' },
    layout: { type: 'string', default: 'keras', help: 'keras or torch' },
    partial: { type: 'boolean', default: false, help: 'load what matches and list the rest, instead of refusing' },
  },
  async run(positionals, v) {
    if (positionals.length !== 1) throw new UsageError('import: give exactly one FILE');
    if (v.from !== 'safetensors' && v.from !== 'tfjs') throw new UsageError(`import: --from must be tfjs or safetensors, got '${String(v.from ?? '')}'`);
    if (typeof v.out !== 'string') throw new UsageError('import: give --out MODEL.wpt');
    if (v.from === 'tfjs') {
      const modelJson = JSON.parse(readFileSync(positionals[0], 'utf8'));
      const paths = ((modelJson.weightsManifest ?? []) as Array<{ paths: string[] }>).flatMap((g) => g.paths);
      const parts = paths.map((p) => readFileSync(join(dirname(positionals[0]), p)));
      const model = importTfjs(modelJson, new Uint8Array(Buffer.concat(parts)));
      await model.save(v.out);
      console.log(`wrote ${v.out} (${model.layers.length} layers, ${model.layers.reduce((n, l) => n + l.countParams(), 0)} weights, from ${paths.length} weight file${paths.length === 1 ? '' : 's'})`);
      return;
    }
    if (typeof v.like !== 'string') throw new UsageError('import: give --like MODEL.wpt (the architecture) for safetensors');
    if (v.layout !== 'keras' && v.layout !== 'torch') throw new UsageError(`import: --layout must be keras or torch, got '${String(v.layout)}'`);
    const model = await loadModel(v.like);
    const report = importSafetensors(model, new Uint8Array(readFileSync(positionals[0])), { layout: v.layout, strict: v.partial !== true });
    await model.save(v.out);
    const skipped = [...report.missing.map((k) => `${k} (not in the file)`), ...report.unexpected.map((k) => `${k} (not in the model)`), ...report.mismatched.map((k) => `${k} (other shape)`)];
    console.log(`wrote ${v.out}${skipped.length ? `; left as they were or ignored: ${skipped.join(', ')}` : ''}`);
  },
};
