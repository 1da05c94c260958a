/**
 * Checkpoint I/O: save, load and restore MB/s per codec beside the physical reference
 * (writeFileSync + fsync; readFileSync of the same raw bytes into new memory for a load,
 * which makes new tensors; a read into memory already paged in for a restore, which fills
 * a built model's arrays as resuming does), JSON.stringify of the weights, and a
 * TensorFlow.js-style model.json + weights.bin save; file size per codec; how long a
 * background save blocks the caller. Each operation is timed alternately with its
 * reference, every sample from a collected heap (measureCodecs); the load threads start
 * before anything is timed, and two rows load without them, as their baseline.
 * `npm run bench -- checkpoint-io [--quick]`
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Checkpoint, Random, type StateDict } from '../src/node/index.js';
import { measureCodecs, rawBytesOf, startThreadsForBench, syntheticState, tensorsOf } from '../src/cli/io-measure.js';
import { loadTf, median, table, timeMedian } from './common.js';
import { trainedMlpState } from './fixtures.js';

const quick = process.argv.includes('--quick');
const RUNS = quick ? 3 : 5;
/**
 * Samples of each codec's saves, loads and restores, each beside its own reference sample.
 * Loads are short and the noisiest rows (see measureCodecs); a run's first raw saves are
 * its slowest (fresh memory and a new file), so a median of 5 swung from well below the
 * reference to well above it from run to run.
 */
const CODEC_RUNS = 3 * RUNS;

interface Case {
  name: string;
  state: StateDict;
  rows: Array<Array<string | number>>;
  /** The reference's save and load times, ms. */
  ref: [number, number];
  background?: string;
}

/** Every codec, and the background save, beside the fs reference. */
async function measureOwn(c: Case, dir: string): Promise<void> {
  const ioRows = await measureCodecs(c.state, dir, CODEC_RUNS, CODEC_RUNS);
  const mb = rawBytesOf(c.state).length / 1e6;
  c.rows.push(
    ...ioRows.map((r) => [
      r.method,
      r.saveMBs,
      r.loadMBs,
      r.restoreMBs,
      r.sizeRatio,
      r.saveVsRef,
      r.loadVsRef,
      r.restoreVsRef,
    ]),
  );
  c.ref = [(mb / ioRows[0].saveMBs) * 1e3, (mb / ioRows[0].loadMBs) * 1e3];

  // How long the caller is blocked by a background save: from the call until it returns.
  const ckpt = new Checkpoint({ model: { stateDict: () => c.state, loadStateDict: () => undefined } });
  const blocked: number[] = [];
  const durable: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const pending = await ckpt.writeInBackground(join(dir, 'bg.wpt'));
    blocked.push(performance.now() - t0);
    await pending.durable;
    durable.push(performance.now() - t0);
  }
  // The first snapshot may copy into fresh memory; later ones reuse the buffers it hands back.
  c.background = `background save (shuffle-deflate): caller blocked ${blocked[0].toFixed(1)} ms the first time, then ${median(blocked.slice(1)).toFixed(1)} ms (median); durable after ${median(durable).toFixed(0)} ms`;
}

/** JSON.stringify of the weights, and TensorFlow.js's model.json + weights.bin, beside the same reference. */
async function measurePeers(c: Case, dir: string): Promise<void> {
  const raw = rawBytesOf(c.state);
  const mb = raw.length / 1e6;
  const [refSave, refLoad] = c.ref;
  const jsonPath = join(dir, 'weights.json');
  const ts = tensorsOf(c.state);
  const jsonSave = await timeMedian(
    () => writeFileSync(jsonPath, JSON.stringify(Object.fromEntries(ts.map(([k, t]) => [k, Array.from(t.data)])))),
    { warmup: 0, runs: quick ? 1 : 3 },
  );
  const jsonLoad = await timeMedian(() => JSON.parse(readFileSync(jsonPath, 'utf8')), {
    warmup: 0,
    runs: quick ? 1 : 3,
  });
  c.rows.push([
    'JSON.stringify (no fsync)',
    mb / (jsonSave / 1e3),
    mb / (jsonLoad / 1e3),
    '—',
    statSync(jsonPath).size / raw.length,
    refSave / jsonSave,
    refLoad / jsonLoad,
    '—',
  ]);

  const tf = await loadTf('cpu');
  if (typeof tf === 'string') return;
  const named = ts.map(([k, t]) => ({ name: k, tensor: tf.tensor(t.data, t.shape) }));
  const save = await timeMedian(
    async () => {
      const { data, specs } = await tf.io.encodeWeights(named.map(({ name, tensor }) => ({ name, tensor })));
      writeFileSync(
        join(dir, 'model.json'),
        JSON.stringify({ weightsManifest: [{ paths: ['weights.bin'], weights: specs }] }),
      );
      writeFileSync(join(dir, 'weights.bin'), new Uint8Array(data));
    },
    { warmup: 1, runs: RUNS },
  );
  const load = await timeMedian(
    () => {
      const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
      const bin = readFileSync(join(dir, 'weights.bin'));
      return tf.io.decodeWeights(
        bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length),
        manifest.weightsManifest[0].weights,
      );
    },
    { warmup: 1, runs: RUNS },
  );
  c.rows.push([
    'tfjs model.json + weights.bin (no fsync)',
    mb / (save / 1e3),
    mb / (load / 1e3),
    '—',
    statSync(join(dir, 'weights.bin')).size / raw.length,
    refSave / save,
    refLoad / load,
    '—',
  ]);
  named.forEach(({ tensor }) => tensor.dispose());
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'wpt-bench-'));
  const cases: Case[] = [
    {
      name: 'trained MNIST MLP (784-128-10) with its Adam state',
      state: await trainedMlpState(),
      rows: [],
      ref: [0, 0],
    },
    {
      name: 'synthetic model, normal weights',
      state: syntheticState(quick ? 2_000_000 : 10_000_000, new Random(1)),
      rows: [],
      ref: [0, 0],
    },
  ];
  try {
    // Waypoint's own rows first, for both cases: with TensorFlow.js in the heap (and the
    // strings of JSON.stringify), every load here measured a quarter slower.
    await startThreadsForBench();
    for (const c of cases) await measureOwn(c, dir);
    for (const c of cases) await measurePeers(c, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  for (const c of cases) {
    const mb = rawBytesOf(c.state).length / 1e6;
    console.log(
      `\n${c.name}: ${(mb / 4).toFixed(2)}M float32 parameters (${mb.toFixed(1)} MB), median of ${CODEC_RUNS} saves, loads and restores per codec`,
    );
    console.log(
      table(
        ['method', 'save MB/s', 'load MB/s', 'restore MB/s', 'size / raw', 'save × ref', 'load × ref', 'restore × ref'],
        c.rows,
      ),
    );
    console.log(c.background);
  }
}
