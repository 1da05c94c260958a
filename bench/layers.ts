/**
 * Forward + backward time of each layer issue 19 added, at a typical size, beside
 * TensorFlow.js's wasm backend (where it has the kernels) and PyTorch on one CPU thread
 * (when .venv-ref has torch), measured in the same run. Waypoint and PyTorch seed the
 * backward pass with the output's gradient (0.5 everywhere) and Waypoint runs each step in a
 * buffer scope, as fit does; TensorFlow.js's API wants a scalar, (y·0.5).sum(), whose ops its
 * rows include. Then one epoch of a small LSTM text
 * classifier beside the same model in both. `npm run bench -- layers [--quick] [--no-epoch]`
 * (--no-epoch: the per-layer table only; TensorFlow.js's epoch alone takes ten minutes)
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import {
  Adam,
  AveragePooling2D,
  BatchNormalization,
  Conv2D,
  Dense,
  Embedding,
  GRU,
  GlobalAveragePooling2D,
  LSTM,
  LayerNormalization,
  Random,
  Sequential,
  Tensor,
  type Layer,
} from '../src/node/index.js';
import { withBufferScope } from '../src/tensor/memory.js';
import { loadTf, table, timeMedian, type Tf } from './common.js';

const quick = process.argv.includes('--quick');
const runs = quick ? 3 : 7;
/**
 * Warm-up before timing, every engine alike: at least WARM_STEPS steps and WARM_MS of them
 * (at most 200 steps). V8 optimizes JavaScript and WebAssembly only once they run hot, as a
 * layer in training does: LayerNormalization took 2.0 ms a step at first, 0.9–1.2 over the
 * next 20, 0.38 after 50.
 */
const WARM_STEPS = quick ? 5 : 20,
  WARM_MS = quick ? 200 : 1000;

async function warm(fn: () => unknown): Promise<void> {
  const start = performance.now();
  for (let i = 0; i < 200 && (i < WARM_STEPS || performance.now() - start < WARM_MS); i++) await fn();
}
const withEpoch = !process.argv.includes('--no-epoch');
const PYTHON = '.venv-ref/bin/python';

interface Case {
  name: string;
  shape: number[];
  ints?: number;
  waypoint: () => Layer;
  tf: (tf: Tf) => unknown;
  torch: string;
}
const cases: Case[] = [
  {
    name: 'BatchNormalization [64,14,14,32]',
    shape: [64, 14, 14, 32],
    waypoint: () => new BatchNormalization(),
    tf: (tf) => tf.layers.batchNormalization(),
    torch: 'nn.BatchNorm2d(32, eps=1e-3)',
  },
  {
    name: 'LayerNormalization [64,32,64]',
    shape: [64, 32, 64],
    waypoint: () => new LayerNormalization(),
    tf: (tf) => tf.layers.layerNormalization(),
    torch: 'nn.LayerNorm(64, eps=1e-3)',
  },
  {
    name: 'Embedding 1000×64, [64,32] ids',
    shape: [64, 32],
    ints: 1000,
    waypoint: () => new Embedding({ inputDim: 1000, outputDim: 64 }),
    tf: (tf) => tf.layers.embedding({ inputDim: 1000, outputDim: 64 }),
    torch: 'nn.Embedding(1000, 64)',
  },
  {
    name: 'AveragePooling2D 2×2 [64,28,28,16]',
    shape: [64, 28, 28, 16],
    waypoint: () => new AveragePooling2D({ poolSize: 2 }),
    tf: (tf) => tf.layers.averagePooling2d({ poolSize: 2 }),
    torch: 'nn.AvgPool2d(2)',
  },
  {
    name: 'GlobalAveragePooling2D [64,14,14,32]',
    shape: [64, 14, 14, 32],
    waypoint: () => new GlobalAveragePooling2D(),
    tf: (tf) => tf.layers.globalAveragePooling2d({}),
    torch: 'nn.AdaptiveAvgPool2d(1)',
  },
  {
    name: 'Conv2D 3×3 dilation 2, [32,28,28,8]→16',
    shape: [32, 28, 28, 8],
    waypoint: () => new Conv2D({ filters: 16, kernelSize: 3, dilationRate: 2 }),
    tf: (tf) => tf.layers.conv2d({ filters: 16, kernelSize: 3, dilationRate: 2 }),
    torch: 'nn.Conv2d(8, 16, 3, dilation=2)',
  },
  {
    name: 'LSTM 64, [32,20,32]',
    shape: [32, 20, 32],
    waypoint: () => new LSTM({ units: 64 }),
    tf: (tf) => tf.layers.lstm({ units: 64 }),
    torch: 'nn.LSTM(32, 64, batch_first=True)',
  },
  {
    name: 'GRU 64, [32,20,32]',
    shape: [32, 20, 32],
    waypoint: () => new GRU({ units: 64 }),
    tf: (tf) => tf.layers.gru({ units: 64, resetAfter: true } as never),
    torch: 'nn.GRU(32, 64, batch_first=True)',
  },
];

