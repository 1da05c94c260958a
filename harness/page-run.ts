/**
 * One training run that a page and Node both make (test/browser/browser.test.ts compares them bit
 * for bit): an MLP on Gaussian blobs under Adam with BackupAndRestore every few batches
 * into the storage it is given. The package comes as an argument, so that a page passes its
 * browser build and Node its Node build, and this module imports neither.
 */
import type * as Waypoint from '../src/index.js';

export type Package = typeof Waypoint;

export interface PageRunOptions {
  storage: Waypoint.Storage;
  backupDir: string;
  /** Told each global batch as it ends (the test reloads the page from there). */
  onBatch?: (globalBatch: number) => void;
  /** Milliseconds each batch waits (a slow hook: gives a test time to reload mid-run; no arithmetic changes). */
  batchDelayMs?: number;
  /** Told the time from the page being hidden to its backup being durable, once that backup is written. */
  onHiddenBackup?: (ms: number) => void;
}

export const EPOCHS = 4;
export const STEPS_PER_EPOCH = 24;

export interface PageRunResult {
  weights: Array<[string, number[]]>;
  optimizer: unknown;
  history: string;
  rng: unknown;
  /** The first global batch this run trained: above 0 when it resumed from a backup. */
  firstBatch: number;
}

function blobs(wp: Package, n: number): [Waypoint.Tensor, Waypoint.Tensor] {
  const rng = new wp.Random(11);
  const x = new Float32Array(n * 6),
    labels: number[] = [];
  for (let i = 0; i < n; i++) {
    labels.push(i % 3);
    for (let j = 0; j < 6; j++) x[i * 6 + j] = rng.normal(j % 3 === i % 3 ? 1.5 : 0, 0.7);
  }
  return [new wp.Tensor(x, [n, 6]), wp.oneHot(labels, 3)];
}

export async function pageRun(wp: Package, options: PageRunOptions): Promise<PageRunResult> {
  const [x, y] = blobs(wp, STEPS_PER_EPOCH * 8);
  const model = new wp.Sequential(
    [
      new wp.Dense({ units: 16, activation: 'relu', inputShape: [6] }),
      new wp.Dense({ units: 3, activation: 'softmax' }),
    ],
    { seed: 5 },
  );
  model.compile({
    optimizer: new wp.Adam({ learningRate: 0.01 }),
    loss: 'categoricalCrossentropy',
    metrics: ['accuracy'],
  });
  let epoch = 0;
  let firstBatch = -1;
  const progress = {
    onEpochBegin: async (e: number) => {
      epoch = e;
    },
    onBatchEnd: async (batch: number) => {
      if (backup.lastHiddenBackupMs !== null) {
        options.onHiddenBackup?.(backup.lastHiddenBackupMs);
        backup.lastHiddenBackupMs = null;
      }
      const global = epoch * STEPS_PER_EPOCH + batch;
      if (firstBatch < 0) firstBatch = global;
      options.onBatch?.(global);
      if (options.batchDelayMs) await new Promise((resolve) => setTimeout(resolve, options.batchDelayMs));
    },
  };
  const backup = new wp.BackupAndRestore({ backupDir: options.backupDir, saveFreq: 5, storage: options.storage });
  await model.fit(x, y, { epochs: EPOCHS, batchSize: 8, verbose: 0, callbacks: [backup, progress] });
  const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
  const slots = (tree: unknown): unknown =>
    tree instanceof wp.Tensor
      ? { shape: tree.shape, bits: bits(tree.data) }
      : typeof tree === 'object' && tree !== null
        ? Object.fromEntries(Object.entries(tree).map(([k, v]) => [k, slots(v)]))
        : tree;
  return {
    weights: model.namedParams().map(([k, t]) => [k, bits(t.data)]),
    optimizer: slots(model.optimizer!.stateDict()),
    history: JSON.stringify(model.history.stateDict()),
    rng: model.rng.getState(),
    firstBatch,
  };
}

/**
 * Seconds of each epoch of the MNIST MLP (784-128-10, Adam, batch 32) on `data`, backing up
 * every epoch into `backup` when given (bench/browser.ts: a page and Node alike).
 */
