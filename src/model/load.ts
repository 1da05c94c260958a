/**
 * Models from files: `loadModel` (a model saved by `model.save`, with its optimizer, history
 * and RNG) and `modelFromFile` (any file with a config, for inference). Above Sequential, which
 * itself only saves and restores (persistence.ts).
 */
import { CheckpointError } from '../state/errors.js';
import { type Storage, getDefaultStorage } from '../storage/storage.js';
import { checkRecordedSha256 } from '../checkpoint/hash.js';
import { Adam, type Optimizer, type OptimizerConfigJson, optimizerFromConfig } from '../optim/index.js';
import { Sequential } from './sequential.js';
import { type FunctionalConfig, Model, type SequentialConfig } from './model.js';
import { type ModelFileConfig, readConfig, trainingCheckpoint } from './persistence.js';
import { type WhichWeights, checkWhichWeights, useEmaWeights } from './ema-weights.js';

function optimizerFrom(spec: { className: string; config: OptimizerConfigJson }): Optimizer {
  const optimizer = optimizerFromConfig(spec);
  if (optimizer === null) throw new CheckpointError('INVALID_STATE', `unknown optimizer class '${spec.className}'`);
  return optimizer;
}

/** The model a file's config describes, built for the shapes it was saved with (its weights as initialized). */
export function modelOf(saved: ModelFileConfig): Model {
  const model =
    saved.className === 'Functional'
      ? Model.fromConfig(saved.model as FunctionalConfig)
      : Sequential.fromConfig(saved.model as SequentialConfig);
  if (saved.inputShape) model.buildInputs(saved.inputShapes ?? [saved.inputShape]);
  return model;
}

/**
 * Rebuilds a model saved by `model.save` from its config, recompiles it, and restores its
 * state. `weights: 'ema'` puts the optimizer's moving averages in the weights (the optimizer
 * must have `ema`; the raw weights are then not in the model).
 */
export async function loadModel(
  path: string,
  options: { storage?: Storage; weights?: WhichWeights } = {},
): Promise<Model> {
  const which = checkWhichWeights('loadModel', options.weights);
  await checkRecordedSha256(options.storage ?? getDefaultStorage(), path);
  const saved = await readConfig(path, options.storage);
  const model = modelOf(saved);
  if (saved.compile)
    model.compile({
      optimizer: optimizerFrom(saved.compile.optimizer),
      loss: saved.compile.loss,
      metrics: saved.compile.metrics,
      lossWeights: saved.compile.lossWeights,
    });
  await trainingCheckpoint(model).read(path, { storage: options.storage });
  if (which === 'ema') useEmaWeights(model, `loadModel ${path}`);
  return model;
}

/**
 * A model for inference or evaluation from any file with a config (model or weights): rebuilt
 * from its config, compiled with its loss and metrics when it has them, holding its weights.
 */
export async function modelFromFile(
  path: string,
  options: { storage?: Storage; weights?: WhichWeights } = {},
): Promise<Model> {
  // The averages are the optimizer's: a model file's, restored with it.
  if (checkWhichWeights('modelFromFile', options.weights) === 'ema') return loadModel(path, options);
  await checkRecordedSha256(options.storage ?? getDefaultStorage(), path);
  const saved = await readConfig(path, options.storage);
  const model = modelOf(saved);
  // The optimizer does not matter for evaluation; loss and metrics come from the file.
  if (saved.compile)
    model.compile({
      optimizer: new Adam(),
      loss: saved.compile.loss,
      metrics: saved.compile.metrics,
      lossWeights: saved.compile.lossWeights,
    });
  await model.loadWeights(path, { storage: options.storage });
  return model;
}
