/** Shared benchmark helpers: medians after warm-up, and tables with side-by-side ratios. */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { median, timeMedian as cliTimeMedian } from '../src/cli/io-measure.js';
import { Callback, type FitContext, type Logs, type Model, exportSafetensors, torchSource } from '../src/node/index.js';

export { median } from '../src/cli/io-measure.js';

/** Median wall time in ms of `fn` over `runs` runs after `warmup` untimed ones. */
export function timeMedian(fn: () => unknown, { warmup = 2, runs = 5 } = {}): Promise<number> {
  return cliTimeMedian(fn, runs, warmup);
}

/** One engine's epoch in a peer benchmark: seconds, the epoch's loss and the memory it held. */
export interface EpochSample {
  seconds: number;
  loss: number;
  rssMiB: number;
}
/** An engine's samples over the rounds (the first loss, the largest RSS), or why it could not run. */
export type EngineResults = Map<string, { seconds: number[]; loss: number; rssMiB: number } | string>;

/** Adds one round's sample of `engine` to `results`; a failure (a message) replaces them. */
export function addSample(results: EngineResults, engine: string, sample: EpochSample | string): void {
  const entry = results.get(engine);
  if (typeof sample === 'string') results.set(engine, sample);
  else if (entry === undefined || typeof entry === 'string')
    results.set(engine, { seconds: [sample.seconds], loss: sample.loss, rssMiB: sample.rssMiB });
  else {
    entry.seconds.push(sample.seconds);
    entry.rssMiB = Math.max(entry.rssMiB, sample.rssMiB);
  }
}

/** How the peer benchmarks name their engines. */
export const ENGINE_LABELS: Record<string, string> = {
  waypoint1: 'Waypoint, 1 thread',
  waypoint2: 'Waypoint, 2 threads',
  torch1: 'PyTorch, 1 thread',
  torch2: 'PyTorch, 2 threads',
  keras: 'Keras 3 (torch backend)',
};

/** A Python peer's epoch: the JSON sample its script prints last, or the last line of why it failed. */
export function pythonEpoch(python: string, script: string, args: string[]): EpochSample | string {
  const r = spawnSync(python, ['-c', script, ...args], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) return (r.stderr || r.error?.message || 'failed').trim().split('\n').at(-1)!;
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

/** Each engine's median epoch beside Waypoint's best (of its thread counts), its first loss and peak RSS. */
export function bestRatioTable(results: EngineResults, engines: string[], python: string): string {
  const best = ['waypoint1', 'waypoint2']
    .map((e) => results.get(e))
    .filter((v) => typeof v === 'object')
    .reduce((m, v) => Math.min(m, median(v.seconds)), Infinity);
  return table(
    ['engine', 's/epoch', "engine ÷ Waypoint's best", 'first-epoch loss', 'peak RSS MiB'],
    engines.map((e) => {
      const v = results.get(e);
      if (v === undefined) return [ENGINE_LABELS[e], 'absent', '', `${python} not found`, ''];
      if (typeof v === 'string') return [ENGINE_LABELS[e], 'failed', '', v.slice(0, 60), ''];
      return [
        ENGINE_LABELS[e],
        median(v.seconds),
        `${(median(v.seconds) / best).toFixed(2)}×`,
        v.loss.toFixed(4),
        v.rssMiB,
      ];
    }),
  );
}

export function table(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => String(r[i]).length)));
  const line = (r: Array<string | number>) => r.map((c, i) => String(c).padStart(widths[i])).join('  ');
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

export function fmt(x: number): string {
  if (!Number.isFinite(x)) return 'n/a';
  return Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2);
}

export type Tf = typeof import('@tensorflow/tfjs');

/** TensorFlow.js with the requested backend, or the reason it could not be loaded. */
export async function loadTf(backend: 'cpu' | 'wasm'): Promise<Tf | string> {
  try {
    const tf = await import('@tensorflow/tfjs');
    if (backend === 'wasm') {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      const pkg = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json');
      wasm.setWasmPaths(join(dirname(pkg), 'dist') + '/');
    }
    if (!(await tf.setBackend(backend))) return `tfjs backend '${backend}' did not initialize`;
    await tf.ready();
    return tf;
  } catch (e) {
    return `tfjs unavailable: ${(e as Error).message}`;
  }
}

type Hook = 'onTrainBegin' | 'onTrainEnd' | 'onEpochBegin' | 'onEpochEnd' | 'onBatchEnd';