export async function mnistMlpEpochs(
  wp: Package,
  data: { xTrain: Waypoint.Tensor; yTrain: Waypoint.Tensor },
  epochs: number,
  backup?: { storage: Waypoint.Storage; dir: string },
): Promise<number[]> {
  const model = new wp.Sequential(
    [
      new wp.Dense({ units: 128, activation: 'relu', inputShape: [784] }),
      new wp.Dense({ units: 10, activation: 'softmax' }),
    ],
    { seed: 1 },
  );
  model.compile({
    optimizer: new wp.Adam({ learningRate: 0.001 }),
    loss: 'categoricalCrossentropy',
    metrics: ['accuracy'],
  });
  const seconds: number[] = [];
  let start = 0;
  const timer = {
    onEpochBegin: async () => {
      start = performance.now();
    },
    onEpochEnd: async () => {
      seconds.push((performance.now() - start) / 1000);
    },
  };
  // The backup is written in the epoch's onEpochEnd, before the timer's: it counts in the epoch.
  const callbacks = backup
    ? [new wp.BackupAndRestore({ backupDir: backup.dir, storage: backup.storage }), timer]
    : [timer];
  await model.fit(data.xTrain, data.yTrain, { epochs, batchSize: 32, verbose: 0, callbacks });
  return seconds;
}

export const CSV_ROWS = 3000;
export const CSV_BATCHES_PER_EPOCH = Math.ceil(CSV_ROWS / 32);
export const CSV_EPOCHS = 2;

/** A CSV of `rows` rows (4 features and a label) that depends only on the seed: what the page's File holds. */
export function csvText(wp: Package, rows = CSV_ROWS, seed = 3): string {
  const rng = new wp.Random(seed);
  const lines = ['a,b,c,d,label'];
  for (let i = 0; i < rows; i++) {
    const f = Array.from({ length: 4 }, () => Math.round(rng.normal() * 1000) / 1000);
    lines.push(`${f.join(',')},${f[0] - f[2] > 0 ? 1 : 0}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * fitDataset on a CSV (a File in a page, its bytes in Node), read in 4 KiB chunks through a
 * shuffle, with BackupAndRestore every 7 batches into `storage`: resumed after a reload, the
 * run reads the File from the saved offset on.
 */
export async function pageCsvRun(
  wp: Package,
  source: Blob | Uint8Array,
  options: PageRunOptions,
): Promise<PageRunResult> {
  const model = new wp.Sequential(
    [
      new wp.Dense({ units: 12, activation: 'relu', inputShape: [4] }),
      new wp.Dense({ units: 2, activation: 'softmax' }),
    ],
    { seed: 8 },
  );
  model.compile({ optimizer: new wp.Adam({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });
  const rows = wp.data
    .csv(source, { chunkSize: 4096, columnConfigs: { label: { isLabel: true } } })
    .map((row) => {
      const { xs, ys } = row as { xs: Record<string, number>; ys: Record<string, number> };
      return { xs: Object.values(xs), ys: ys.label };
    })
    .shuffle(100, 5)
    .batch(32);
  let firstBatch = -1;
  const report = new (class extends wp.Callback {
    override async onBatchEnd(batch: number) {
      const global = this.context!.epoch * CSV_BATCHES_PER_EPOCH + batch;
      if (firstBatch < 0) firstBatch = global;
      options.onBatch?.(global);
      if (options.batchDelayMs) await new Promise((resolve) => setTimeout(resolve, options.batchDelayMs));
    }
  })();
  const backup = new wp.BackupAndRestore({ backupDir: options.backupDir, saveFreq: 7, storage: options.storage });
  await model.fitDataset(rows, { epochs: CSV_EPOCHS, verbose: 0, callbacks: [backup, report] });
  const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
  return {
    weights: model.namedParams().map(([k, t]) => [k, bits(t.data)]),
    optimizer: null,
    history: JSON.stringify(model.history.stateDict()),
    rng: model.rng.getState(),
    firstBatch,
  };
}
