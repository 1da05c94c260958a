/**
 * Functional models. (1) The graph walk's cost: the same network built as a Sequential and as a
 * functional chain (Input → apply → … → Model), identical weights and batches, one epoch each,
 * rounds alternating, medians: the ratio is what the graph costs (the losses are the same bits).
 * (2) A residual CNN (32×32×3: conv16, two residual blocks of conv-BN-relu-conv-BN + skip, pool,
 * conv32, global average pooling, dense10) beside PyTorch running the nn.Module that
 * `torchSource` generates with the weights `exportSafetensors` wrote: the same batches, Adam
 * 1e-3, each on 1 and 2 threads, rounds alternating, medians, first-epoch loss and peak RSS.
 * PyTorch runs when .venv-ref has torch. `npm run bench -- functional [--quick]`
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Activation,
  Add,
  BatchNormalization,
  Conv2D,
  Dense,
  Flatten,
  GlobalAveragePooling2D,
  Input,
  MaxPool2D,
  Model,
  Random,
  Sequential,
  Tensor,
  configureThreads,
  startThreads,
  type Layer,
  type SymbolicTensor,
} from '../src/node/index.js';
import {
  type EngineResults,
  type EpochSample,
  addSample,
  bestRatioTable,
  median,
  table,
  torchEpoch,
  writeTorchPeer,
} from './common.js';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 1 : 5;
const PYTHON = '.venv-ref/bin/python';

interface Data {
  x: Tensor;
  y: Tensor;
  labels: Int32Array;
}

function randomData(samples: number, input: number[], classes: number): Data {
  const rng = new Random(7);
  const x = new Tensor(rng.fillNormal(new Float32Array(samples * input.reduce((a, b) => a * b, 1)), 0, 1), [
    samples,
    ...input,
  ]);
  const labels = Int32Array.from({ length: samples }, () => rng.int(classes));
  return { x, y: new Tensor(Float32Array.from(labels), [samples]), labels };
}

async function epoch(model: Model, data: Data, batch: number): Promise<EpochSample> {
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  const t = performance.now();
  const history = await model.fit(data.x, data.y, { epochs: 1, batchSize: batch, shuffle: false, verbose: 0 });
  return {
    seconds: (performance.now() - t) / 1000,
    loss: history.history.loss[0],
    rssMiB: process.memoryUsage().rss / 2 ** 20,
  };
}

/** The same layers as a functional chain: Input, then each layer applied to the last tensor. */
function chain(layers: Layer[], input: number[], seed: number): Model {
  const x = Input({ shape: input });
  const y = layers.reduce<SymbolicTensor>((t, layer) => layer.apply(t), x);
  return new Model({ inputs: x, outputs: y, seed });
}

const CHAINS = [
  {
    name: 'MLP 784-256-256-10, 8,192 rows, batch 32',
    input: [784],
    samples: 8192,
    batch: 32,
    layers: () => [
      new Dense({ units: 256, activation: 'relu' }),
      new Dense({ units: 256, activation: 'relu' }),
      new Dense({ units: 10, activation: 'softmax' }),
    ],
  },
  {
    name: 'CNN 28×28×1 conv8-pool-conv16-pool-dense10, 4,096 images, batch 32',
    input: [28, 28, 1],
    samples: 4096,
    batch: 32,
    layers: () => [
      new Conv2D({ filters: 8, kernelSize: 3, activation: 'relu' }),
      new MaxPool2D({ poolSize: 2 }),
      new Conv2D({ filters: 16, kernelSize: 3, activation: 'relu' }),
      new MaxPool2D({ poolSize: 2 }),
      new Flatten(),
      new Dense({ units: 10, activation: 'softmax' }),
    ],
  },
];

async function graphOverhead(): Promise<void> {
  configureThreads({ threads: 1 });
  await startThreads();
  for (const c of CHAINS) {
    const data = randomData(c.samples, c.input, 10);
    const sequential = () => {
      const [first, ...rest] = c.layers();
      const withShape = new (first.constructor as new (config: object) => Layer)({
        ...first.getConfig(),
        inputShape: c.input,
      });
      return new Sequential([withShape, ...rest], { seed: 42 });
    };
    const results: EngineResults = new Map();
    for (let r = 0; r < 2 * ROUNDS + 1; r++) {
      // Round 0 warms both up and is not counted; then each goes first in every other round.
      const order = r % 2 === 0 ? (['sequential', 'functional'] as const) : (['functional', 'sequential'] as const);
      const samples: Record<string, EpochSample> = {};
      for (const build of order)
        samples[build] = await epoch(
          build === 'sequential' ? sequential() : chain(c.layers(), c.input, 42),
          data,
          c.batch,
        );
      if (r === 0) {
        if (samples.sequential.loss !== samples.functional.loss)
          throw new Error(
            `${c.name}: the two builds trained differently (${samples.sequential.loss} vs ${samples.functional.loss})`,
          );
        continue;
      }
      for (const build of order) addSample(results, build, samples[build]);
    }
    const seconds = (e: string) => median((results.get(e) as { seconds: number[] }).seconds);
    console.log(
      `\n${c.name}; 1 thread; median of ${2 * ROUNDS} rounds (each first in half of them), the same loss to the bit`,
    );
    console.log(
      table(
        ['build', 's/epoch', 'functional ÷ Sequential'],
        [
          ['Sequential', seconds('sequential'), ''],
          [
            'functional chain',
            seconds('functional'),
            `${((seconds('functional') / seconds('sequential') - 1) * 100).toFixed(1)} %`,
          ],
        ],
      ),
    );
  }
}

