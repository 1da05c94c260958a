/**
 * Streaming data, measured in one run beside its baselines (medians, alternating):
 * 1. CSV parsing throughput (MB/s): Waypoint's data.csv beside TensorFlow.js's tf.data.csv
 *    (tfjs-data, file://) and a plain readFile + split(',') + Number loop, on one 500,000-row file;
 * 2. a fitDataset epoch over a CSV of MNIST's training set (784 pixels and a label a row)
 *    beside fit over the same tensors in memory (the MNIST MLP, batch 32, Adam);
 * 3. peak RSS of a process streaming a CSV larger than 1 GB through fitDataset, beside the
 *    same process on a 10 MB file (what the process needs before any data);
 * 4. time to resume in the middle of that file: open the pipeline at a saved position and take
 *    the next batch, at 10 %, 50 % and 90 % of the file.
 * `npm run bench -- data [--quick]` (--quick: 100 MB instead of 1.1 GB, fewer rounds)
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  Callback,
  Sequential,
  Dense,
  Adam,
  Tensor,
  data,
  encodeValue,
  decodeValue,
  loadMnist,
} from '../src/node/index.js';
import { csvPipeline, writeCsv } from '../harness/csv-stream.js';
import { median, table } from './common.js';

const quick = process.argv.includes('--quick');
const MB = 1e6;

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function parsing(dir: string): Promise<Array<Array<string | number>>> {
  const path = join(dir, 'parse.csv');
  const size = writeCsv(path, quick ? 100_000 : 500_000);
  const tfData = await import('@tensorflow/tfjs-data');
  await import('@tensorflow/tfjs-backend-cpu');
  const runners: Record<string, () => Promise<unknown>> = {
    'Waypoint data.csv': () => data.csv(path).forEachAsync(() => undefined),
    "Waypoint data.csv, rows: 'arrays'": () => data.csv(path, { rows: 'arrays' }).forEachAsync(() => undefined),
    'tfjs-data tf.data.csv': () => tfData.csv(pathToFileURL(path).href).forEachAsync(() => undefined),
    'readFile + split + Number': async () => {
      const lines = readFileSync(path, 'utf8').split('\n');
      const columns = lines[0].split(',');
      let rows = 0;
      for (let i = 1; i < lines.length; i++) {
        if (lines[i] === '') continue;
        const fields = lines[i].split(',');
        const row: Record<string, number> = {};
        for (let k = 0; k < columns.length; k++) row[columns[k]] = Number(fields[k]);
        rows++;
      }
      return rows;
    },
  };
  const ms: Record<string, number[]> = Object.fromEntries(Object.keys(runners).map((k) => [k, []]));
  for (let round = 0; round < (quick ? 2 : 5); round++)
    for (const [name, run] of Object.entries(runners)) ms[name].push(await time(run));
  const ours = median(ms['Waypoint data.csv']);
  return Object.entries(ms).map(([name, t]) => [
    name,
    `${(size / MB).toFixed(1)} MB`,
    median(t),
    size / MB / (median(t) / 1000),
    median(t) / ours,
  ]);
}

async function streamingOverhead(dir: string): Promise<Array<Array<string | number>>> {
  const { xTrain, yTrain } = await loadMnist({ shape: 'flat' });
  const n = quick ? 2000 : xTrain.shape[0];
  const lines = [['label', ...Array.from({ length: 784 }, (_, i) => `p${i}`)].join(',')];
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const row = xTrain.data.subarray(i * 784, (i + 1) * 784);
    y[i] = yTrain.data.subarray(i * 10, (i + 1) * 10).indexOf(1);
    lines.push(`${y[i]},${Array.from(row, (v) => Math.round(v * 255)).join(',')}`); // as MNIST CSVs hold them: 0-255
  }
  const path = join(dir, 'mnist.csv');
  writeFileSync(path, lines.join('\n') + '\n');
  const size = statSync(path).size;
  const x = xTrain.data.subarray(0, n * 784);
  const model = () => {
    const m = new Sequential(
      [
        new Dense({ units: 128, activation: 'relu', inputShape: [784] }),
        new Dense({ units: 10, activation: 'softmax' }),
      ],
      { seed: 1 },
    );
    m.compile({ optimizer: new Adam({ learningRate: 1e-3 }), loss: 'sparseCategoricalCrossentropy' });
    return m;
  };
  const xs = new Tensor(x, [n, 784]),
    ys = new Tensor(y, [n]);
  const scale = (v: number[]) => v.map((p) => p / 255);
  const objects = () =>
    data
      .csv(path, { columnConfigs: { label: { isLabel: true } } })
      .map((r) => ({ xs: scale(Object.values(r.xs as Record<string, number>)), ys: (r.ys as { label: number }).label }))
      .batch(32);
  const arrays = () =>
    data
      .csv(path, { rows: 'arrays', columnConfigs: { label: { isLabel: true } } })
      .map((r) => ({ xs: scale(r.xs as number[]), ys: (r.ys as number[])[0] }))
      .batch(32);
  const epochMs = async (fitOnce: (m: Sequential, timer: Callback) => Promise<unknown>) => {
    let ms = 0;
    let start = 0;
    const timer = new (class extends Callback {
      override async onEpochBegin() {
        start = performance.now();
      }
      override async onEpochEnd() {
        ms = performance.now() - start;
      }
    })();
    await fitOnce(model(), timer);
    return ms;
  };
  // The dataset machinery alone (iterator, batching, the loop), no text: rows already in memory.
  const inMemory = () =>
    data.array(Array.from({ length: n }, (_, i) => ({ xs: x.subarray(i * 784, (i + 1) * 784), ys: y[i] }))).batch(32);
  const fitMs: number[] = [],
    memoryMs: number[] = [],
    objectMs: number[] = [],
    arrayMs: number[] = [];
  for (let round = 0; round < (quick ? 2 : 5); round++) {
    fitMs.push(await epochMs((m, t) => m.fit(xs, ys, { batchSize: 32, shuffle: false, verbose: 0, callbacks: [t] })));
    memoryMs.push(await epochMs((m, t) => m.fitDataset(inMemory(), { verbose: 0, callbacks: [t] })));
    objectMs.push(await epochMs((m, t) => m.fitDataset(objects(), { verbose: 0, callbacks: [t] })));
    arrayMs.push(await epochMs((m, t) => m.fitDataset(arrays(), { verbose: 0, callbacks: [t] })));
  }
  const file = `CSV, ${(size / MB).toFixed(0)} MB`;
  const row = (name: string, ms: number[]) => [name, `${n} rows`, median(ms), median(ms) / median(fitMs)];
  return [
    row('fit, tensors in memory', fitMs),
    row('fitDataset, data.array of the same rows', memoryMs),
    row(`fitDataset, ${file}, rows as objects (tfjs-data's)`, objectMs),
    row(`fitDataset, ${file}, rows: 'arrays'`, arrayMs),
  ];
}

/** Peak RSS (MB) of the streaming child over `path` (one epoch, backups every 2,000 batches). */
function peakRss(path: string, dir: string): number {
  const run = join(dir, `run-${Math.random().toString(36).slice(2)}`);
  const out = join(run, 'out.json');
  const child = join(import.meta.dirname, '../harness/csv-stream-child.ts');
  const r = spawnSync(process.execPath, ['--import', 'tsx', child, path, run, '2000', join(dir, 'reads.log'), out], {
    env: { ...process.env, WAYPOINT_BACKEND: 'cpu' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (r.status !== 0) throw new Error(`streaming child failed: ${r.stderr}`);
  return JSON.parse(readFileSync(out, 'utf8')).rss / 1024;
}

async function resumeTimes(path: string, size: number): Promise<Array<Array<string | number>>> {
  const rows: Array<Array<string | number>> = [];
  // A position at a fraction of the file: a CSV position, through the map/shuffle/batch/prefetch chain.
  const it = await csvPipeline(path).iterator();
  await it.next();
  const template = JSON.stringify(encodeValue(it.position()));
  for (const fraction of [0.1, 0.5, 0.9]) {
    // Move the CSV's byte offset to the first record at or after the fraction.
    const offset = nextRecord(path, Math.floor(size * fraction));
    const position = decodeValue(JSON.parse(template.replace(/"offset":\d+/, `"offset":${offset}`)));
    const ms: number[] = [];
    for (let round = 0; round < (quick ? 3 : 7); round++)
      ms.push(
        await time(async () => {
          const resumed = await csvPipeline(path).iterator(position);
          await resumed.next();
        }),
      );
    rows.push([`${Math.round(fraction * 100)} % (byte ${offset.toLocaleString('en')})`, median(ms)]);
  }
  return rows;
}

/** The offset of the first record starting at or after `at`. */
function nextRecord(path: string, at: number): number {
  const fd = openSync(path, 'r');
  const buf = Buffer.alloc(4096);
  readSync(fd, buf, 0, 4096, at);
  closeSync(fd);
  return at + buf.indexOf(10) + 1;
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'wpt-bench-data-'));
  try {
    console.log('CSV parsing (500,000 rows: 5 numbers and a label each; elements counted, not used)');
    console.log(table(['parser', 'file', 'ms', 'MB/s', "time ÷ Waypoint's"], await parsing(dir)));
    console.log('\nAn epoch of the MNIST MLP (784-128-10, Adam, batch 32): streamed from a CSV vs tensors in memory');
    console.log(table(['training data', 'rows', 'epoch ms', 'ratio'], await streamingOverhead(dir)));
    const bigRows = quick ? 1_300_000 : 29_000_000; // 39 bytes a row: 1.1 GB
    const big = join(dir, 'big.csv');
    const bigSize = writeCsv(big, bigRows);
    const small = join(dir, 'small.csv');
    writeCsv(small, 130_000);
    console.log(`\nPeak RSS streaming through fitDataset (one epoch, batches of 256, a shuffle buffer of 256)`);
    console.log(
      table(
        ['file', 'peak RSS MB'],
        [
          [`${(statSync(small).size / MB).toFixed(0)} MB`, peakRss(small, dir)],
          [`${(bigSize / MB).toFixed(0)} MB`, peakRss(big, dir)],
        ],
      ),
    );
    console.log(
      `\nResuming in the middle of the ${(bigSize / MB).toFixed(0)} MB file: open at a saved position, take the next batch`,
    );
    console.log(table(['position', 'ms'], await resumeTimes(big, bigSize)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
