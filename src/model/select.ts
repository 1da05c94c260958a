import { ArgumentError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { CheckpointManager } from '../checkpoint/manager.js';
import { type Mode, resolveMode } from '../state/mode.js';
import type { Logs } from './history.js';
import { modelFromFile } from './load.js';
import type { WhichWeights } from './ema-weights.js';

export interface RankedCheckpoint {
  path: string;
  metrics: Logs;
  rank: number;
}

/**
 * Evaluates several checkpoints (model or weights files) on held-out data and returns them
 * best first: the "pick the checkpoint that does best on the test data" workflow.
 */
export async function selectBest(
  source: string[] | CheckpointManager,
  data: { x: Tensor; y: Tensor },
  options: { metric?: string; mode?: Mode; batchSize?: number; weights?: WhichWeights } = {},
): Promise<RankedCheckpoint[]> {
  const paths = Array.isArray(source) ? source : (await source.ready, source.checkpoints);
  if (paths.length === 0) throw new ArgumentError('selectBest: no checkpoints to compare');
  const metric = options.metric ?? 'accuracy';
  const direction = resolveMode(options.mode ?? 'auto', metric);
  const scored: Array<{ path: string; metrics: Logs }> = [];
  for (const path of paths) {
    const model = await modelFromFile(path, { weights: options.weights });
    const metrics = await model.evaluate(data.x, data.y, { batchSize: options.batchSize ?? 256 });
    if (!(metric in metrics))
      throw new ArgumentError(
        `selectBest: ${path} does not report '${metric}' (it reports ${Object.keys(metrics).join(', ')})`,
      );
    scored.push({ path, metrics });
  }
  scored.sort((a, b) =>
    direction === 'max' ? b.metrics[metric] - a.metrics[metric] : a.metrics[metric] - b.metrics[metric],
  );
  return scored.map((s, i) => ({ ...s, rank: i + 1 }));
}
