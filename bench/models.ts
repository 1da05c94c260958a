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
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
  exportSafetensors,
  startThreads,
  torchSource,
  type Layer,
} from '../src/node/index.js';
import { type EngineResults, type EpochSample, addSample, bestRatioTable, pythonEpoch } from './common.js';

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

const PEER = `
import json, resource, sys, time, os
threads, d = int(sys.argv[1]), sys.argv[2]
import numpy as np, torch
from safetensors.torch import load_file
torch.set_num_threads(threads)
meta = json.load(open(os.path.join(d, "meta.json")))
n, batch = meta["samples"], meta["batch"]
x = np.fromfile(os.path.join(d, "x.bin"), dtype=np.float32).reshape([n] + meta["input"])
labels = torch.from_numpy(np.fromfile(os.path.join(d, "y.bin"), dtype=np.int64))
if meta["ids"]:
    xt = torch.from_numpy(x.astype(np.int64))
elif len(meta["input"]) == 3:
    xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
else:
    xt = torch.from_numpy(x)
scope = {}
exec(open(os.path.join(d, "model.py")).read(), scope)
model = scope["model"]
model.load_state_dict(load_file(os.path.join(d, "torch.safetensors")), strict=True)
logits = model[:-1]  # the softmax is folded into the loss, as Waypoint folds it
model.train()
opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
start = time.perf_counter(); total = 0.0
for i in range(0, n, batch):
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(logits(xt[i:i + batch]), labels[i:i + batch])
    loss.backward(); opt.step()
    total += loss.item() * min(batch, n - i)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "loss": total / n, "rssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
`;

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
    writeFileSync(join(dir, 'x.bin'), xData);
    writeFileSync(
      join(dir, 'y.bin'),
      BigInt64Array.from(labels, (l) => BigInt(l)),
    );
    writeFileSync(join(dir, 'torch.safetensors'), exportSafetensors(initial, { layout: 'torch' }));
    writeFileSync(join(dir, 'model.py'), torchSource(initial));
    writeFileSync(
      join(dir, 'meta.json'),
      JSON.stringify({ samples: w.samples, batch: w.batch, input: w.input, ids: w.ids ?? 0 }),
    );
    const engines = ['waypoint1', 'waypoint2', ...(hasTorch ? ['torch1', 'torch2'] : [])];
    const results: EngineResults = new Map();
    try {
      for (let r = 0; r < ROUNDS; r++) {
        for (const engine of engines) {
          const threads = Number(engine.slice(-1));
          const sample = engine.startsWith('waypoint')
            ? await waypointEpoch(w, threads, x, y)
            : pythonEpoch(PYTHON, PEER, [String(threads), dir]);
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
