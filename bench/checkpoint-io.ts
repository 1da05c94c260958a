/**
 * Checkpoint I/O: save and load MB/s per codec beside the physical reference (writeFileSync
 * + fsync, readFileSync of the same raw bytes), JSON.stringify of the weights, and a
 * TensorFlow.js-style model.json + weights.bin save; file size per codec; how long a
 * background save blocks the caller. `npm run bench -- checkpoint-io [--quick]`
 */
import { closeSync, fsyncSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Checkpoint, Random, Tensor, readWpt, type Codec, type StateDict } from '../src/index.js';
import { loadTf, median, table, timeMedian } from './common.js';
import { trainedMlpState } from './fixtures.js';

const quick = process.argv.includes('--quick');
const RUNS = quick ? 3 : 5;

function syntheticState(params: number, rng: Random): StateDict {
  const layers: StateDict = {};
  const width = 1000;
  for (let i = 0; params > 0; i++) {
    const rows = Math.min(width, Math.ceil(params / width));
    layers[`dense_${i}`] = { kernel: new Tensor(rng.fillNormal(new Float32Array(rows * width), 0, Math.sqrt(2 / width)), [rows, width]) };
    params -= rows * width;
  }
  return layers;
}

function tensorsOf(state: StateDict, prefix = ''): Array<[string, Tensor]> {
  return Object.entries(state).flatMap(([k, v]) => (v instanceof Tensor ? [[prefix + k, v] as [string, Tensor]] :
    typeof v === 'object' && v !== null && !Array.isArray(v) ? tensorsOf(v as StateDict, `${prefix}${k}/`) : []));
}

function rawBytesOf(state: StateDict): Uint8Array {
  const ts = tensorsOf(state);
  const out = new Uint8Array(ts.reduce((n, [, t]) => n + t.data.byteLength, 0));
  let at = 0;
  for (const [, t] of ts) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

function writeAndSync(path: string, bytes: Uint8Array): void {
  const fd = openSync(path, 'w');
  writeSync(fd, bytes);
  fsyncSync(fd);
  closeSync(fd);
}

async function measure(name: string, state: StateDict, dir: string): Promise<void> {
  const raw = rawBytesOf(state);
  const mb = raw.length / 1e6;
  const rows: Array<Array<string | number>> = [];
  const refPath = join(dir, 'ref.bin');
  const refSave = await timeMedian(() => writeAndSync(refPath, raw), { warmup: 1, runs: RUNS });
  const refLoad = await timeMedian(() => readFileSync(refPath), { warmup: 1, runs: RUNS });
  rows.push(['fs write+fsync / read (reference)', mb / (refSave / 1e3), mb / (refLoad / 1e3), 1, 1, 1]);

  const codecs: Array<[string, Codec, number]> = [['raw', 'raw', 1], ['deflate level 1', 'deflate', 1], ['shuffle-deflate level 1', 'shuffle-deflate', 1],
    ['shuffle-deflate level 6', 'shuffle-deflate', 6], ['shuffle-deflate level 9', 'shuffle-deflate', 9]];
  for (const [label, codec, level] of codecs) {
    const path = join(dir, `${codec}-${level}.wpt`);
    const ckpt = new Checkpoint({ model: { stateDict: () => state, loadStateDict: () => undefined } });
    const save = await timeMedian(() => ckpt.write(path, { codec, level }), { warmup: 1, runs: RUNS });
    const load = await timeMedian(() => readWpt(path), { warmup: 1, runs: RUNS });
    const size = statSync(path).size / raw.length;
    rows.push([label, mb / (save / 1e3), mb / (load / 1e3), size, refSave / save, refLoad / load]);
  }

  const jsonPath = join(dir, 'weights.json');
  const ts = tensorsOf(state);
  const jsonSave = await timeMedian(() => writeFileSync(jsonPath, JSON.stringify(Object.fromEntries(ts.map(([k, t]) => [k, Array.from(t.data)])))), { warmup: 0, runs: quick ? 1 : 3 });
  const jsonLoad = await timeMedian(() => JSON.parse(readFileSync(jsonPath, 'utf8')), { warmup: 0, runs: quick ? 1 : 3 });
  rows.push(['JSON.stringify (no fsync)', mb / (jsonSave / 1e3), mb / (jsonLoad / 1e3), statSync(jsonPath).size / raw.length, refSave / jsonSave, refLoad / jsonLoad]);

  const tf = await loadTf('cpu');
  if (typeof tf !== 'string') {
    const named = ts.map(([k, t]) => ({ name: k, tensor: tf.tensor(t.data, t.shape) }));
    const save = await timeMedian(async () => {
      const { data, specs } = await tf.io.encodeWeights(named.map(({ name, tensor }) => ({ name, tensor })));
      writeFileSync(join(dir, 'model.json'), JSON.stringify({ weightsManifest: [{ paths: ['weights.bin'], weights: specs }] }));
      writeFileSync(join(dir, 'weights.bin'), new Uint8Array(data));
    }, { warmup: 1, runs: RUNS });
    const load = await timeMedian(() => {
      const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
      const bin = readFileSync(join(dir, 'weights.bin'));
      return tf.io.decodeWeights(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length), manifest.weightsManifest[0].weights);
    }, { warmup: 1, runs: RUNS });
    rows.push(['tfjs model.json + weights.bin (no fsync)', mb / (save / 1e3), mb / (load / 1e3), statSync(join(dir, 'weights.bin')).size / raw.length, refSave / save, refLoad / load]);
    named.forEach(({ tensor }) => tensor.dispose());
  }

  // How long the caller is blocked by a background save: from the call until it returns.
  const ckpt = new Checkpoint({ model: { stateDict: () => state, loadStateDict: () => undefined } });
  const blocked: number[] = [];
  const durable: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const pending = await ckpt.writeInBackground(join(dir, 'bg.wpt'));
    blocked.push(performance.now() - t0);
    await pending.durable;
    durable.push(performance.now() - t0);
  }

  console.log(`\n${name}: ${(raw.length / 4 / 1e6).toFixed(2)}M float32 parameters (${mb.toFixed(1)} MB), median of ${RUNS}`);
  console.log(table(['method', 'save MB/s', 'load MB/s', 'size / raw', 'save × ref', 'load × ref'], rows));
  console.log(`background save (shuffle-deflate): caller blocked ${median(blocked).toFixed(1)} ms, durable after ${median(durable).toFixed(0)} ms`);
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'wpt-bench-'));
  try {
    await measure('trained MNIST MLP (784-128-10) with its Adam state', await trainedMlpState(), dir);
    await measure('synthetic model, normal weights', syntheticState(quick ? 2_000_000 : 10_000_000, new Random(1)), dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
