/** `waypoint import`: weights trained elsewhere (a safetensors file, Keras or PyTorch layout) into a Waypoint model file. */
import { readFileSync } from 'node:fs';
import { importSafetensors } from '../interop/weights.js';
import { loadModel } from '../model/persistence.js';
import { type Command, UsageError } from './args.js';

export const importCommand: Command = {
  name: 'import',
  title: 'import safetensors weights into a model file',
  summary: 'Load the weights of a safetensors file (Keras layout, or PyTorch\'s state_dict of the equivalent nn.Sequential: see waypoint export --layout torch) into the architecture of a Waypoint model file, and save the result. Every tensor must be there with its shape unless --partial.',
  usage: 'import FILE --from safetensors --like MODEL.wpt --out MODEL.wpt [--layout keras|torch] [--partial]',
  options: {
    from: { type: 'string', help: 'the format of FILE: safetensors' },
    like: { type: 'string', help: 'a Waypoint model file with the architecture (its weights are replaced)' },
    out: { type: 'string', help: 'the model file to write' },
    layout: { type: 'string', default: 'keras', help: 'keras or torch' },
    partial: { type: 'boolean', default: false, help: 'load what matches and list the rest, instead of refusing' },
  },
  async run(positionals, v) {
    if (positionals.length !== 1) throw new UsageError('import: give exactly one FILE');
    if (v.from !== 'safetensors') throw new UsageError(`import: --from must be safetensors (TensorFlow.js import is not built yet), got '${String(v.from ?? '')}'`);
    if (typeof v.like !== 'string' || typeof v.out !== 'string') throw new UsageError('import: give --like MODEL.wpt (the architecture) and --out MODEL.wpt');
    if (v.layout !== 'keras' && v.layout !== 'torch') throw new UsageError(`import: --layout must be keras or torch, got '${String(v.layout)}'`);
    const model = await loadModel(v.like);
    const report = importSafetensors(model, new Uint8Array(readFileSync(positionals[0])), { layout: v.layout, strict: v.partial !== true });
    await model.save(v.out);
    const skipped = [...report.missing.map((k) => `${k} (not in the file)`), ...report.unexpected.map((k) => `${k} (not in the model)`), ...report.mismatched.map((k) => `${k} (other shape)`)];
    console.log(`wrote ${v.out}${skipped.length ? `; left as they were or ignored: ${skipped.join(', ')}` : ''}`);
  },
};