const rng = new Random(3);
const inputOf = (c: Case) => {
  const n = c.shape.reduce((a, b) => a * b, 1);
  return c.ints
    ? Float32Array.from({ length: n }, (_, i) => (i * 7919) % c.ints!)
    : rng.fillUniform(new Float32Array(n), -1, 1);
};

async function waypointMs(c: Case, x: Float32Array): Promise<number> {
  const layer = c.waypoint();
  layer.build(c.shape.slice(1), new Random(0));
  const input = new Tensor(x, c.shape);
  // The gradient (y·0.5).sum() would seed, given directly (as PyTorch's step below): the row times the layer, not the harness's ops.
  const shape = layer.call(input, { training: true, rng }).shape;
  const seed = new Tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.5), shape);
  const step = () => withBufferScope(() => layer.call(input, { training: true, rng }).backward(seed));
  await warm(step);
  return timeMedian(step, { runs, warmup: 0 });
}

async function tfMs(tf: Tf, c: Case, x: Float32Array): Promise<number | string> {
  try {
    const layer = c.tf(tf) as { apply(x: unknown, k?: unknown): unknown };
    const input = tf.tensor(x, c.shape);
    layer.apply(input); // builds the weights
    const loss = (x: unknown) => tf.sum(tf.mul(layer.apply(x, { training: true }) as never, 0.5));
    const weighted = (layer as unknown as { trainableWeights: unknown[] }).trainableWeights.length > 0;
    // With weights: their gradients (as Waypoint computes); without: the input's, the only one there is.
    const step = () => {
      const out = weighted
        ? (() => {
            const r = tf.variableGrads(() => loss(input) as never);
            return [r.value, ...Object.values(r.grads)];
          })()
        : tf.grads((x) => loss(x) as never)([input]);
      out[0].dataSync();
      tf.dispose(out);
    };
    await warm(step);
    const ms = await timeMedian(step, { runs, warmup: 0 });
    input.dispose();
    return ms;
  } catch (e) {
    return `no (${(e as Error).message.slice(0, 28)}…)`;
  }
}

/** PyTorch's times for the same cases, one thread, NHWC inputs moved to NCHW where torch wants it; null when torch is absent. */
function torchMs(): { layers: Record<string, number>; epoch: number } | string {
  if (!existsSync(PYTHON)) return `${PYTHON} not found (python3 -m venv .venv-ref && .venv-ref/bin/pip install torch)`;
  const script = `
import json, statistics, time, torch
from torch import nn
torch.set_num_threads(1)
def med(f, runs=${runs}):
    s = time.perf_counter(); i = 0
    while i < 200 and (i < ${WARM_STEPS} or time.perf_counter() - s < ${WARM_MS} / 1000):
        f(); i += 1
    t = []
    for _ in range(runs):
        s = time.perf_counter(); f(); t.append((time.perf_counter() - s) * 1000)
    return statistics.median(t)
out = {}
cases = ${JSON.stringify(cases.map((c) => ({ name: c.name, shape: c.shape, ints: c.ints ?? 0, torch: c.torch })))}
for c in cases:
    m = eval(c['torch'])
    shape = c['shape']
    if c['ints']:
        x = (torch.arange(int(torch.tensor(shape).prod())) * 7919 % c['ints']).reshape(shape)
    elif len(shape) == 4:
        x = torch.rand(shape[0], shape[3], shape[1], shape[2], requires_grad=True)
    else:
        x = torch.rand(*shape, requires_grad=True)
    def step():
        y = m(x)
        y = y[0] if isinstance(y, tuple) else y
        y.backward(torch.full_like(y, 0.5))
    out[c['name']] = med(step)
torch.manual_seed(0)
model = nn.ModuleDict({'emb': nn.Embedding(1000, 32), 'lstm': nn.LSTM(32, 64, batch_first=True), 'head': nn.Linear(64, 2)})
opt = torch.optim.Adam(model.parameters(), 1e-3, eps=1e-7)
xs = torch.arange(2048 * 40).reshape(2048, 40) * 7919 % 1000
ys = torch.arange(2048) % 2
def epoch():
    for i in range(0, 2048, 32):
        opt.zero_grad()
        h = model['lstm'](model['emb'](xs[i:i + 32]))[0][:, -1]
        nn.functional.cross_entropy(model['head'](h), ys[i:i + 32]).backward()
        opt.step()
print(json.dumps({'layers': out, 'epoch': med(epoch, 3) / 1000}))
`;
  const r = spawnSync(PYTHON, ['-c', script], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) return `torch failed: ${(r.stderr || r.error?.message || '').split('\n').filter(Boolean).at(-1)}`;
  return JSON.parse(r.stdout) as { layers: Record<string, number>; epoch: number };
}

