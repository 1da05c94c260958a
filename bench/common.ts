/** Shared benchmark helpers: medians after warm-up, and tables with side-by-side ratios. */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { median, timeMedian as cliTimeMedian } from '../src/cli/io-measure.js';
import { Callback, type FitContext, type Logs } from '../src/node/index.js';

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
