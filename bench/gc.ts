/**
 * `npm run bench -- gc`: garbage collection and allocation during training, with the buffer
 * pool (kernels/buffers.ts) and without it (every op's output a new array), alternating. The
 * MNIST MLP and CNN (batch 32, Adam) train 3 epochs per fit; Node's performance observer
 * reports every collection, summed per epoch (the first epoch dropped as warm-up), beside the
 * epoch's time and what the pool had to allocate fresh.
 */
import { PerformanceObserver, constants } from 'node:perf_hooks';
import * as wp from '../src/node/index.js';
import { bufferStats, setBufferPooling } from '../kernels/buffers.js';
import { median, table } from './common.js';

const KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak',
};

export async function run(): Promise<void> {
  const events: Array<{ at: number; ms: number; kind: string }> = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries())
      events.push({
        at: e.startTime,
        ms: e.duration,
        kind: KINDS[(e as PerformanceEntry & { detail?: { kind: number } }).detail?.kind ?? -1] ?? 'other',
      });
  });
  observer.observe({ entryTypes: ['gc'] });
  const flat = await wp.loadMnist(),
    image = await wp.loadMnist({ shape: 'image' });
  const rows: Array<Array<string | number>> = [];
  for (const name of ['MLP', 'CNN'] as const) {
    const samples = new Map<
      boolean,
      Array<{ epoch: number; gc: number; count: number; major: number; freshMiB: number }>
    >([
      [false, []],
      [true, []],
    ]);
    // Fresh buffers for every op, then the pool, alternating: 3 rounds of 3 epochs, the first epoch of each dropped.
    for (const pooled of [false, true, true, false, false, true]) {
      setBufferPooling(pooled);
      const spans: Array<[number, number, number]> = [];
      let start = 0,
        freshAtStart = 0;
      const timer = {
        onEpochBegin: async () => {
          start = performance.now();
          freshAtStart = bufferStats().freshBytes;
        },
        onEpochEnd: async () => {
          spans.push([start, performance.now(), bufferStats().freshBytes - freshAtStart]);
        },
      };
      const model =
        name === 'MLP'
          ? new wp.Sequential(
              [
                new wp.Dense({ units: 128, activation: 'relu', inputShape: [784] }),
                new wp.Dense({ units: 10, activation: 'softmax' }),
              ],
              { seed: 1 },
            )
          : new wp.Sequential(
              [
                new wp.Conv2D({ filters: 8, kernelSize: 3, activation: 'relu', inputShape: [28, 28, 1] }),
                new wp.MaxPool2D({ poolSize: 2 }),
                new wp.Conv2D({ filters: 16, kernelSize: 3, activation: 'relu' }),
                new wp.MaxPool2D({ poolSize: 2 }),
                new wp.Flatten(),
                new wp.Dense({ units: 10, activation: 'softmax' }),
              ],
              { seed: 42 },
            );
      model.compile({ optimizer: new wp.Adam({ learningRate: 0.001 }), loss: 'categoricalCrossentropy' });
      const data = name === 'MLP' ? flat : image;
      await model.fit(data.xTrain, data.yTrain, { epochs: 3, batchSize: 32, verbose: 0, callbacks: [timer] });
      await new Promise((resolve) => setTimeout(resolve, 50)); // the observer's last entries
      for (const [a, b, fresh] of spans.slice(1)) {
        const inside = events.filter((e) => e.at >= a && e.at < b);
        samples.get(pooled)!.push({
          epoch: b - a,
          gc: inside.reduce((n, e) => n + e.ms, 0),
          count: inside.length,
          major: inside.filter((e) => e.kind === 'major').length,
          freshMiB: fresh / 2 ** 20,
        });
      }
    }
    setBufferPooling(true);
    const unpooled = median(samples.get(false)!.map((p) => p.epoch));
    for (const pooled of [false, true]) {
      const per = samples.get(pooled)!;
      const gc = median(per.map((p) => p.gc)),
        epoch = median(per.map((p) => p.epoch));
      rows.push([
        `${name}, ${pooled ? 'buffer pool' : 'fresh buffers'}`,
        epoch / 1000,
        `${(unpooled / epoch).toFixed(2)}×`,
        gc,
        `${((gc / epoch) * 100).toFixed(2)} %`,
        median(per.map((p) => p.count)),
        median(per.map((p) => p.major)),
        pooled ? median(per.map((p) => p.freshMiB)) : 'all',
      ]);
    }
  }
  observer.disconnect();
  console.log(
    '\ngarbage collection and fresh buffers per epoch (MNIST, 8,000 samples, batch 32, Adam); medians of 6 epochs, fresh and pooled fits alternating',
  );
  console.log(
    table(
      ['model', 's/epoch', 'speed-up', 'GC ms', 'GC share', 'collections', 'major', 'fresh MiB from the pool'],
      rows,
    ),
  );
}
