import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadMnist } from '../data/mnist.js';
import { WptReader } from '../checkpoint/format/reader.js';
import { selectBest } from '../model/select.js';
import type { ModelFileConfig } from '../model/persistence.js';
import { type Command, UsageError } from './args.js';
import { num, table } from './format.js';

/** .wpt files named on the command line, or found in a directory (and its backup/). */
function collect(args: string[]): string[] {
  return args.flatMap((a) => {
    if (!existsSync(a)) throw new UsageError(`select: ${a} does not exist`);
    if (!statSync(a).isDirectory()) return [a];
    return readdirSync(a).filter((f) => f.endsWith('.wpt')).sort().map((f) => join(a, f));
  });
}

export const select: Command = {
  name: 'select',
  title: 'rank checkpoints on held-out data',
  summary: 'Evaluate checkpoints on held-out data and rank them (pick the one that does best on the test split).',
  usage: 'select FILES…|DIR [--data mnist-test] [--metric accuracy]',
  options: {
    data: { type: 'string', default: 'mnist-test', help: 'held-out data: mnist-test (the 1,756-sample test split) or mnist-train' },
    metric: { type: 'string', default: 'accuracy', help: 'metric to rank by (accuracy or loss)' },
  },
  async run(positionals, v) {
    const files = collect(positionals);
    if (files.length === 0) throw new UsageError('select: no .wpt files given or found');
    if (v.data !== 'mnist-test' && v.data !== 'mnist-train') throw new UsageError(`select: --data must be mnist-test or mnist-train, got '${String(v.data)}'`);
    const reader = await WptReader.open(files[0]);
    const config = await reader.read('config').catch(() => null) as unknown as ModelFileConfig | null;
    await reader.close();
    const image = config?.inputShape?.length === 3;
    const d = loadMnist({ shape: image ? 'image' : 'flat' });
    const [x, y] = v.data === 'mnist-test' ? [d.xTest, d.yTest] : [d.xTrain, d.yTrain];
    const ranked = await selectBest(files, { x, y }, { metric: v.metric as string });
    const keys = Object.keys(ranked[0].metrics);
    console.log(table(['rank', 'checkpoint', ...keys], ranked.map((r) => [String(r.rank), r.path, ...keys.map((k) => num(r.metrics[k]))]), [true, false, ...keys.map(() => true)]));
    console.log(`\nbest by ${String(v.metric)} on ${String(v.data)}: ${ranked[0].path}`);
  },
};
