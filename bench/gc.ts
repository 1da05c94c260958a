/**
 * `npm run bench -- gc`: garbage collection during training. The MNIST MLP and CNN (batch 32,
 * Adam) each train 3 epochs; Node's performance observer reports every collection, summed per
 * epoch (the first epoch dropped as warm-up), beside the epoch's own time.
 */
import { PerformanceObserver, constants } from 'node:perf_hooks';
import * as wp from '../src/node/index.js';
import { median, table } from './common.js';

const KINDS: Record<number, string> = { [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor', [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major', [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental', [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak' };

export async function run(): Promise<void> {
  const events: Array<{ at: number; ms: number; kind: string }> = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) events.push({ at: e.startTime, ms: e.duration, kind: KINDS[(e as PerformanceEntry & { detail?: { kind: number } }).detail?.kind ?? -1] ?? 'other' });
  });
  observer.observe({ entryTypes: ['gc'] });
  const flat = await wp.loadMnist(), image = await wp.loadMnist({ shape: 'image' });
  const rows: Array<Array<string | number>> = [];
  for (const name of ['MLP', 'CNN'] as const) {
    const spans: Array<[number, number]> = [];
    let start = 0;
    const timer = { onEpochBegin: async () => { start = performance.now(); }, onEpochEnd: async () => { spans.push([start, performance.now()]); } };
    if (name === 'MLP') {
      const model = new wp.Sequential([new wp.Dense({ units: 128, activation: 'relu', inputShape: [784] }), new wp.Dense({ units: 10, activation: 'softmax' })], { seed: 1 });
      model.compile({ optimizer: new wp.Adam({ learningRate: 0.001 }), loss: 'categoricalCrossentropy' });
      await model.fit(flat.xTrain, flat.yTrain, { epochs: 3, batchSize: 32, verbose: 0, callbacks: [timer] });
    } else {
      const model = new wp.Sequential([new wp.Conv2D({ filters: 8, kernelSize: 3, activation: 'relu', inputShape: [28, 28, 1] }), new wp.MaxPool2D({ poolSize: 2 }),
        new wp.Conv2D({ filters: 16, kernelSize: 3, activation: 'relu' }), new wp.MaxPool2D({ poolSize: 2 }), new wp.Flatten(), new wp.Dense({ units: 10, activation: 'softmax' })], { seed: 42 });
      model.compile({ optimizer: new wp.Adam({ learningRate: 0.001 }), loss: 'categoricalCrossentropy' });
      await model.fit(image.xTrain, image.yTrain, { epochs: 3, batchSize: 32, verbose: 0, callbacks: [timer] });
    }
    await new Promise((resolve) => setTimeout(resolve, 50)); // the observer's last entries
    const per = spans.slice(1).map(([a, b]) => {
      const inside = events.filter((e) => e.at >= a && e.at < b);
      return { epoch: b - a, gc: inside.reduce((n, e) => n + e.ms, 0), count: inside.length, major: inside.filter((e) => e.kind === 'major').length };
    });
    const gc = median(per.map((p) => p.gc)), epoch = median(per.map((p) => p.epoch));
    rows.push([name, epoch / 1000, gc, `${((gc / epoch) * 100).toFixed(2)} %`, median(per.map((p) => p.count)), median(per.map((p) => p.major))]);
  }
  observer.disconnect();
  console.log('\ngarbage collection per epoch (MNIST, batch 32, Adam), medians of epochs 2 and 3');
  console.log(table(['model', 's/epoch', 'GC ms', 'share', 'collections', 'major'], rows));
}