/** Wraps a callback and adds up how long its hooks hold up the training loop (`blockedMs`), except the hooks named `untimed`. */
export class TimedCallback extends Callback {
  blockedMs = 0;
  override readonly logsCheckpointOverhead: boolean;
  constructor(
    private readonly inner: Callback,
    private readonly untimed: readonly Hook[] = [],
  ) {
    super();
    this.logsCheckpointOverhead = inner.logsCheckpointOverhead;
  }
  override setModel(model: Parameters<Callback['setModel']>[0]) {
    super.setModel(model);
    this.inner.setModel(model);
  }
  override setContext(context: FitContext) {
    super.setContext(context);
    this.inner.setContext(context);
  }
  private async hook(name: Hook, run: () => Promise<void>) {
    const t = performance.now();
    await run();
    if (!this.untimed.includes(name)) this.blockedMs += performance.now() - t;
  }
  override async onTrainBegin(logs?: Logs) {
    this.inner.peers = this.peers;
    await this.hook('onTrainBegin', () => this.inner.onTrainBegin(logs));
  }
  override async onTrainEnd(logs?: Logs) {
    await this.hook('onTrainEnd', () => this.inner.onTrainEnd(logs));
  }
  override async onTrainAbort(error: unknown) {
    await this.inner.onTrainAbort(error);
  }
  override async onEpochBegin(e: number, logs?: Logs) {
    await this.hook('onEpochBegin', () => this.inner.onEpochBegin(e, logs));
  }
  override async onEpochEnd(e: number, logs?: Logs) {
    await this.hook('onEpochEnd', () => this.inner.onEpochEnd(e, logs));
  }
  override async onBatchEnd(b: number, logs?: Logs) {
    await this.hook('onBatchEnd', () => this.inner.onBatchEnd(b, logs));
  }
}

/*
 * PyTorch as a peer for one training epoch: the files a peer run reads (the batch, the labels,
 * Waypoint's initial weights in torch's layout and the module `torchSource` writes for them),
 * and the script that trains one epoch of them with Adam, as the Waypoint side does.
 */

export interface TorchPeerSpec {
  samples: number;
  batch: number;
  /** Per-sample input shape, as Waypoint takes it (NHWC images are permuted for torch). */
  input: number[];
  /** The input is ids (an Embedding reads it), not floats. */
  ids?: boolean;
  /**
   * A functional model's output layer, whose last module (its softmax) the peer replaces by
   * the identity; a Sequential's last module is dropped instead.
   */
  softmaxIn?: string;
}

const SCRIPT = `
import json, resource, sys, time, os
threads, d = int(sys.argv[1]), sys.argv[2]
import numpy as np, torch
from safetensors.torch import load_file
torch.set_num_threads(threads)
meta = json.load(open(os.path.join(d, "meta.json")))
n, batch = meta["samples"], meta["batch"]
x = np.fromfile(os.path.join(d, "x.bin"), dtype=np.float32).reshape([n] + meta["input"])
labels = torch.from_numpy(np.fromfile(os.path.join(d, "y.bin"), dtype=np.int64))
if meta.get("ids"):
    xt = torch.from_numpy(x.astype(np.int64))
elif len(meta["input"]) == 3:
    xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
else:
    xt = torch.from_numpy(x)
scope = {}
exec(open(os.path.join(d, "model.py")).read(), scope)
model = scope["model"]
model.load_state_dict(load_file(os.path.join(d, "torch.safetensors")), strict=True)
# The softmax is folded into the loss, as Waypoint folds it.
if meta.get("softmaxIn"):
    getattr(model, meta["softmaxIn"])[-1] = torch.nn.Identity()
    logits = model
else:
    logits = model[:-1]
model.train()
opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
def epoch():
    total = 0.0
    for i in range(0, n, batch):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(logits(xt[i:i + batch]), labels[i:i + batch])
        loss.backward(); opt.step()
        total += loss.item() * min(batch, n - i)
    return total / n
# With "warm": the first epoch's loss, the second epoch's time.
warm = len(sys.argv) > 3 and sys.argv[3] == "warm"
first = epoch() if warm else None
start = time.perf_counter()
last = epoch()
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "loss": first if warm else last, "rssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
`;

/** Writes what the peer reads into `dir`: `x` (the batch's values), the labels, the model's initial weights and source. */
export function writeTorchPeer(
  dir: string,
  initial: Model,
  x: Float32Array,
  labels: Int32Array,
  spec: TorchPeerSpec,
): void {
  writeFileSync(join(dir, 'x.bin'), x);
  writeFileSync(
    join(dir, 'y.bin'),
    BigInt64Array.from(labels, (l) => BigInt(l)),
  );
  writeFileSync(join(dir, 'torch.safetensors'), exportSafetensors(initial, { layout: 'torch' }));
  writeFileSync(join(dir, 'model.py'), torchSource(initial));
  writeFileSync(join(dir, 'meta.json'), JSON.stringify(spec));
}

/** One PyTorch epoch over what `writeTorchPeer` wrote, on `threads` threads; `warm`: the second epoch of the process is timed (the first's loss reported). */
export function torchEpoch(python: string, threads: number, dir: string, warm = false): EpochSample | string {
  return pythonEpoch(python, SCRIPT, [String(threads), dir, ...(warm ? ['warm'] : [])]);
}
