/** `waypoint import`: a model or weights trained elsewhere (TensorFlow.js; safetensors in Keras's or PyTorch's layout) as a Waypoint model file. */
import { closeSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { importSafetensors } from '../interop/weights.js';
import { importTfjs, tfjsWeightsManifest } from '../interop/tfjs.js';
import { CheckpointError } from '../state/errors.js';
import { loadModel } from '../model/load.js';
import { type Command, UsageError } from './args.js';
import { checkOutputs } from './output.js';

export const importCommand: Command = {
  name: 'import',
  title: 'import a TensorFlow.js model or safetensors weights',
  summary:
    "Rebuild a TensorFlow.js layers model (FILE = model.json, its weight files beside it) as a Waypoint model file, or load the weights of a safetensors file (Keras layout, or PyTorch's state_dict of the equivalent nn.Sequential: see waypoint export --layout torch) into the architecture of a Waypoint model file (--like). Every tensor must be there with its shape unless --partial.",
  usage: 'import FILE --from tfjs|safetensors --out MODEL.wpt [--like MODEL.wpt] [--layout keras|torch] [--partial]',
  options: {
    from: { type: 'string', help: 'the format of FILE: tfjs or safetensors' },
    like: {
      type: 'string',
      help: 'safetensors: a Waypoint model file with the architecture (its weights are replaced)',
    },
    out: { type: 'string', help: 'the model file to write' },
    layout: { type: 'string', default: 'keras', help: 'keras or torch' },
    partial: { type: 'boolean', default: false, help: 'load what matches and list the rest, instead of refusing' },
  },
  async run(positionals, v) {
    if (positionals.length !== 1) throw new UsageError('import: give exactly one FILE');
    if (v.from !== 'safetensors' && v.from !== 'tfjs')
      throw new UsageError(`import: --from must be tfjs or safetensors, got '${String(v.from ?? '')}'`);
    if (typeof v.out !== 'string') throw new UsageError('import: give --out MODEL.wpt');
    checkOutputs('import', positionals[0], [v.out], true);
    if (v.from === 'tfjs') {
      const modelJson = parseModelJson(positionals[0]);
      const { paths, bytes } = tfjsWeightsManifest(modelJson);
      const model = importTfjs(modelJson, readWeightFiles(positionals[0], paths, bytes));
      await model.save(v.out);
      console.log(
        `wrote ${v.out} (${model.layers.length} layers, ${model.layers.reduce((n, l) => n + l.countParams(), 0)} weights, from ${paths.length} weight file${paths.length === 1 ? '' : 's'})`,
      );
      return;
    }
    if (typeof v.like !== 'string')
      throw new UsageError('import: give --like MODEL.wpt (the architecture) for safetensors');
    if (v.layout !== 'keras' && v.layout !== 'torch')
      throw new UsageError(`import: --layout must be keras or torch, got '${String(v.layout)}'`);
    const model = await loadModel(v.like);
    const report = importSafetensors(
      model,
      readRegularFile(positionals[0], Number.MAX_SAFE_INTEGER, 'safetensors file'),
      { layout: v.layout, strict: v.partial !== true },
    );
    await model.save(v.out);
    const skipped = [
      ...report.missing.map((k) => `${k} (not in the file)`),
      ...report.unexpected.map((k) => `${k} (not in the model)`),
      ...report.mismatched.map((k) => `${k} (other shape)`),
    ];
    console.log(`wrote ${v.out}${skipped.length ? `; left as they were or ignored: ${skipped.join(', ')}` : ''}`);
  },
};

/** model.json's largest size: its topology and manifest are small; weights live in other files. */
const MAX_MODEL_JSON_BYTES = 64 * 1024 * 1024;

function parseModelJson(path: string): Record<string, unknown> {
  const bytes = readRegularFile(path, MAX_MODEL_JSON_BYTES, 'model.json');
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new CheckpointError(
      'MALFORMED_HEADER',
      `TensorFlow.js import: ${path} is not UTF-8 JSON: ${(e as Error).message}`,
      { file: path },
    );
  }
}

/**
 * The weight files of a model.json, concatenated: each must resolve (links followed) inside
 * model.json's directory and be a regular file, and together they must hold exactly the
 * bytes the manifest declares. All of that is checked before a byte is read.
 */
function readWeightFiles(modelJsonPath: string, paths: string[], bytes: number): Uint8Array {
  const dir = realpathSync(dirname(modelJsonPath));
  const files = paths.map((p) => {
    let real: string;
    try {
      real = realpathSync(join(dir, p));
    } catch (cause) {
      throw new CheckpointError(
        'NOT_FOUND',
        `TensorFlow.js import: the weight file '${p}' named by model.json does not exist`,
        { file: join(dir, p), cause },
      );
    }
    if (!real.startsWith(dir + sep))
      throw new CheckpointError(
        'UNSAFE_PATH',
        `TensorFlow.js import: the weight file '${p}' resolves to ${real}, outside ${dir}`,
        { file: real },
      );
    const st = statSync(real);
    if (!st.isFile())
      throw new CheckpointError('UNSAFE_PATH', `TensorFlow.js import: the weight file '${p}' is not a regular file`, {
        file: real,
      });
    return { path: real, size: st.size };
  });
  const total = files.reduce((n, f) => n + f.size, 0);
  if (total !== bytes) {
    throw new CheckpointError(
      total < bytes ? 'TRUNCATED' : 'MALFORMED_HEADER',
      `TensorFlow.js import: the manifest's weights take ${bytes} bytes, ` +
        `the weight files (${paths.join(', ')}) hold ${total}${total > bytes ? ' (trailing bytes are refused)' : ''}`,
      { file: modelJsonPath },
    );
  }
  const out = new Uint8Array(bytes);
  let at = 0;
  for (const f of files) {
    out.set(readRegularFile(f.path, f.size, 'weight file'), at);
    at += f.size;
  }
  return out;
}

/** Reads a regular file of at most `max` bytes (its size checked before reading). */
export function readRegularFile(path: string, max: number, what: string): Uint8Array {
  const st = statSync(path);
  if (!st.isFile()) throw new CheckpointError('UNSAFE_PATH', `${path} is not a regular file`, { file: path });
  if (st.size > max)
    throw new CheckpointError('HEADER_TOO_LARGE', `the ${what} is ${st.size} bytes, more than the ${max} read`, {
      file: path,
    });
  const out = new Uint8Array(st.size);
  const fd = openSync(path, 'r');
  try {
    for (let at = 0; at < out.length;) {
      const n = readSync(fd, out, at, out.length - at, at);
      if (n === 0)
        throw new CheckpointError('TRUNCATED', `the ${what} ended at byte ${at} of ${st.size} while being read`, {
          file: path,
        });
      at += n;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}
