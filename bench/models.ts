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
import { spawnSync } from 'node:child_process';
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
  ENGINE_LABELS,
  type Tf,
  addSample,
  bestRatioTable,
  loadTf,
  torchEpoch,
  writeTorchPeer,
} from './common.js';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 1 : 3;
const PYTHON = '.venv-ref/bin/python';
/** TensorFlow.js's steps timed per epoch (scaled to the epoch's). */
const TF_STEPS = 16;
ENGINE_LABELS.tfjs = `TensorFlow.js wasm (${TF_STEPS} steps, scaled)`;

interface Workload {
  name: string;
  samples: number;
  batch: number;
  /** Per-sample input shape; `ids` below this many when the model embeds. */
  input: number[];
  ids?: number;
  classes: number;
  layers: () => Layer[];
  /** The same layers in TensorFlow.js (softmax last, as Waypoint's). */
  tfLayers: (tf: Tf) => unknown[];
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
    tfLayers: (tf) => [
      tf.layers.embedding({ inputDim: 1000, outputDim: 32, inputLength: 40 }),
      cell === 'LSTM' ? tf.layers.lstm({ units: 64 }) : tf.layers.gru({ units: 64, resetAfter: true } as never),
      tf.layers.dense({ units: 2, activation: 'softmax' }),
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
    tfLayers: (tf) => [
      tf.layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [32, 32, 3] }),
      tf.layers.batchNormalization(),
      tf.layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tf.layers.batchNormalization(),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 128, activation: 'relu' }),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
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
    tfLayers: (tf) => [
      tf.layers.dense({ units: 512, activation: 'relu', inputShape: [256] }),
      tf.layers.layerNormalization(),
      tf.layers.dropout({ rate: 0.1 }),
      tf.layers.dense({ units: 512, activation: 'relu' }),
      tf.layers.layerNormalization(),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  },
];

function model(w: Workload): Sequential {
  const m = new Sequential(w.layers(), { seed: 42 });
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  return m;
}

/** The workload's data, the same every time (so a child process makes what the parent made). */
function dataOf(w: Workload): { x: Tensor; y: Tensor; xData: Float32Array; labels: Int32Array } {
  const rng = new Random(7);
  const size = w.samples * w.input.reduce((a, b) => a * b, 1);
  const xData =
    w.ids !== undefined
      ? Float32Array.from({ length: size }, () => rng.int(w.ids!))
      : rng.fillNormal(new Float32Array(size), 0, 1);
  const labels = Int32Array.from({ length: w.samples }, () => rng.int(w.classes));
  return {
    x: new Tensor(xData, [w.samples, ...w.input]),
    y: new Tensor(Float32Array.from(labels), [w.samples]),
    xData,
    labels,
  };
}

const peakRssMiB = () => process.resourceUsage().maxRSS / 1024;

async function waypointEpoch(w: Workload, threads: number): Promise<EpochSample> {
  const { x, y } = dataOf(w);
  configureThreads({ threads });
  await startThreads();
  const m = model(w);
  const fit = () => m.fit(x, y, { epochs: 1, batchSize: w.batch, shuffle: false, verbose: 0 });
  const loss = (await fit()).history.loss[0];
  const t = performance.now();
  await fit();
  return { seconds: (performance.now() - t) / 1000, loss, rssMiB: peakRssMiB() };
}

/** TensorFlow.js wasm: TF_STEPS steps of the same layers (one warm-up step first), scaled to the epoch. */
async function tfEpoch(w: Workload): Promise<EpochSample | string> {
  const tf = await loadTf('wasm');
  if (typeof tf === 'string') return tf;
  const { xData, labels } = dataOf(w);
  try {
    const model = tf.sequential({ layers: w.tfLayers(tf) as never });
    model.compile({ optimizer: tf.train.adam(1e-3), loss: 'sparseCategoricalCrossentropy' });
    const steps = Math.min(TF_STEPS, w.samples / w.batch);
    const n = (steps + 1) * w.batch,
      per = xData.length / w.samples;
    const x = tf.tensor(xData.subarray(0, n * per), [n, ...w.input]),
      y = tf.tensor(Float32Array.from(labels.subarray(0, n)), [n]);
    await model.trainOnBatch(x.slice(0, w.batch), y.slice(0, w.batch));
    const t = performance.now();
    const h = await model.fit(x.slice(w.batch), y.slice(w.batch), {
      epochs: 1,
      batchSize: w.batch,
      shuffle: false,
      verbose: 0,
    });
    const seconds = ((performance.now() - t) / 1000) * (w.samples / w.batch / steps);
    return { seconds, loss: h.history.loss[0] as number, rssMiB: peakRssMiB() };
  } catch (e) {
    return (e as Error).message.split('\n')[0];
  }
}

/** One epoch of `engine` in a child process of its own (its peak RSS is the epoch's), or why it failed. */
function childEpoch(index: number, engine: string): EpochSample | string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', import.meta.filename, '--epoch', String(index), engine], {
    encoding: 'utf8',
    timeout: 900_000,
  });
  const last = (r.stdout || '').trim().split('\n').at(-1) ?? '';
  if (r.status !== 0 || !last.startsWith('{'))
    return (r.stderr || r.error?.message || 'failed').trim().split('\n').at(-1)!;
  const sample = JSON.parse(last) as EpochSample | { failed: string };
  return 'failed' in sample ? sample.failed : sample;
}

/** The child's side: `--epoch INDEX ENGINE` prints one sample as JSON. */
async function runChild(index: number, engine: string): Promise<void> {
  const w = WORKLOADS[index];
  const sample = engine === 'tfjs' ? await tfEpoch(w) : await waypointEpoch(w, Number(engine.slice(-1)));
  console.log(JSON.stringify(typeof sample === 'string' ? { failed: sample } : sample));
  process.exit(0);
}

export async function run(): Promise<void> {
  const hasTorch = existsSync(PYTHON);
  for (const [index, w] of WORKLOADS.entries()) {
    const { xData, labels } = dataOf(w);
    const dir = mkdtempSync(join(tmpdir(), 'wpt-models-'));
    writeTorchPeer(dir, model(w), xData, labels, {
      samples: w.samples,
      batch: w.batch,
      input: w.input,
      ids: w.ids !== undefined,
    });
    const engines = ['waypoint1', 'waypoint2', ...(hasTorch ? ['torch1', 'torch2'] : []), 'tfjs'];
    const results: EngineResults = new Map();
    try {
      for (let r = 0; r < ROUNDS; r++) {
        for (const engine of engines) {
          // A failed engine (no kernel) fails the same way every round.
          if (typeof results.get(engine) === 'string') continue;
          const sample = engine.startsWith('torch')
            ? torchEpoch(PYTHON, Number(engine.slice(-1)), dir)
            : childEpoch(index, engine);
          addSample(results, engine, sample);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    console.log(
      `\n${w.name}; batch ${w.batch}, Adam 1e-3; median of ${ROUNDS} rounds (engines alternating, each epoch its own process)`,
    );
    console.log(bestRatioTable(results, ['waypoint1', 'waypoint2', 'torch1', 'torch2', 'tfjs'], PYTHON));
  }
}

const at = process.argv.indexOf('--epoch');
if (at >= 0) await runChild(Number(process.argv[at + 1]), process.argv[at + 2]);
