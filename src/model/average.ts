/**
 * `averageCheckpoints`: the mean of several saved models' weights (checkpoint averaging, as
 * the NMT stacks do it after training). Every input is verified first, the architectures must
 * be one (the first difference is named), and the mean is taken entry by entry — each
 * weight's values summed in float64 over the files, then divided and rounded to float32 once —
 * reading through one scratch array, so memory holds the model plus about three of its largest
 * entry (the scratch, the float64 sum). The files are summed in the order of their
 * header checksums, not of the arguments: the same inputs in any order give the same bits.
 * BatchNormalization's moving statistics are averaged like the weights; the optimizer state is
 * not carried (the result's optimizer is fresh, of the saved config).
 */
import { ArgumentError } from '../errors.js';
import { CheckpointError } from '../state/errors.js';
import { flattenState } from '../state/tree.js';
import { resolveMode, type Mode } from '../state/mode.js';
import type { Storage } from '../storage/storage.js';
import { WptReader } from '../checkpoint/format/reader.js';
import type { CheckpointManager } from '../checkpoint/manager.js';
import { Checkpoint } from '../checkpoint/checkpoint.js';
import { optimizerFromConfig } from '../optim/index.js';
import { configDiff } from './config-diff.js';
import { modelOf } from './load.js';
import type { Model } from './model.js';
import type { ModelFileConfig } from './persistence.js';

export type AverageSource =
  | string[]
  | { manager: CheckpointManager; last: number }
  | { manager: CheckpointManager; best: number; monitor?: string; mode?: Mode };

export interface AverageOptions {
  storage?: Storage;
  /** Also save the averaged model here (a model file, its optimizer fresh unless `optimizerFrom`). */
  out?: string;
  /** Carry this file's optimizer state (slots, step count) instead of a fresh optimizer: to train on from the average. */
  optimizerFrom?: string;
}

/** The files a source names: paths as given, a manager's newest `last`, or its `best` by a metric. */
function pathsOf(source: AverageSource): string[] {
  if (Array.isArray(source)) return source;
  const { manager } = source;
  const count = 'last' in source ? source.last : source.best;
  if (!(Number.isInteger(count) && count >= 1))
    throw new ArgumentError(
      `averageCheckpoints: ${'last' in source ? 'last' : 'best'} must be a positive integer, got ${count}`,
    );
  if ('last' in source) return manager.checkpoints.slice(-count);
  const monitor = source.monitor ?? manager.bestOf?.monitor;
  if (monitor === undefined)
    throw new ArgumentError(
      `averageCheckpoints: { best } needs a monitor: give one, or a manager with bestOf (${manager.directory} has none)`,
    );
  const direction = resolveMode(source.mode ?? manager.bestOf?.mode ?? 'auto', monitor);
  const scored = manager.entries.filter((e) => Number.isFinite(e.metrics[monitor]));
  if (scored.length === 0)
    throw new ArgumentError(`averageCheckpoints: no checkpoint of ${manager.directory} recorded '${monitor}'`);
  const sign = direction === 'max' ? -1 : 1;
  return [...scored]
    .sort((a, b) => sign * (a.metrics[monitor] - b.metrics[monitor]))
    .slice(0, count)
    .map((e) => manager.checkpoints[manager.entries.indexOf(e)]);
}

export async function averageCheckpoints(source: AverageSource, options: AverageOptions = {}): Promise<Model> {
  const paths = pathsOf(source);
  if (paths.length === 0) throw new ArgumentError('averageCheckpoints: no checkpoints to average');
  const readers: WptReader[] = [];
  try {
    for (const path of paths) readers.push(await WptReader.open(path, options.storage));
    // Every input verified before anything is averaged or written, through one scratch array.
    const largest = Math.max(
      0,
      ...readers.flatMap((r) => r.entries.map((e) => (e.dtype === 'json' ? 0 : size(e.shape)))),
    );
    const scratch = new Float32Array(largest);
    for (const reader of readers)
      for (const e of reader.entries) {
        if (e.dtype === 'json') await reader.read(e);
        else (await reader.stage([{ key: e.key, into: scratch.subarray(0, size(e.shape)) }])).discard();
      }
    // A fixed order whatever the arguments' order: by each file's header checksum.
    readers.sort((a, b) => a.headerCrc32 - b.headerCrc32 || (a.path < b.path ? -1 : 1));
    const configs = await Promise.all(readers.map((r) => configOf(r)));
    for (let i = 1; i < readers.length; i++) {
      const [first] = configDiff(architecture(configs[0]), architecture(configs[i]));
      if (first !== undefined)
        throw new CheckpointError(
          'SHAPE_MISMATCH',
          `averageCheckpoints: ${readers[i].path} is not the architecture of ${readers[0].path}: ${first}`,
          { file: readers[i].path },
        );
    }
    // Built from the config alone: every weight is overwritten below, so none is read twice.
    const model = modelOf(configs[0]);
    const compile = configs[0].compile;
    const optimizer = compile && optimizerFromConfig(compile.optimizer);
    if (compile && optimizer)
      model.compile({ optimizer, loss: compile.loss, metrics: compile.metrics, lossWeights: compile.lossWeights });
    for (const leaf of flattenState(model.stateDict())) {
      if (leaf.kind !== 'tensor') continue;
      const { key, value: target } = leaf;
      const sum = new Float64Array(target.size);
      for (const reader of readers) {
        const entry = `model/${key}`;
        const header = reader.entries.find((e) => e.key === entry);
        if (header === undefined || header.shape.join() !== target.shape.join())
          throw new CheckpointError(
            'SHAPE_MISMATCH',
            `averageCheckpoints: ${reader.path} ${header ? `has ${entry} of shape [${header.shape}], not [${target.shape}]` : `has no ${entry}`}`,
            { file: reader.path, entry },
          );
        const data = scratch.subarray(0, target.size);
        await (await reader.stage([{ key: entry, into: data }])).commit();
        for (let i = 0; i < sum.length; i++) sum[i] += data[i];
      }
      for (let i = 0; i < sum.length; i++) target.data[i] = sum[i] / readers.length;
    }
    if (options.optimizerFrom !== undefined && model.optimizer !== undefined)
      await new Checkpoint({ optimizer: model.optimizer }).read(options.optimizerFrom, {
        storage: options.storage,
        strict: false,
      });
    if (options.out !== undefined) await model.save(options.out, { storage: options.storage });
    return model;
  } finally {
    await Promise.all(readers.map((r) => r.close()));
  }
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** What must agree: the layers and their wiring, not the model's name or seed. */
function architecture(config: ModelFileConfig): unknown {
  const { name: _name, seed: _seed, ...rest } = config.model as unknown as Record<string, unknown>;
  return rest;
}

async function configOf(reader: WptReader): Promise<ModelFileConfig> {
  if (!reader.entries.some((e) => e.key === 'config'))
    throw new CheckpointError('MISSING_KEYS', 'averageCheckpoints: no model config in this file', {
      file: reader.path,
      entry: 'config',
    });
  return (await reader.read('config')) as unknown as ModelFileConfig;
}