/**
 * The walk alone: a stack of eight Dense(4) on one sample, where the arithmetic is next to
 * nothing, predicted 20,000 times by each build (alternating blocks of 2,000, medians of the
 * per-call time): the difference is what walking the graph costs a forward pass.
 */
async function walkCost(): Promise<void> {
  const layers = () => Array.from({ length: 8 }, () => new Dense({ units: 4 }));
  const stack = new Sequential([new Dense({ units: 4, inputShape: [4] }), ...layers().slice(1)], { seed: 1 });
  const graph = chain(layers(), [4], 1);
  const x = new Tensor(new Float32Array(4).fill(0.5), [1, 4]);
  const perCall: Record<string, number[]> = { sequential: [], functional: [] };
  const blocks = quick ? 4 : 20;
  for (let b = 0; b < blocks + 2; b++)
    for (const [name, model] of [
      ['sequential', stack],
      ['functional', graph],
    ] as const) {
      const t = performance.now();
      for (let i = 0; i < 2000; i++) model.predictAll(x);
      if (b >= 2) perCall[name].push(((performance.now() - t) / 2000) * 1000);
    }
  const s = median(perCall.sequential),
    f = median(perCall.functional);
  console.log(
    `\nThe walk alone: eight Dense(4) on one sample, µs per predict (median of ${blocks} blocks of 2,000, alternating)`,
  );
  console.log(
    table(
      ['build', 'µs / predict', 'functional − Sequential'],
      [
        ['Sequential', s, ''],
        ['functional chain', f, `${(f - s).toFixed(2)} µs`],
      ],
    ),
  );
}

/** conv-BN-relu-conv-BN plus the block's input, then relu. */
function residualBlock(x: SymbolicTensor, filters: number, name: string): SymbolicTensor {
  const conv = (n: string) =>
    new Conv2D({ filters, kernelSize: 3, padding: 'same', useBias: false, name: `${name}_${n}` });
  let h = new BatchNormalization({ name: `${name}_bn1` }).apply(conv('conv1').apply(x));
  h = new Activation({ activation: 'relu', name: `${name}_relu1` }).apply(h);
  h = new BatchNormalization({ name: `${name}_bn2` }).apply(conv('conv2').apply(h));
  return new Activation({ activation: 'relu', name: `${name}_out` }).apply(
    new Add({ name: `${name}_add` }).apply([x, h]),
  );
}

function residualCnn(): Model {
  const image = Input({ shape: [32, 32, 3], name: 'image' });
  let x = new Conv2D({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu', name: 'stem' }).apply(image);
  x = residualBlock(x, 16, 'block1');
  x = new MaxPool2D({ poolSize: 2, name: 'pool' }).apply(x);
  x = new Conv2D({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu', name: 'widen' }).apply(x);
  x = residualBlock(x, 32, 'block2');
  x = new GlobalAveragePooling2D({ name: 'gap' }).apply(x);
  const probs = new Dense({ units: 10, activation: 'softmax', name: 'probs' }).apply(x);
  return new Model({ inputs: image, outputs: probs, name: 'residual_cnn', seed: 42 });
}

async function residualBeside(): Promise<void> {
  const samples = quick ? 512 : 2048,
    batch = 64;
  const data = randomData(samples, [32, 32, 3], 10);
  const dir = mkdtempSync(join(tmpdir(), 'wpt-functional-'));
  const initial = residualCnn();
  writeTorchPeer(dir, initial, data.x.data, data.labels, { samples, batch, input: [32, 32, 3], softmaxIn: 'probs' });
  const hasTorch = existsSync(PYTHON);
  const engines = ['waypoint1', 'waypoint2', ...(hasTorch ? ['torch1', 'torch2'] : [])];
  const results: EngineResults = new Map();
  try {
    for (let r = 0; r < Math.min(ROUNDS, 3); r++)
      for (const engine of engines) {
        const threads = Number(engine.slice(-1));
        if (engine.startsWith('waypoint')) {
          configureThreads({ threads });
          await startThreads();
          addSample(results, engine, await epoch(residualCnn(), data, batch));
        } else {
          addSample(results, engine, torchEpoch(PYTHON, threads, dir));
        }
      }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    `\nResidual CNN (32×32×3, two residual blocks with BatchNormalization), ${samples} images, batch ${batch}, Adam 1e-3; median of ${Math.min(ROUNDS, 3)} rounds (engines alternating)`,
  );
  console.log(bestRatioTable(results, ['waypoint1', 'waypoint2', 'torch1', 'torch2'], PYTHON));
}

export async function run(): Promise<void> {
  await walkCost();
  await graphOverhead();
  await residualBeside();
}
