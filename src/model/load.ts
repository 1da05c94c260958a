/**
 * Models from files: `loadModel` (a model saved by `model.save`, with its optimizer, history
 * and RNG) and `modelFromFile` (any file with a config, for inference). Above Sequential, which
 * itself only saves and restores (persistence.ts).
 */
import { CheckpointError } from '../state/errors.js';
import type { Storage } from '../storage/storage.js';
import { Adam, type Optimizer, type OptimizerConfigJson, optimizerFromConfig } from '../optim/index.js';
import { Sequential } from './sequential.js';
import { readConfig, trainingCheckpoint } from './persistence.js';

function optimizerFrom(spec: { className: string; config: OptimizerConfigJson }): Optimizer {
  const optimizer = optimizerFromConfig(spec);
  if (optimizer === null) throw new CheckpointError('INVALID_STATE', `unknown optimizer class '${spec.className}'`);
  return optimizer;
}

/** Rebuilds a model saved by `model.save` from its config, recompiles it, and restores its state. */
export async function loadModel(path: string, options: { storage?: Storage } = {}): Promise<Sequential> {
  const saved = await readConfig(path, options.storage);
  const model = Sequential.fromConfig(saved.model);
  if (saved.inputShape) model.build(saved.inputShape);
  if (saved.compile)
    model.compile({
      optimizer: optimizerFrom(saved.compile.optimizer),
      loss: saved.compile.loss,
      metrics: saved.compile.metrics,
    });
  await trainingCheckpoint(model).read(path, { storage: options.storage });
  return model;
}

/**
 * A model for inference or evaluation from any file with a config (model or weights): rebuilt
 * from its config, compiled with its loss and metrics when it has them, holding its weights.
 */
export async function modelFromFile(path: string, options: { storage?: Storage } = {}): Promise<Sequential> {
  const saved = await readConfig(path, options.storage);
  const model = Sequential.fromConfig(saved.model);
  if (saved.inputShape) model.build(saved.inputShape);
  // The optimizer does not matter for evaluation; loss and metrics come from the file.
  if (saved.compile) model.compile({ optimizer: new Adam(), loss: saved.compile.loss, metrics: saved.compile.metrics });
  await model.loadWeights(path, { storage: options.storage });
  return model;
}
