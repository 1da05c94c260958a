/**
 * Real small models beside PyTorch on the same CPU: an embedding + LSTM text classifier, the
 * same with a GRU, a CIFAR-shaped convnet with batch normalization ('same' padding), and an MLP
 * with layer normalization and dropout — one epoch each on random data of realistic shapes,
 * identical initial weights (exported by Waypoint, loaded by PyTorch with strict=True), the same
 * batches in the same order, Adam 1e-3. Waypoint and PyTorch each on 1 and 2 threads, rounds
 * alternating, medians. Memory: PyTorch's peak RSS (its own process); Waypoint's RSS after its
 * epoch (it runs in this process, so the figure includes the bench). The first-epoch losses agree
 * to three or four decimals: the same model, the same arithmetic. PyTorch runs when .venv-ref has
 * torch (else: absent); TensorFlow.js is left out (its LSTM epoch alone takes ten minutes: see
 * `bench -- layers`).
 * `npm run bench -- models [--quick]`
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BatchNormalization,
  Conv2D,
  Dense,
  Dropout,
  Embedding,
  Flatten,
  GRU,
  LSTM,
  LayerNormalization,
  MaxPool2D,
  Random,
  Sequential,
  Tensor,
  configureThreads,
  startThreads,
  type Layer,
} from '../src/node/index.js';
import {
  type EngineResults,
  type EpochSample,
  addSample,
  bestRatioTable,
  torchEpoch,
  writeTorchPeer,
} from './common.js';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 1 : 3;
const PYTHON = '.venv-ref/bin/python';

interface Workload {
  name: string;
  samples: number;
  batch: number;
  /** Per-sample input shape; `ids` below this many when the model embeds. */
  input: number[];
  ids?: number;
  classes: number;
  layers: () => Layer[];
}

/** Embedding(1000, 32) → an LSTM or GRU of 64 units → Dense(2): a text classifier on 2,048 sequences of 40 ids. */
function textClassifier(cell: 'LSTM' | 'GRU'): Workload {
  const Cell = cell === 'LSTM' ? LSTM : GRU;
  return {
    name: `Embedding(1000,32) → ${cell}(64) → Dense(2), 2,048 sequences of 40 ids`,
    samples: 2048,
    batch: 32,
    input: [40],
    ids: 1000,
    classes: 2,
    layers: () => [
      new Embedding({ inputDim: 1000, outputDim: 32, inputShape: [40] }),
      new Cell({ units: 64 }),
      new Dense({ units: 2, activation: 'softmax' }),
    ],
  };
}

const WORKLOADS: Workload[] = [
  textClassifier('LSTM'),
  textClassifier('GRU'),
  {
    name: 'CIFAR-shaped convnet (32×32×3; conv32-BN-conv32-pool-conv64-BN-pool-dense128-dense10), 2,048 images',
    samples: 2048,
    batch: 64,
    input: [32, 32, 3],
    classes: 10,
    layers: () => [
      new Conv2D({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [32, 32, 3] }),
      new BatchNormalization(),
      new Conv2D({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu' }),
      new MaxPool2D({ poolSize: 2 }),
      new Conv2D({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' }),
      new BatchNormalization(),
      new MaxPool2D({ poolSize: 2 }),
      new Flatten(),
      new Dense({ units: 128, activation: 'relu' }),
      new Dense({ units: 10, activation: 'softmax' }),
    ],
  },
  {
    name: 'MLP 256-512-LayerNorm-Dropout-512-LayerNorm-10, 8,192 rows',
    samples: 8192,
    batch: 64,
    input: [256],
    classes: 10,
    layers: () => [
      new Dense({ units: 512, activation: 'relu', inputShape: [256] }),
      new LayerNormalization(),
      new Dropout({ rate: 0.1 }),
      new Dense({ units: 512, activation: 'relu' }),
      new LayerNormalization(),
      new Dense({ units: 10, activation: 'softmax' }),
    ],
  },
];

function model(w: Workload): Sequential {
  const m = new Sequential(w.layers(), { seed: 42 });
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  return m;
}

async function waypointEpoch(w: Workload, threads: number, x: Tensor, y: Tensor): Promise<EpochSample> {
  configureThreads({ threads });
  await startThreads();
  const m = model(w);
  const t = performance.now();
  const history = await m.fit(x, y, { epochs: 1, batchSize: w.batch, shuffle: false, verbose: 0 });
  return {
    seconds: (performance.now() - t) / 1000,
    loss: history.history.loss[0],
    rssMiB: process.memoryUsage().rss / 2 ** 20,
  };
}

export async function run(): Promise<void> {
  const hasTorch = existsSync(PYTHON);
  for (const w of WORKLOADS) {
    const rng = new Random(7);
    const size = w.samples * w.input.reduce((a, b) => a * b, 1);
    const xData =
      w.ids !== undefined
        ? Float32Array.from({ length: size }, () => rng.int(w.ids!))
        : rng.fillNormal(new Float32Array(size), 0, 1);
    const labels = Int32Array.from({ length: w.samples }, () => rng.int(w.classes));
    const x = new Tensor(xData, [w.samples, ...w.input]),
      y = new Tensor(Float32Array.from(labels), [w.samples]);
    const dir = mkdtempSync(join(tmpdir(), 'wpt-models-'));
    const initial = model(w);
    writeTorchPeer(dir, initial, xData, labels, {
      samples: w.samples,
      batch: w.batch,
      input: w.input,
      ids: w.ids !== undefined,
    });
    const engines = ['waypoint1', 'waypoint2', ...(hasTorch ? ['torch1', 'torch2'] : [])];
    const results: EngineResults = new Map();
    try {
      for (let r = 0; r < ROUNDS; r++) {
        for (const engine of engines) {
          const threads = Number(engine.slice(-1));
          const sample = engine.startsWith('waypoint')
            ? await waypointEpoch(w, threads, x, y)
            : torchEpoch(PYTHON, threads, dir);
          addSample(results, engine, sample);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    console.log(`\n${w.name}; batch ${w.batch}, Adam 1e-3; median of ${ROUNDS} rounds (engines alternating)`);
    console.log(bestRatioTable(results, ['waypoint1', 'waypoint2', 'torch1', 'torch2'], PYTHON));
  }
}
