/**
 * `npm run bench -- matmul-threads`: large matmuls on every thread (src/backend/threads.ts)
 * against the same kernel on one, medians of 7, alternating; square sizes and the shapes of
 * the MNIST models' layers (batch 32), with the check that both give the same bits. Prints
 * where the crossover lies, which MIN_MULTIPLY_ADDS should sit above. Then the MNIST MLP and
 * CNN epochs (batch 32) with 1 thread and with every thread, alternating.
 */
import { matmul } from '../kernels/cpu/matmul.js';
import { parallelMatmul, MIN_MULTIPLY_ADDS, MIN_ROWS } from '../src/backend/threads.js';
import * as wp from '../src/node/index.js';
import { Random, configureThreads, startThreads } from '../src/node/index.js';
import { mnistMlpEpochs } from '../harness/page-run.js';
import { median, table } from './common.js';

export async function run(): Promise<void> {
  const threads = await startThreads();
  const rng = new Random(1);
  const quick = process.argv.includes('--quick');
  const shapes: Array<[string, number, number, number, boolean, boolean]> = [
    ...(quick ? [128, 512] : [96, 128, 160, 192, 256, 512, 1024, 2048]).map(
      (n) => [`${n}³`, n, n, n, false, false] as [string, number, number, number, boolean, boolean],
    ),
    ['MLP dense 32×784·784×128', 32, 784, 128, false, false],
    ['MLP kernel grad 784×32·32×128', 784, 32, 128, true, false],
    ['CNN conv1 im2col 21632×9·9×8', 21632, 9, 8, false, false],
    ['CNN conv2 im2col 3872×72·72×16', 3872, 72, 16, false, false],
    ['CNN conv2 input grad 3872×16·16×72', 3872, 16, 72, false, true],
  ];
  const rows: Array<Array<string | number>> = [];
  for (const [name, m, k, n, ta, tb] of shapes) {
    const a = rng.fillNormal(new Float32Array(m * k), 0, 1),
      b = rng.fillNormal(new Float32Array(k * n), 0, 1);
    const one: number[] = [],
      many: number[] = [];
    // Force the threaded path even below the threshold: the point is to see where it pays.
    const forced = () => parallelMatmulForced(a, b, m, k, n, ta, tb);
    for (let i = 0; i < 9; i++) {
      for (const [f, into] of (i % 2
        ? [
            [forced, many],
            [() => matmul(a, b, m, k, n, ta, tb), one],
          ]
        : [
            [() => matmul(a, b, m, k, n, ta, tb), one],
            [forced, many],
          ]) as Array<[() => unknown, number[]]>) {
        const t = performance.now();
        f();
        if (i >= 2) into.push(performance.now() - t);
      }
    }
    const same = Buffer.from(matmul(a, b, m, k, n, ta, tb).buffer).equals(Buffer.from(forced().buffer));
    const flop = 2 * m * k * n;
    rows.push([
      name,
      m * k * n,
      flop / median(one) / 1e6,
      flop / median(many) / 1e6,
      `${(median(one) / median(many)).toFixed(2)}×`,
      m * k * n >= MIN_MULTIPLY_ADDS && m >= MIN_ROWS ? 'threads' : 'one',
      same ? 'yes' : 'NO',
    ]);
  }
  console.log(`\nmatmul GFLOP/s on 1 thread and on ${threads} (rows split, shared memory), medians of 7, alternating`);
  console.log(
    table(['shape', 'multiply-adds', '1 thread', `${threads} threads`, 'speed-up', 'chosen', 'same bits'], rows),
  );
  await epochs(threads, quick ? 1 : 3);
}

async function cnnEpoch(data: Awaited<ReturnType<typeof wp.loadMnist>>): Promise<number> {
  const model = new wp.Sequential(
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
  model.compile({ optimizer: new wp.Adam({ learningRate: 1e-3 }), loss: 'categoricalCrossentropy' });
  const start = performance.now();
  await model.fit(data.xTrain, data.yTrain, { epochs: 1, batchSize: 32, verbose: 0 });
  return (performance.now() - start) / 1000;
}

async function epochs(threads: number, rounds: number): Promise<void> {
  const flat = await wp.loadMnist(),
    image = await wp.loadMnist({ shape: 'image' });
  const seconds: Record<string, number[]> = {};
  for (let r = 0; r < rounds; r++) {
    for (const t of r % 2 ? [threads, 1] : [1, threads]) {
      configureThreads({ threads: t });
      await startThreads();
      (seconds[`MLP, ${t} thread${t > 1 ? 's' : ''}`] ??= []).push(...(await mnistMlpEpochs(wp, flat, 2)).slice(1));
      (seconds[`CNN, ${t} thread${t > 1 ? 's' : ''}`] ??= []).push(await cnnEpoch(image));
    }
  }
  configureThreads({ threads });
  console.log(`\nMNIST epochs (8,000 samples, batch 32, Adam), seconds, medians of ${rounds}, alternating`);
  console.log(
    table(
      ['model, threads', 's/epoch'],
      Object.entries(seconds)
        .sort()
        .map(([k, v]) => [k, median(v)]),
    ),
  );
}

/** parallelMatmul without its size threshold. */
function parallelMatmulForced(
  a: Float32Array,
  b: Float32Array,
  m: number,
  k: number,
  n: number,
  ta: boolean,
  tb: boolean,
): Float32Array {
  return parallelMatmul(a, b, m, k, n, ta, tb, new Float32Array(m * n), { minMultiplyAdds: 0, minRows: 0 });
}
