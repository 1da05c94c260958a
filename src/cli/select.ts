import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadMnist } from '../data/mnist.js';
import { WptReader } from '../checkpoint/format/reader.js';
import { type RankedCheckpoint, selectBest } from '../model/select.js';
import { resolveMode } from '../state/mode.js';
import { WaypointError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import type { ModelFileConfig } from '../model/persistence.js';
import { type Command, UsageError } from './args.js';
import { num, table } from './format.js';

/** .wpt files named on the command line, or found in a directory (and its backup/). */
function collect(args: string[]): string[] {
  return args.flatMap((a) => {
    if (!existsSync(a)) throw new UsageError(`select: ${a} does not exist`);
    if (!statSync(a).isDirectory()) return [a];
    return readdirSync(a)
      .filter((f) => f.endsWith('.wpt'))
      .sort()
      .map((f) => join(a, f));
  });
}

export const select: Command = {
  name: 'select',
  title: 'rank checkpoints on held-out data',
  summary: 'Evaluate checkpoints on held-out data and rank them (pick the one that does best on the test split).',
  usage: 'select FILES…|DIR [--data mnist-test] [--metric accuracy] [--weights raw|ema]',
  options: {
    data: {
      type: 'string',
      default: 'mnist-test',
      help: 'held-out data: mnist-test (the 2,000-sample test split) or mnist-train',
    },
    metric: { type: 'string', default: 'accuracy', help: 'metric to rank by (accuracy or loss)' },
    weights: {
      type: 'string',
      default: 'raw',
      help: "raw (the trained weights) or ema (the optimizer's moving averages, in model files whose optimizer has ema)",
    },
  },
  async run(positionals, v) {
    const files = collect(positionals);
    if (files.length === 0) throw new UsageError('select: no .wpt files given or found');
    if (v.weights !== 'raw' && v.weights !== 'ema')
      throw new UsageError(`select: --weights must be raw or ema, got '${String(v.weights)}'`);
    const weights = v.weights;
    if (v.data !== 'mnist-test' && v.data !== 'mnist-train')
      throw new UsageError(`select: --data must be mnist-test or mnist-train, got '${String(v.data)}'`);
    // The data is loaded once per input shape: files of different architectures rank together.
    const data = new Map<'flat' | 'image', { x: Tensor; y: Tensor }>();
    const dataFor = async (shape: 'flat' | 'image') => {
      if (!data.has(shape)) {
        const d = await loadMnist({ shape });
        data.set(shape, v.data === 'mnist-test' ? { x: d.xTest, y: d.yTest } : { x: d.xTrain, y: d.yTrain });
      }
      return data.get(shape)!;
    };
    const ranked: RankedCheckpoint[] = [];
    const skipped: Array<[string, string]> = [];
    for (const file of files) {
      try {
        const shape = await inputShapeOf(file);
        const kind = shape === '784' ? 'flat' : shape === '28,28,1' ? 'image' : null;
        if (kind === null) throw new Error(`its input shape [${shape}] is not MNIST's [784] or [28,28,1]`);
        ranked.push(...(await selectBest([file], await dataFor(kind), { metric: v.metric as string, weights })));
      } catch (e) {
        skipped.push([file, (e as Error).message]);
      }
    }
    if (ranked.length === 0)
      throw new WaypointError(
        `select: no file could be evaluated: ${skipped.map(([f, why]) => `${f}: ${why}`).join('; ')}`,
      );
    const direction = resolveMode('auto', v.metric as string);
    ranked.sort((a, b) =>
      direction === 'max'
        ? b.metrics[v.metric as string] - a.metrics[v.metric as string]
        : a.metrics[v.metric as string] - b.metrics[v.metric as string],
    );
    const keys = Object.keys(ranked[0].metrics);
    console.log(
      table(
        ['rank', 'checkpoint', ...keys],
        ranked.map((r, i) => [String(i + 1), r.path, ...keys.map((k) => num(r.metrics[k]))]),
        [true, false, ...keys.map(() => true)],
      ),
    );
    console.log(`\nbest by ${String(v.metric)} on ${String(v.data)}: ${ranked[0].path}`);
    if (skipped.length)
      console.log(`\nnot ranked (${skipped.length}):\n${skipped.map(([f, why]) => `  ${f}: ${why}`).join('\n')}`);
  },
};

/** The input shape a model file was built for, as "784" or "28,28,1". */
async function inputShapeOf(file: string): Promise<string> {
  const reader = await WptReader.open(file);
  try {
    const config = (await reader.read('config')) as unknown as ModelFileConfig;
    const shapes = config.inputShapes ?? [config.inputShape ?? []];
    if (shapes.length !== 1)
      throw new Error(`it takes ${shapes.length} inputs (${shapes.map((s) => `[${s}]`).join(', ')}); MNIST gives one`);
    return shapes[0].join(',');
  } finally {
    await reader.close();
  }
}
