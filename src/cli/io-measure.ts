/**
 * Checkpoint I/O measurement, shared by `waypoint bench` and bench/checkpoint-io.ts: medians,
 * synthetic states, and save/load/restore MB/s per codec beside the file system's own speed.
 */
import { closeSync, fsyncSync, openSync, readFileSync, readSync, statSync, writeSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { join } from 'node:path';
import { Checkpoint } from '../checkpoint/checkpoint.js';
import { readWpt } from '../checkpoint/format/reader.js';
import { configureLoadThreads, startLoadThreads } from '../checkpoint/threads/load-threads.js';
import { copyUnlessSame } from '../state/trackable.js';
import type { Codec } from '../checkpoint/layout/format.js';
import type { StateDict } from '../state/tree.js';
import { Random } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { table } from './format.js';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export async function timeMedian(fn: () => unknown, runs: number, warmup = 1): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

/** Dense layers of normally distributed weights (He scale), `params` values in all. */
export function syntheticState(params: number, rng: Random): StateDict {
  const layers: StateDict = {};
  const width = 1000;
  for (let i = 0; params > 0; i++) {
    const rows = Math.min(width, Math.ceil(params / width));
    layers[`dense_${i}`] = {
      kernel: new Tensor(rng.fillNormal(new Float32Array(rows * width), 0, Math.sqrt(2 / width)), [rows, width]),
    };
    params -= rows * width;
  }
  return layers;
}

export function tensorsOf(state: StateDict, prefix = ''): Array<[string, Tensor]> {
  return Object.entries(state).flatMap(([k, v]) =>
    v instanceof Tensor
      ? [[prefix + k, v] as [string, Tensor]]
      : v instanceof Float32Array
        ? [[prefix + k, new Tensor(v, [v.length])] as [string, Tensor]]
        : typeof v === 'object' && v !== null && !Array.isArray(v)
          ? tensorsOf(v as StateDict, `${prefix}${k}/`)
          : [],
  );
}

export function rawBytesOf(state: StateDict): Uint8Array {
  const ts = tensorsOf(state);
  const out = new Uint8Array(ts.reduce((n, [, t]) => n + t.data.byteLength, 0));
  let at = 0;
  for (const [, t] of ts) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

export interface IoRow {
  method: string;
  saveMBs: number;
  loadMBs: number;
  restoreMBs: number;
  sizeRatio: number;
  saveVsRef: number;
  loadVsRef: number;
  restoreVsRef: number;
}

/**
 * Starts the load threads before anything is timed (a process pays that once, and it would
 * otherwise share the cores with the first loads measured); prints how long it took.
 */
export async function startThreadsForBench(): Promise<void> {
  const t = performance.now();
  const ready = await startLoadThreads();
  console.log(`load threads: ${ready}, started in ${(performance.now() - t).toFixed(0)} ms`);
}

/**
 * A full garbage collection, where it can be had: sampled operations start from a
 * collected heap, so none inherits another's garbage. Without it, loads and readFileSync
 * alternated between fresh memory (page faults, several times slower) and memory the
 * allocator recycled from the previous sample's garbage, by chance.
 */
const collectGarbage: () => void = (() => {
  if (typeof globalThis.gc === 'function') return globalThis.gc;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

/**
 * How long a sample waits after the collection. The memory it frees is returned to the
 * system by threads besides this one for a few milliseconds after it: an operation that
 * started at once and used other threads competed with that: the first round trip through
 * Node's I/O threads after tens of megabytes were collected was often many times slower than
 * after a pause of SETTLE_MS; a synchronous readFileSync never waits on one.
 */
const SETTLE_MS = 20;

/** Collects garbage and waits SETTLE_MS: where every timed sample starts. */
export async function fromCollectedHeap(): Promise<void> {
  collectGarbage();
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
}

/**
 * Times `a` and `b` alternately, `runs` times each after a warm-up of both, so both see
 * the same moments of a noisy machine; each sample starts fromCollectedHeap. Returns the
 * samples of each.
 */
async function timeAlternately(a: () => unknown, b: () => unknown, runs: number): Promise<[number[], number[]]> {
  const times: [number[], number[]] = [[], []];
  for (let i = -1; i < runs; i++) {
    for (const [k, fn] of [a, b].entries()) {
      await fromCollectedHeap();
      const t = performance.now();
      await fn();
      if (i >= 0) times[k].push(performance.now() - t);
    }
  }
  return times;
}

/**
 * Save/load throughput per codec and the fs reference, all on the same bytes, in one run.
 * A load makes new tensors (readWpt), beside readFileSync into new memory; a restore
 * fills the arrays of a model already built (Checkpoint.read, what resuming does), beside
 * a read into a buffer already paged in. Each operation is timed alternately with its
 * reference, and its ratio is against those reference samples (medians of each); the
 * reference row gives the median of all of its samples. Loads and restores take `loadRuns`
 * samples: they are short, and the page faults of fresh memory make them the noisiest.
 */
export async function measureCodecs(
  state: StateDict,
  dir: string,
  runs: number,
  loadRuns = 3 * runs,
): Promise<IoRow[]> {
  const raw = rawBytesOf(state);
  const mb = raw.length / 1e6;
  const refPath = join(dir, 'reference.bin');
  const existing = new Uint8Array(raw.length).fill(1);
  const reference = {
    save: () => {
      const fd = openSync(refPath, 'w');
      writeSync(fd, raw);
      fsyncSync(fd);
      closeSync(fd);
    },
    load: () => readFileSync(refPath),
    restore: () => {
      const fd = openSync(refPath, 'r');
      readSync(fd, existing, 0, existing.length, 0);
      closeSync(fd);
    },
  };
  reference.save();
  const refSamples = { save: [] as number[], load: [] as number[], restore: [] as number[] };
  // The last two rows load without load threads: the baseline for what they bring.
  const codecs: Array<[string, Codec, number, boolean]> = [
    ['raw', 'raw', 1, true],
    ['deflate level 1', 'deflate', 1, true],
    ['shuffle-deflate level 1 (default)', 'shuffle-deflate', 1, true],
    ['shuffle-deflate level 6', 'shuffle-deflate', 6, true],
    ['shuffle-deflate level 9', 'shuffle-deflate', 9, true],
    ['raw, calling thread only', 'raw', 1, false],
    ['default, calling thread only', 'shuffle-deflate', 1, false],
  ];
  const live = tensorsOf(state);
  const ckpt = new Checkpoint({
    model: {
      stateDict: () => state,
      loadStateDict: (s: StateDict) => tensorsOf(s).forEach(([, t], i) => copyUnlessSame(t.data, live[i][1].data)),
    },
  });
  const rows: IoRow[] = [];
  for (const [method, codec, level, threads] of codecs) {
    const path = join(dir, `${codec}-${level}.wpt`);
    const measure = async (kind: 'save' | 'load' | 'restore', ours: () => unknown) => {
      const [ref, own] = await timeAlternately(reference[kind], ours, kind === 'save' ? runs : loadRuns);
      refSamples[kind].push(...ref);
      return { mbs: mb / (median(own) / 1e3), vsRef: median(ref) / median(own) };
    };
    const save = await measure('save', () => ckpt.write(path, { codec, level }));
    const before = configureLoadThreads(threads ? {} : { minBytes: Infinity });
    const load = await measure('load', () => readWpt(path));
    const restore = await measure('restore', () => ckpt.read(path));
    configureLoadThreads(before);
    rows.push({
      method,
      saveMBs: save.mbs,
      loadMBs: load.mbs,
      restoreMBs: restore.mbs,
      sizeRatio: statSync(path).size / raw.length,
      saveVsRef: save.vsRef,
      loadVsRef: load.vsRef,
      restoreVsRef: restore.vsRef,
    });
  }
  const refMBs = (samples: number[]) => mb / (median(samples) / 1e3);
  return [
    {
      method: 'fs write+fsync / read (reference)',
      saveMBs: refMBs(refSamples.save),
      loadMBs: refMBs(refSamples.load),
      restoreMBs: refMBs(refSamples.restore),
      sizeRatio: 1,
      saveVsRef: 1,
      loadVsRef: 1,
      restoreVsRef: 1,
    },
    ...rows,
  ];
}

export const ioTable = (rows: IoRow[]) =>
  table(
    ['method', 'save MB/s', 'load MB/s', 'restore MB/s', 'size / raw', 'save × ref', 'load × ref', 'restore × ref'],
    rows.map((r) => [
      r.method,
      r.saveMBs.toFixed(0),
      r.loadMBs.toFixed(0),
      r.restoreMBs.toFixed(0),
      r.sizeRatio.toFixed(3),
      r.saveVsRef.toFixed(2),
      r.loadVsRef.toFixed(2),
      r.restoreVsRef.toFixed(2),
    ]),
    [false, true, true, true, true, true, true, true],
  );
