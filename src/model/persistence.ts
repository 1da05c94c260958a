/**
 * Saving and loading whole models: `model.save(path)` writes the architecture, weights,
 * optimizer state, history and RNG in one .wpt file; `loadModel(path)` rebuilds the model
 * from its config with no user code. `saveWeights` / `loadWeights` move weights only.
 */
import { Checkpoint } from '../checkpoint/checkpoint.js';
import { CheckpointError } from '../state/errors.js';
import { WptReader } from '../checkpoint/format/reader.js';
import type { JsonValue, StateDict } from '../state/tree.js';
import type { LoadOptions, Trackable } from '../state/trackable.js';
import type { WriteResult } from '../checkpoint/format/writer.js';
import type { Storage } from '../storage/storage.js';
import type { FunctionalConfig, Model, SequentialConfig } from './model.js';
import type { LossName } from '../nn/losses.js';
import type { OptimizerConfigJson } from '../optim/index.js';
import { configDiff } from './config-diff.js';

/** What a model file records about how to rebuild and recompile the model. */
export interface ModelFileConfig {
  /** 'Sequential' or 'Functional' (files written before functional models have none: Sequential). */
  className?: string;
  model: SequentialConfig | FunctionalConfig;
  /** The first input's per-sample shape (a Sequential's only one). */
  inputShape: number[] | null;
  /** Every input's per-sample shape. */
  inputShapes?: number[][] | null;
  /** As compile took it: a model of one output keeps a loss and a list of metrics; of several, one of each per output. */
  compile: {
    loss: LossName | LossName[];
    metrics: string[] | string[][];
    lossWeights?: number[];
    optimizer: { className: string; config: OptimizerConfigJson };
  } | null;
}

export function modelFileConfig(model: Model): ModelFileConfig {
  const c = model.compiled;
  const several = (c?.outputs.length ?? 0) > 1;
  const shapes = model.built ? model.inputShapes() : null;
  return {
    className: model.className,
    model: model.getConfig(),
    inputShape: shapes && shapes[0],
    inputShapes: shapes,
    compile: c
      ? {
          loss: several ? c.options.loss : c.options.loss[0],
          metrics: several ? c.options.metrics : c.options.metrics[0],
          ...(several ? { lossWeights: c.options.lossWeights } : {}),
          optimizer: { className: c.optimizer.className, config: c.optimizer.getConfig() },
        }
      : null,
  };
}

/** The RNG as a trackable whose state is plain JSON. */
function rngTrackable(model: Model): Trackable {
  return {
    stateDict: () => ({ state: model.rng.getState() as unknown as JsonValue }),
    loadStateDict: (s: StateDict) => model.rng.loadStateDict(s),
  };
}

/**
 * Everything that makes a training run resumable, as one group of trackables: weights,
 * optimizer state, history (and so the epoch count), and the model's RNG.
 */
export function trainingCheckpoint(model: Model, extra: Record<string, Trackable | JsonValue> = {}): Checkpoint {
  model.ensureBuilt();
  const objects: Record<string, Trackable | JsonValue> = {
    config: modelFileConfig(model) as unknown as JsonValue,
    model,
    history: model.history,
    rng: rngTrackable(model),
    ...extra,
  };
  if (model.optimizer) {
    model.optimizer.build(model.namedParams());
    objects.optimizer = model.optimizer;
  }
  return new Checkpoint(objects);
}

/** How `model.save` and `saveWeights` write: user metadata, the storage, what NaN weights do. */
export interface ModelSaveOptions {
  metadata?: Record<string, unknown>;
  storage?: Storage;
  onNonFinite?: 'warn' | 'error' | 'allow';
  warn?: (message: string) => void;
}

/** Where a model file is read from (default: the default storage). */
export interface ModelLoadOptions extends LoadOptions {
  storage?: Storage;
}

export async function saveModel(model: Model, path: string, options: ModelSaveOptions = {}): Promise<WriteResult> {
  return trainingCheckpoint(model).write(path, { kind: 'model', ...options, metadata: options.metadata ?? {} });
}

/** The weights alone, with the config that says which model they fit: what `saveWeights` writes. */
export function weightsCheckpoint(model: Model): Checkpoint {
  model.ensureBuilt();
  return new Checkpoint({ config: modelFileConfig(model) as unknown as JsonValue, model });
}

export async function saveWeights(model: Model, path: string, options: ModelSaveOptions = {}): Promise<WriteResult> {
  return weightsCheckpoint(model).write(path, { kind: 'weights', ...options });
}

export async function readConfig(path: string, storage?: Storage): Promise<ModelFileConfig> {
  const reader = await WptReader.open(path, storage);
  try {
    if (!reader.entries.some((e) => e.key === 'config')) {
      throw new CheckpointError(
        'MISSING_KEYS',
        'no model config in this file (was it written by model.save or saveWeights?)',
        { file: path, entry: 'config' },
      );
    }
    return (await reader.read('config')) as unknown as ModelFileConfig;
  } finally {
    await reader.close();
  }
}

/** Refuses (strict) a file whose architecture differs from the model's, listing every difference. */
function checkArchitecture(path: string, saved: ModelFileConfig, model: Model, strict: boolean): void {
  const current = model.getConfig();
  const diffs =
    'layers' in saved.model && !('nodes' in saved.model) && 'layers' in current && !('nodes' in current)
      ? configDiff(saved.model.layers, current.layers, 'layers')
      : configDiff({ ...saved.model, name: null, seed: null }, { ...current, name: null, seed: null });
  if (strict && diffs.length) {
    throw new CheckpointError(
      'SHAPE_MISMATCH',
      `the saved model's architecture differs from this one — ${diffs.join('; ')} (use { strict: false } to restore what matches)`,
      { file: path },
    );
  }
}

export async function loadWeights(model: Model, path: string, options: ModelLoadOptions = {}): Promise<void> {
  const strict = options.strict ?? true;
  const saved = await readConfig(path, options.storage);
  checkArchitecture(path, saved, model, strict);
  if (!model.built && saved.inputShape) model.buildInputs(saved.inputShapes ?? [saved.inputShape]);
  // A model file also holds optimizer, history and RNG: only the weights matter here.
  await new Checkpoint({ config: null, model }).read(path, {
    strict,
    ignoreUnexpected: (k) => !k.startsWith('model/'),
    storage: options.storage,
  });
}

/** Restores weights, optimizer, history and RNG saved by `model.save` into this model. */
export async function restoreModel(model: Model, path: string, options: ModelLoadOptions = {}): Promise<void> {
  const strict = options.strict ?? true;
  const saved = await readConfig(path, options.storage);
  checkArchitecture(path, saved, model, strict);
  if (!model.built && saved.inputShape) model.buildInputs(saved.inputShapes ?? [saved.inputShape]);
  await trainingCheckpoint(model).read(path, { strict, storage: options.storage });
}
