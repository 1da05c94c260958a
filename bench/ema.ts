/**
 * What keeping a moving average of the weights costs (`ema` on an optimizer). (1) The pass
 * alone: Adam steps over 1M parameters in four tensors, with and without `ema`, alternating
 * blocks, medians: the difference per step and per million parameters. (2) An MNIST epoch of
 * the built-in MLP (data/mnist's training split, batch 32) with and
 * without it, alternating rounds, medians. `npm run bench -- ema [--quick]`
 */
import { Adam, Random, Tensor, configureThreads, loadMnist, startThreads } from '../src/node/index.js';
import { mnistModel } from '../src/cli/models.js';
import { median, table } from './common.js';

const quick = process.argv.includes('--quick');

function stepCost(): void {
  const rng = new Random(1);
  const params = [0, 1, 2, 3].map((i) => {
    const p = new Tensor(rng.fillNormal(new Float32Array(250_000), 0, 1), [500, 500]);
    p.grad = new Tensor(rng.fillNormal(new Float32Array(250_000), 0, 0.01), [500, 500]);
    return [`w${i}`, p] as const;
  });
  const plain = new Adam({ learningRate: 1e-3 }),
    averaged = new Adam({ learningRate: 1e-3, ema: { momentum: 0.99 } });
  const times: Record<string, number[]> = { plain: [], ema: [] };
  const blocks = quick ? 5 : 21;
  for (let b = 0; b < blocks + 1; b++)
    for (const [name, optimizer] of [
      ['plain', plain],
      ['ema', averaged],
    ] as const) {
      const t = performance.now();
      for (let i = 0; i < 10; i++) optimizer.applyGradients(params);
      if (b > 0) times[name].push((performance.now() - t) / 10);
    }
  const p = median(times.plain),
    e = median(times.ema);
  console.log(`\nAdam steps over 1M parameters (4 × [500, 500]), ms per step, median of ${blocks} blocks of 10`);
  console.log(
    table(
      ['optimizer', 'ms / step', 'the average pass'],
      [
        ['Adam', p, ''],
        [
          'Adam with ema',
          e,
          `${(e - p).toFixed(2)} ms per 1M parameters (${((e / p - 1) * 100).toFixed(0)} % of the update)`,
        ],
      ],
    ),
  );
}

async function epochCost(): Promise<void> {
  configureThreads({ threads: 1 });
  await startThreads();
  const { xTrain, yTrain } = await loadMnist({ shape: 'flat' });
  const seconds: Record<string, number[]> = { plain: [], ema: [] };
  const rounds = quick ? 1 : 5;
  for (let r = 0; r < rounds + 1; r++)
    for (const name of r % 2 === 0 ? (['plain', 'ema'] as const) : (['ema', 'plain'] as const)) {
      const model = mnistModel('mlp', 42);
      model.compile({
        optimizer: new Adam({ learningRate: 1e-3, ...(name === 'ema' ? { ema: { momentum: 0.99 } } : {}) }),
        loss: 'categoricalCrossentropy',
      });
      const t = performance.now();
      await model.fit(xTrain, yTrain, { epochs: 1, batchSize: 32, verbose: 0 });
      if (r > 0) seconds[name].push((performance.now() - t) / 1000);
    }
  const p = median(seconds.plain),
    e = median(seconds.ema);
  console.log(
    `\nMNIST MLP (784-128-10, 101,770 parameters), ${xTrain.shape[0]} digits, batch 32, 1 thread; median of ${rounds} rounds`,
  );
  console.log(
    table(
      ['optimizer', 's / epoch', 'with ema ÷ without'],
      [
        ['Adam', p, ''],
        ['Adam with ema', e, `${((e / p - 1) * 100).toFixed(1)} %`],
      ],
    ),
  );
}

export async function run(): Promise<void> {
  stepCost();
  await epochCost();
}