/** One epoch of Embedding(1000, 32) → LSTM(64) → Dense(2, softmax) on 2,048 sequences of 40 ids, batch 32, Adam. */
const SEQS = quick ? 512 : 2048,
  LEN = 40;
const ids = Float32Array.from({ length: SEQS * LEN }, (_, i) => (i * 7919) % 1000);
const labels = Float32Array.from({ length: SEQS * 2 }, (_, i) => (i % 2 === Math.floor(i / 2) % 2 ? 1 : 0));

async function waypointEpoch(): Promise<number> {
  const model = new Sequential(
    [
      new Embedding({ inputDim: 1000, outputDim: 32, inputShape: [LEN] }),
      new LSTM({ units: 64 }),
      new Dense({ units: 2, activation: 'softmax' }),
    ],
    { seed: 1 },
  );
  model.compile({ optimizer: new Adam(), loss: 'categoricalCrossentropy' });
  const start = performance.now();
  await model.fit(new Tensor(ids, [SEQS, LEN]), new Tensor(labels, [SEQS, 2]), {
    epochs: 1,
    batchSize: 32,
    verbose: 0,
  });
  return (performance.now() - start) / 1000;
}

async function tfEpoch(tf: Tf): Promise<number | string> {
  const wasm = await tfEpochOn(tf);
  if (typeof wasm === 'number') return wasm;
  // tfjs-wasm lacks a kernel the embedding's gradient needs: its cpu backend is the TensorFlow.js baseline then.
  if (!(await tf.setBackend('cpu'))) return wasm;
  const cpu = await tfEpochOn(tf);
  return typeof cpu === 'number' ? cpu : `${wasm}; cpu: ${cpu}`;
}

async function tfEpochOn(tf: Tf): Promise<number | string> {
  try {
    const model = tf.sequential({
      layers: [
        tf.layers.embedding({ inputDim: 1000, outputDim: 32, inputLength: LEN }),
        tf.layers.lstm({ units: 64 }),
        tf.layers.dense({ units: 2, activation: 'softmax' }),
      ],
    });
    model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
    const x = tf.tensor2d(ids, [SEQS, LEN]),
      y = tf.tensor2d(labels, [SEQS, 2]);
    const start = performance.now();
    await model.fit(x, y, { epochs: 1, batchSize: 32, verbose: 0 });
    return (performance.now() - start) / 1000;
  } catch (e) {
    return `wasm: no (${(e as Error).message.slice(0, 28)}…)`;
  }
}

export async function run(): Promise<void> {
  const tf = await loadTf('wasm');
  const torch = quick ? 'skipped with --quick' : torchMs();
  const rows: Array<Array<string | number>> = [];
  for (const c of cases) {
    const x = inputOf(c);
    // Alternate: Waypoint, peer, Waypoint again; the row gives the median of Waypoint's two.
    const a = await waypointMs(c, x);
    const peer = typeof tf === 'string' ? tf : await tfMs(tf, c, x);
    const b = await waypointMs(c, x);
    const ours = (a + b) / 2;
    const pt = typeof torch === 'string' ? NaN : torch.layers[c.name];
    rows.push([
      c.name,
      ours,
      peer,
      typeof peer === 'number' ? `${(peer / ours).toFixed(2)}×` : '',
      Number.isFinite(pt) ? pt : 'absent',
      Number.isFinite(pt) ? `${(pt / ours).toFixed(2)}×` : '',
    ]);
  }
  console.log(
    `forward + backward (training mode), ms, median of ${runs}; ratio = peer time / Waypoint time (above 1: Waypoint faster)`,
  );
  console.log(table(['layer', 'waypoint', 'tfjs wasm', 'ratio', 'torch 1 thread', 'ratio'], rows));
  if (typeof torch === 'string') console.log(`PyTorch: ${torch}`);
  if (!withEpoch) return;

  const ours = await waypointEpoch();
  const theirs = typeof tf === 'string' ? tf : await tfEpoch(tf); // may switch tfjs to its cpu backend (said in the row)
  const pt = typeof torch === 'string' ? torch : torch.epoch;
  console.log(
    `\nLSTM text classifier, one epoch: Embedding(1000,32) → LSTM(64) → Dense(2), ${SEQS} sequences × ${LEN}, batch 32, Adam; seconds`,
  );
  console.log(
    table(
      ['engine', 's/epoch', 'ratio to Waypoint'],
      [
        ['waypoint', ours, '1.00×'],
        [
          `tfjs ${typeof tf === 'string' ? '' : tf.getBackend()}`,
          theirs,
          typeof theirs === 'number' ? `${(theirs / ours).toFixed(2)}×` : '',
        ],
        [
          'torch 1 thread',
          typeof pt === 'number' ? pt : 'absent',
          typeof pt === 'number' ? `${(pt / ours).toFixed(2)}×` : '',
        ],
      ],
    ),
  );
}
