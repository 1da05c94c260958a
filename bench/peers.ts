/**
 * MNIST epochs of Waypoint and PyTorch (each on 1 and 2 threads) and Keras 3 (torch backend) on
 * the same CPU: the built-in MLP and CNN, identical initial weights (exported by Waypoint,
 * loaded by each peer), the same data in the same order (pre-shuffled, shuffle off), batch
 * 32, Adam 1e-3. Each round runs one epoch of every engine in turn, from the initial weights;
 * the table gives medians, each peer's time beside Waypoint's on as many threads, the first
 * epoch's loss (equal to three or four decimals when the engines do the same arithmetic) and
 * peak RSS. The Python peers run when .venv-ref has torch and
 * keras (else they are reported absent). `npm run bench -- peers [--quick]`
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Random,
  Tensor,
  configureThreads,
  exportSafetensors,
  loadMnist,
  startThreads,
  torchSource,
} from '../src/node/index.js';
import { mnistModel, type MnistModelKind } from '../src/cli/models.js';
import { type EngineResults, type EpochSample, addSample, median, table } from './common.js';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 1 : 5;
const PYTHON = '.venv-ref/bin/python';

const PEER = `
import json, resource, sys, time, os
engine, arch, d = sys.argv[1], sys.argv[2], sys.argv[3]
import numpy as np
x = np.fromfile(os.path.join(d, "x.bin"), dtype=np.float32)
labels = np.fromfile(os.path.join(d, "y.bin"), dtype=np.int64)
n = labels.shape[0]
x = x.reshape((n, 784) if arch == "mlp" else (n, 28, 28, 1))
if engine.startswith("torch"):
    import torch
    torch.set_num_threads(int(engine[5:]))
    from safetensors.torch import load_file
    scope = {}
    exec(open(os.path.join(d, "model.py")).read(), scope)
    model = scope["model"]
    model.load_state_dict(load_file(os.path.join(d, "torch.safetensors")), strict=True)
    logits = model[:-1]  # the softmax is folded into the loss, as Waypoint folds it
    xt = torch.from_numpy(x if arch == "mlp" else x.transpose(0, 3, 1, 2).copy())
    yt = torch.from_numpy(labels)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    start = time.perf_counter(); total = 0.0
    for i in range(0, n, 32):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(logits(xt[i:i + 32]), yt[i:i + 32])
        loss.backward(); opt.step()
        total += loss.item() * min(32, n - i)
    seconds = time.perf_counter() - start
else:
    os.environ["KERAS_BACKEND"] = "torch"
    import keras
    from safetensors.numpy import load_file
    w = load_file(os.path.join(d, "keras.safetensors"))
    keys = sorted(w, key=lambda k: (int(k.split(".")[1]), k.split(".")[2] != "kernel"))
    L = keras.layers
    layers = [L.Dense(128, activation="relu"), L.Dense(10, activation="softmax")] if arch == "mlp" else [
        L.Conv2D(8, 3, activation="relu"), L.MaxPooling2D(2), L.Conv2D(16, 3, activation="relu"), L.MaxPooling2D(2), L.Flatten(), L.Dense(10, activation="softmax")]
    model = keras.Sequential([keras.Input(x.shape[1:])] + layers)
    model.set_weights([w[k] for k in keys])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    start = time.perf_counter()
    history = model.fit(x, labels, batch_size=32, epochs=1, shuffle=False, verbose=0)
    seconds = time.perf_counter() - start
    total = history.history["loss"][0] * n
print(json.dumps({"seconds": seconds, "loss": total / n, "rssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
`;

function peer(engine: string, arch: MnistModelKind, dir: string): EpochSample | string {
  const r = spawnSync(PYTHON, ['-c', PEER, engine, arch, dir], {
    encoding: 'utf8',
    env: { ...process.env, KERAS_BACKEND: 'torch' },
    timeout: 600_000,
  });
  if (r.status !== 0) return (r.stderr || r.error?.message || 'failed').trim().split('\n').at(-1)!;
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

export async function run(): Promise<void> {
  const hasPython = existsSync(PYTHON);
  for (const arch of ['mlp', 'cnn'] as const) {
    const { xTrain, yTrain } = await loadMnist({ shape: arch === 'mlp' ? 'flat' : 'image' });
    const n = xTrain.shape[0],
      row = xTrain.size / n;
    const order = new Random(1).permutation(n);
    const x = new Float32Array(xTrain.size),
      y = new Float32Array(yTrain.size),
      labels = new BigInt64Array(n);
    order.forEach((src, i) => {
      x.set(xTrain.data.subarray(src * row, (src + 1) * row), i * row);
      y.set(yTrain.data.subarray(src * 10, (src + 1) * 10), i * 10);
      labels[i] = BigInt(yTrain.data.subarray(src * 10, (src + 1) * 10).indexOf(1));
    });
    const dir = mkdtempSync(join(tmpdir(), 'wpt-peers-'));
    const initial = mnistModel(arch, 42);
    writeFileSync(join(dir, 'x.bin'), x);
    writeFileSync(join(dir, 'y.bin'), labels);
    writeFileSync(join(dir, 'torch.safetensors'), exportSafetensors(initial, { layout: 'torch' }));
    writeFileSync(join(dir, 'keras.safetensors'), exportSafetensors(initial, { layout: 'keras' }));
    writeFileSync(join(dir, 'model.py'), torchSource(initial));
    const engines = ['waypoint1', 'waypoint2', ...(hasPython ? ['torch1', 'torch2', 'keras'] : [])];
    const results: EngineResults = new Map();
    try {
      for (let r = 0; r < ROUNDS; r++) {
        for (const engine of engines) {
          let sample: EpochSample | string;
          if (engine.startsWith('waypoint')) {
            configureThreads({ threads: Number(engine.slice(-1)) });
            await startThreads();
            const model = mnistModel(arch, 42);
            const t = performance.now();
            const history = await model.fit(new Tensor(x, xTrain.shape), new Tensor(y, yTrain.shape), {
              epochs: 1,
              batchSize: 32,
              shuffle: false,
              verbose: 0,
            });
            sample = {
              seconds: (performance.now() - t) / 1000,
              loss: history.history.loss[0],
              rssMiB: process.memoryUsage().rss / 2 ** 20,
            };
          } else {
            sample = peer(engine, arch, dir);
          }
          addSample(results, engine, sample);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const label: Record<string, string> = {
      waypoint1: 'Waypoint, 1 thread',
      waypoint2: 'Waypoint, 2 threads',
      torch1: 'PyTorch, 1 thread',
      torch2: 'PyTorch, 2 threads',
      keras: 'Keras 3 (torch backend)',
    };
    // Each engine against Waypoint on as many threads (Keras runs on every core, as PyTorch's default).
    const ours = (e: string) =>
      results.get(e === 'torch1' || e === 'waypoint1' ? 'waypoint1' : 'waypoint2') as { seconds: number[] };
    console.log(
      `\nMNIST ${arch.toUpperCase()}, one epoch of ${n} samples, batch 32, Adam 1e-3, identical initial weights and order; median of ${ROUNDS} rounds (engines alternating)`,
    );
    console.log(
      table(
        ['engine', 's/epoch', 'Waypoint ÷ engine', 'first-epoch loss', 'peak RSS MiB'],
        ['waypoint1', 'waypoint2', 'torch1', 'torch2', 'keras'].map((e) => {
          const v = results.get(e);
          if (v === undefined) return [label[e], 'absent', '', `${PYTHON} not found`, ''];
          if (typeof v === 'string') return [label[e], 'failed', '', v.slice(0, 60), ''];
          return [
            label[e],
            median(v.seconds),
            `${(median(ours(e).seconds) / median(v.seconds)).toFixed(2)}×`,
            v.loss.toFixed(4),
            v.rssMiB,
          ];
        }),
      ),
    );
  }
  console.log(
    "Waypoint ÷ engine: how many times longer Waypoint on as many threads takes (above 1: the peer is faster; Keras against 2). Waypoint's RSS is the benchmark process's, with every engine's data loaded.",
  );
}
