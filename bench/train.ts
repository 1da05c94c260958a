/**
 * MNIST training, Waypoint beside TensorFlow.js (cpu and wasm backends) on the same split,
 * architecture, optimizer and batch size, in the same run: seconds per epoch and test
 * accuracy after each epoch. `npm run bench -- train [--quick]`
 */
import { loadMnist, Callback, type Tensor } from '../src/node/index.js';
import { mnistModel } from '../src/cli/models.js';
import { loadTf, median, table, type Tf } from './common.js';

const quick = process.argv.includes('--quick');
type Arch = 'mlp' | 'cnn';
const EPOCHS: Record<Arch, number> = { mlp: quick ? 1 : 5, cnn: quick ? 1 : 2 };

const waypointModel = (arch: Arch, seed: number) => mnistModel(arch, seed);

interface Result {
  seconds: number[];
  accuracy: number[];
}

async function runWaypoint(arch: Arch, seed: number, data: Awaited<ReturnType<typeof loadMnist>>): Promise<Result> {
  const model = waypointModel(arch, seed);
  const result: Result = { seconds: [], accuracy: [] };
  let start = 0;
  class Timer extends Callback {
    override async onEpochBegin() {
      start = performance.now();
    }
    override async onEpochEnd() {
      result.seconds.push((performance.now() - start) / 1000); // training only: evaluation below is not timed
      result.accuracy.push((await model.evaluate(data.xTest, data.yTest, { batchSize: 256 })).accuracy);
    }
  }
  await model.fit(data.xTrain, data.yTrain, {
    epochs: EPOCHS[arch],
    batchSize: 32,
    verbose: 0,
    callbacks: [new Timer()],
  });
  return result;
}

async function runTfjs(tf: Tf, arch: Arch, data: Awaited<ReturnType<typeof loadMnist>>): Promise<Result> {
  const model = tf.sequential({
    layers:
      arch === 'mlp'
        ? [
            tf.layers.dense({ units: 128, activation: 'relu', inputShape: [784] }),
            tf.layers.dense({ units: 10, activation: 'softmax' }),
          ]
        : [
            tf.layers.conv2d({ filters: 8, kernelSize: 3, activation: 'relu', inputShape: [28, 28, 1] }),
            tf.layers.maxPooling2d({ poolSize: 2 }),
            tf.layers.conv2d({ filters: 16, kernelSize: 3, activation: 'relu' }),
            tf.layers.maxPooling2d({ poolSize: 2 }),
            tf.layers.flatten(),
            tf.layers.dense({ units: 10, activation: 'softmax' }),
          ],
  });
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const t = (x: Tensor) => tf.tensor(x.data, x.shape);
  const [xTrain, yTrain, xTest, yTest] = [t(data.xTrain), t(data.yTrain), t(data.xTest), t(data.yTest)];
  const result: Result = { seconds: [], accuracy: [] };
  for (let e = 0; e < EPOCHS[arch]; e++) {
    const start = performance.now();
    await model.fit(xTrain, yTrain, { epochs: e + 1, initialEpoch: e, batchSize: 32, shuffle: true, verbose: 0 });
    result.seconds.push((performance.now() - start) / 1000);
    const [, acc] = model.evaluate(xTest, yTest, { batchSize: 256 }) as [
      ReturnType<Tf['scalar']>,
      ReturnType<Tf['scalar']>,
    ];
    result.accuracy.push((await acc.data())[0]);
  }
  tf.dispose([xTrain, yTrain, xTest, yTest]);
  model.dispose();
  return result;
}

const fmtAcc = (r: Result) => r.accuracy.map((a) => `${(a * 100).toFixed(1)}%`).join(' ');

export async function run(): Promise<void> {
  for (const arch of ['mlp', 'cnn'] as const) {
    const data = await loadMnist({ shape: arch === 'mlp' ? 'flat' : 'image' });
    const rows: Array<Array<string | number>> = [];
    const seeds = quick ? [42] : [42, 1, 2];
    const ours = [];
    for (const seed of seeds) ours.push(await runWaypoint(arch, seed, data));
    const ourEpoch = median(ours.flatMap((r) => r.seconds));
    for (const [i, r] of ours.entries()) rows.push([`waypoint (seed ${seeds[i]})`, median(r.seconds), fmtAcc(r), '']);
    const meanFinal = ours.reduce((s, r) => s + r.accuracy.at(-1)!, 0) / ours.length;
    rows.push(['waypoint, mean over seeds', ourEpoch, `${(meanFinal * 100).toFixed(2)}% final`, '']);
    for (const backend of arch === 'mlp' ? (['wasm', 'cpu'] as const) : (['cpu'] as const)) {
      const tf = await loadTf(backend);
      if (typeof tf === 'string') {
        rows.push([`tfjs ${backend}`, NaN, tf, '']);
        continue;
      }
      const r = await runTfjs(tf, arch, data);
      rows.push([
        `tfjs ${backend}`,
        median(r.seconds),
        fmtAcc(r),
        `${(median(r.seconds) / ourEpoch).toFixed(1)}× waypoint's time`,
      ]);
    }
    console.log(
      `\nMNIST ${arch.toUpperCase()}, ${EPOCHS[arch]} epoch(s), batch 32, Adam 1e-3, 8,000 train / 2,000 test`,
    );
    console.log(table(['trainer', 's/epoch (median)', 'test accuracy after each epoch', 'ratio'], rows));
    if (arch === 'cnn') console.log('tfjs wasm: cannot train this CNN (no conv2d filter-gradient kernel)');
  }
}
