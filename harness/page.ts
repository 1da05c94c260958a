/**
 * The script of the test page (harness/browser.ts bundles it for Chromium): the package's
 * browser build, and what test/browser/browser.test.ts and bench/browser.ts ask the page to do,
 * as `window.waypointPage`.
 */
import * as wp from '../src/browser/index.js';
import { S3Storage } from '../src/s3/index.js';
import { checkStorage } from '../src/testing/storage-contract.js';
import '../src/browser/gpu.js';
import { mnistMlpEpochs, pageCsvRun, pageRun, type PageRunResult } from './page-run.js';

type StorageKind = 'idb' | 'opfs';
const storageOf = (kind: StorageKind): wp.Storage =>
  kind === 'idb' ? new wp.IndexedDBStorage('waypoint-test') : new wp.OPFSStorage('waypoint-test');

let held: wp.CheckpointManager | null = null;
const managerOn = (kind: StorageKind, dir: string) =>
  new wp.CheckpointManager(new wp.Checkpoint({ v: new wp.Variable(1) }), dir, {
    storage: storageOf(kind),
    warn: () => undefined,
  });

let big: { tensors: Record<string, wp.Tensor>; checkpoint: wp.Checkpoint } | null = null;

/** Entry `seed`'s values: distinct per position and entry, and not constant (a codec cannot shortcut them). */
function fillPattern(data: Float32Array, seed: number): Float32Array {
  for (let i = 0; i < data.length; i++) data[i] = ((i * 2654435761 + seed * 40503) % 1000003) / 1000003;
  return data;
}

function samePattern(data: Float32Array, seed: number): boolean {
  for (let i = 0; i < data.length; i++)
    if (data[i] !== Math.fround(((i * 2654435761 + seed * 40503) % 1000003) / 1000003)) return false;
  return true;
}

function randomTensor(rng: wp.Random, shape: number[]): wp.Tensor {
  return new wp.Tensor(rng.fillNormal(new Float32Array(shape.reduce((a, b) => a * b, 1)), 0, 1), shape);
}

const page = {
  /** The shared run, backing up into `kind`; each batch is logged as `batch N` for the test to act on. */
  run(kind: StorageKind, dir: string, batchDelayMs: number): Promise<PageRunResult> {
    return pageRun(wp, {
      storage: storageOf(kind),
      backupDir: dir,
      batchDelayMs,
      onBatch: (n) => console.log(`batch ${n}`),
      onHiddenBackup: (ms) => console.log(`hidden backup ${ms.toFixed(1)}`),
    });
  },

  /** The origin's usage and quota, and whether asking for persistent storage was granted. */
  async quota(): Promise<{ usage: number; quota: number; persisted: boolean } | null> {
    const estimate = await wp.storageEstimate();
    return estimate && { ...estimate, persisted: await wp.requestPersistentStorage() };
  },

  /** Makes the page look hidden to it, as switching tabs does (visibilityState and the event). */
  hide(): void {
    Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
  },

  /**
   * The shared run, backing up through a TieredStorage: IndexedDB first, then the S3 bucket at
   * `endpoint` (another origin: CORS). A page whose IndexedDB was cleared is a new machine.
   */
  runTiered(endpoint: string, bucket: string, dir: string, batchDelayMs: number): Promise<PageRunResult> {
    const remote = new S3Storage({
      endpoint,
      bucket,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      attempts: 8, // the test machine is loaded: a refused connection is tried longer
      warn: () => undefined,
    });
    return pageRun(wp, {
      storage: new wp.TieredStorage({ local: storageOf('idb'), remote, warn: (m) => console.log(m) }),
      backupDir: dir,
      batchDelayMs,
      onBatch: (n) => console.log(`batch ${n}`),
    });
  },

  /** The run in `dir` of `kind` as an archive (exportRun), base64: what a download button hands the user. */
  async exportRunOf(kind: StorageKind, dir: string): Promise<string> {
    const bytes = await wp.exportRun(storageOf(kind), dir);
    let text = '';
    for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(text);
  },

  /** Imports an archive (base64) as a File the user picked would be, into `dir` of `kind`: the import's error message, or 'imported'. */
  async importRunInto(kind: StorageKind, dir: string, base64: string): Promise<string> {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const file = new File([bytes], 'run.tar');
    return wp.importRun(file, storageOf(kind), dir).then(
      () => 'imported',
      (e: Error) => e.message,
    );
  },

  /** fitDataset on the CSV File the user picked in the page's file input (#csv), backing up into `kind`. */
  runCsv(kind: StorageKind, dir: string, batchDelayMs: number): Promise<PageRunResult> {
    const file = document.querySelector<HTMLInputElement>('#csv')?.files?.[0];
    if (!file) throw new Error('no file picked in #csv');
    return pageCsvRun(wp, file, {
      storage: storageOf(kind),
      backupDir: dir,
      batchDelayMs,
      onBatch: (n) => console.log(`batch ${n}`),
    });
  },

  /** loadModel of a published checkpoint's URL (another origin: CORS), and its predictions for `x` (rows of `width`). */
  async predictPublished(url: string, x: number[], width: number): Promise<number[]> {
    const model = await wp.loadModel(url);
    const out = model.predict(new wp.Tensor(Float32Array.from(x), [x.length / width, width])) as wp.Tensor;
    return Array.from(out.data);
  },

  /**
   * A state of `megabytes` in tensors of `entryMegabytes` (a pattern, cheap to fill and to
   * check), held by the page between calls: what the large-checkpoint test and bench save and load.
   */
  bigState(megabytes: number, entryMegabytes: number): number {
    const perEntry = (entryMegabytes << 20) / 4;
    const tensors: Record<string, wp.Tensor> = {};
    for (let i = 0, left = (megabytes << 20) / 4; left > 0; i++, left -= perEntry) {
      const n = Math.min(left, perEntry);
      tensors[`w${String(i).padStart(3, '0')}`] = new wp.Tensor(fillPattern(new Float32Array(n), i), [n]);
    }
    big = { tensors, checkpoint: new wp.Checkpoint(tensors) };
    return Object.keys(tensors).length;
  },

  /**
   * Saves the held state into `kind` as `big/state.wpt`: milliseconds, the file's bytes, and
   * its progress reports (how many, whether they only grew and ended at the totals). With
   * `abortAt`, aborts when that share of the bytes is reported and returns the error's code
   * and the files then in `big`.
   */
  async bigSave(
    kind: StorageKind,
    codec: 'raw' | 'shuffle-deflate',
    abortAt?: number,
  ): Promise<{ ms: number; bytes: number; reports: number; progressOk: boolean; aborted?: string; files?: string[] }> {
    const storage = storageOf(kind);
    await storage.mkdirp('big');
    const controller = new AbortController();
    const seen: wp.TransferProgress[] = [];
    const onProgress = (p: wp.TransferProgress) => {
      seen.push(p);
      if (abortAt !== undefined && p.bytes >= abortAt * p.totalBytes) controller.abort();
    };
    const start = performance.now();
    const saving = big!.checkpoint.write('big/state.wpt', { storage, codec, onProgress, signal: controller.signal });
    if (abortAt !== undefined) {
      const aborted = await saving.then(
        () => 'saved',
        (e: { code?: string }) => e.code ?? String(e),
      );
      return { ms: 0, bytes: 0, reports: seen.length, progressOk: true, aborted, files: await storage.list('big') };
    }
    const result = await saving;
    const progressOk =
      seen.every((p, i) => i === 0 || p.bytes >= seen[i - 1].bytes) && seen.at(-1)?.bytes === seen.at(-1)?.totalBytes;
    return { ms: performance.now() - start, bytes: result.bytes, reports: seen.length, progressOk };
  },

  /** Zeroes the held state, restores it from `kind`, and checks every value: milliseconds, whether all came back, progress reports. */
  async bigLoad(kind: StorageKind): Promise<{ ms: number; intact: boolean; reports: number }> {
    const tensors = Object.values(big!.tensors);
    for (const t of tensors) t.data.fill(0);
    let reports = 0;
    const start = performance.now();
    await big!.checkpoint.read('big/state.wpt', { storage: storageOf(kind), onProgress: () => reports++ });
    const ms = performance.now() - start;
    return { ms, intact: tensors.every((t, i) => samePattern(t.data, i)), reports };
  },

  /** Forgets the held state and removes its file from `kind`. */
  async bigDrop(kind: StorageKind): Promise<void> {
    big = null;
    await storageOf(kind).remove('big/state.wpt');
  },

  /**
   * IndexedDBStorage's chunk records where they matter: files across chunk boundaries (writes
   * of every size, syncs between), reads straddling chunks, a file replaced or removed while a
   * handle reads it, a file removed while written, and a file left by version 1 (one record of
   * bytes). Returns what went wrong (empty when all holds).
   */
  async indexedDbChunks(): Promise<string[]> {
    const problems: string[] = [];
    const storage = new wp.IndexedDBStorage('waypoint-chunks');
    const chunk = wp.IndexedDBStorage.chunkBytes;
    const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);
    const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);
    await storage.mkdirp('d');
    // Writes of odd sizes crossing chunk ends, a sync after some of them.
    const whole = bytes(2 * chunk + 12345, 1);
    const w = await storage.createExclusive('d/a');
    for (let at = 0, step = 1; at < whole.length; step = (step * 7 + 3) % (chunk + 11)) {
      const n = Math.min(step + 1, whole.length - at);
      await w.write([whole.subarray(at, at + n)]);
      at += n;
      if (at % 3 === 0) await w.sync();
    }
    await w.close();
    const r = await storage.openRead('d/a');
    if (r.size !== whole.length) problems.push(`size ${r.size}, wrote ${whole.length}`);
    for (const [offset, length] of [
      [0, 10],
      [chunk - 5, 10],
      [chunk - 1, chunk + 2],
      [2 * chunk, 20000],
      [whole.length - 3, 100],
    ]) {
      const got = await r.read(offset, length, new Uint8Array(length));
      if (!same(got, whole.subarray(offset, offset + length))) problems.push(`read(${offset}, ${length}) differs`);
    }
    // Syncs overlapping writes, as the checkpoint writer issues them (it does not wait for its syncs).
    const pieces = [bytes(chunk - 3, 2), bytes(10, 3), bytes(chunk + 5, 4), bytes(7, 5)];
    const racing = await storage.createExclusive('d/r');
    await Promise.all(pieces.flatMap((p) => [racing.write([p]), racing.sync()]));
    await racing.close();
    const expected = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
    pieces.reduce((at, p) => (expected.set(p, at), at + p.length), 0);
    const raced = await storage.openRead('d/r');
    if (raced.size !== expected.length || !same(await raced.read(0, expected.length), expected))
      problems.push(`writes with syncs between them read back ${raced.size} bytes, not the ${expected.length} written`);
    await storage.remove('d/r');
    // A synced file reads back its synced part while it is still open.
    const open = await storage.createExclusive('d/b');
    await open.write([whole.subarray(0, chunk + 7)]);
    await open.sync();
    const partial = await storage.openRead('d/b');
    if (partial.size !== chunk + 7) problems.push(`a synced open file has size ${partial.size}, not ${chunk + 7}`);
    // Removed while written: the next chunk's write fails, and nothing is left behind.
    await storage.remove('d/b');
    const failed = await open
      .write([whole])
      .then(() => open.close())
      .then(
        () => 'no error',
        (e: { code?: string }) => e.code,
      );
    if (failed !== 'ENOENT') problems.push(`writing a removed file gave ${failed}, not ENOENT`);
    // Replaced while read: the old handle fails instead of reading the new file's bytes.
    const replacement = await storage.createExclusive('d/c');
    await replacement.write([bytes(3 * chunk, 9)]);
    await replacement.close();
    await storage.rename('d/c', 'd/a');
    const stale = await r.read(0, 10).then(
      () => 'read',
      (e: { code?: string }) => e.code,
    );
    if (stale !== 'ENOENT') problems.push(`a handle on a replaced file gave ${stale}, not ENOENT`);
    if (!same(await (await storage.openRead('d/a')).read(5, 7), bytes(3 * chunk, 9).subarray(5, 12)))
      problems.push('the replacement reads wrong');
    // A version-1 record (the bytes themselves under the path) still reads, renames and removes.
    const legacy = bytes(1000, 4);
    await new Promise<void>((resolve, reject) => {
      const req = indexedDB.open('waypoint-chunks');
      req.onsuccess = () => {
        const tx = req.result.transaction('files', 'readwrite');
        tx.objectStore('files').put(legacy, 'd/old');
        tx.oncomplete = () => (req.result.close(), resolve());
        tx.onerror = () => reject(tx.error);
      };
    });
    if (!same(await (await storage.openRead('d/old')).read(0, 1000), legacy))
      problems.push('a version-1 file reads wrong');
    await storage.rename('d/old', 'd/older');
    if (!same(await (await storage.openRead('d/older')).read(990, 10), legacy.subarray(990)))
      problems.push('a renamed version-1 file reads wrong');
    await storage.remove('d/older');
    if ((await storage.list('d')).join() !== 'a') problems.push(`left in d: ${(await storage.list('d')).join()}`);
    // Chunks are records of their own: only the live file's (3) remain.
    const chunks = await new Promise<number>((resolve) => {
      const req = indexedDB.open('waypoint-chunks');
      req.onsuccess = () => {
        const count = req.result.transaction('chunks').objectStore('chunks').count();
        count.onsuccess = () => (req.result.close(), resolve(count.result));
      };
    });
    if (chunks !== 3) problems.push(`${chunks} chunk records remain, where the one file holds 3`);
    await storage.destroy();
    return problems;
  },

  /** Three backups of an 8 MB state into `kind`, where the test left room for two: the third's error, and what is left. */
  async quotaExhausted(kind: StorageKind): Promise<{
    code: string;
    message: string;
    latest: string | null;
    files: string[];
    restored: boolean;
  }> {
    const storage = storageOf(kind);
    const rng = new wp.Random(11);
    const w = new wp.Tensor(rng.fillNormal(new Float32Array(1 << 21), 0, 1), [1 << 21]);
    const manager = new wp.CheckpointManager(new wp.Checkpoint({ w }), 'quota', { storage, warn: () => undefined });
    try {
      await manager.save();
      rng.fillNormal(w.data, 0, 1);
      await manager.save();
      const second = w.data.slice();
      rng.fillNormal(w.data, 0, 1);
      const error = (await manager.save().then(
        () => ({ code: 'saved', message: '' }),
        (e: Error & { code?: string }) => e,
      )) as { code?: string; message: string };
      const latest = await manager.latestVerified();
      w.data.fill(0);
      await manager.restoreOrInitialize();
      return {
        code: error.code ?? 'none',
        message: error.message,
        latest,
        files: await storage.list('quota'),
        restored: w.data.every((x, i) => x === second[i]),
      };
    } finally {
      await manager.close();
    }
  },

  /** Six saves of a 1 MB state into `kind` under `maxBytes`: the checkpoint files left, and their bytes. */
  async withinBytes(kind: StorageKind, maxBytes: number): Promise<{ files: string[]; bytes: number }> {
    const storage = storageOf(kind);
    const rng = new wp.Random(12);
    const w = new wp.Tensor(new Float32Array(1 << 18), [1 << 18]);
    const manager = new wp.CheckpointManager(new wp.Checkpoint({ w }), 'budget', {
      storage,
      maxToKeep: null,
      maxBytes,
      warn: () => undefined,
    });
    for (let i = 0; i < 6; i++) {
      rng.fillNormal(w.data, 0, 1);
      await manager.save();
    }
    await manager.close();
    const files = (await storage.list('budget')).filter((f) => f.endsWith('.wpt'));
    let bytes = 0;
    for (const f of files) {
      const h = await storage.openRead(`budget/${f}`);
      bytes += h.size;
      await h.close();
    }
    return { files, bytes };
  },

  async clear(): Promise<void> {
    await new wp.IndexedDBStorage('waypoint-test').destroy();
    const root = await navigator.storage.getDirectory();
    await root.removeEntry('waypoint-test', { recursive: true }).catch(() => undefined);
  },

  async files(kind: StorageKind, dir: string): Promise<string[]> {
    return storageOf(kind)
      .list(dir)
      .catch(() => []);
  },

  /** The Storage contract (src/testing/storage-contract.ts) on a browser storage: the rules violated, if any. */
  async storageContract(kind: StorageKind) {
    let n = 0;
    return checkStorage(async () => {
      const storage = storageOf(kind);
      const dir = `contract/${kind}-${n++}`;
      await storage.mkdirp(dir);
      return { storage, dir };
    });
  },

  /** A large checkpoint read back with every tensor decoded on load threads (Web Workers): how many started, and whether it round-trips. */
  async loadThreads() {
    const before = wp.configureLoadThreads({ minBytes: 0, useCallingThread: false });
    try {
      const started = await wp.startLoadThreads();
      const storage = storageOf('idb');
      const rng = new wp.Random(8);
      const leaves = [0, 1, 2, 3].map((i) => ({
        key: `w${i}`,
        kind: 'tensor' as const,
        value: randomTensor(rng, [500, 1000]),
      }));
      await storage.mkdirp('threads');
      await wp.writeWpt('threads/big.wpt', leaves, { kind: 'checkpoint', codec: 'shuffle-deflate', storage });
      const back = await wp.readWpt('threads/big.wpt', storage);
      const equal = leaves.every((l) =>
        (back.values.get(l.key) as wp.Tensor).data.every((v, i) => Object.is(v, l.value.data[i])),
      );
      return { started, equal, cores: navigator.hardwareConcurrency };
    } finally {
      wp.configureLoadThreads(before);
    }
  },

  /** Takes the directory's lock and keeps it until releaseLock. */
  async holdLock(kind: StorageKind, dir: string): Promise<string> {
    held = managerOn(kind, dir);
    await held.ready;
    return 'held';
  },

  async releaseLock(): Promise<void> {
    await held?.close();
    held = null;
  },

  /** Tries to take the directory's lock: 'acquired' (and released again), or the error's code and message. */
  async tryLock(kind: StorageKind, dir: string): Promise<string> {
    const manager = managerOn(kind, dir);
    try {
      await manager.ready;
      await manager.close();
      return 'acquired';
    } catch (e) {
      return `${(e as wp.CheckpointError).code}: ${(e as Error).message}`;
    }
  },

  /**
   * Every callback in a page, on the default storage (IndexedDB): a progress bar rendered
   * into the page's <pre>, CSVLogger, ModelCheckpoint, TensorBoard, EarlyStopping and
   * TerminateOnNaN; and how often a timer ran while fit trained (it yields to the event loop).
   */
  async allCallbacks() {
    const rng = new wp.Random(2);
    const x = randomTensor(rng, [512, 32]);
    const y = wp.oneHot(
      Array.from({ length: 512 }, (_, i) => i % 4),
      4,
    );
    const model = new wp.Sequential(
      [
        new wp.Dense({ units: 256, activation: 'relu', inputShape: [32] }),
        new wp.Dense({ units: 4, activation: 'softmax' }),
      ],
      { seed: 1 },
    );
    model.compile({ optimizer: new wp.Adam(), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const pre = document.getElementById('out')!;
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const storage = wp.getDefaultStorage();
    const history = await model.fit(x, y, {
      epochs: 30,
      batchSize: 16,
      verbose: 0,
      validationSplit: 0.25,
      callbacks: [
        new wp.ProgressBar({ sink: pre, epochs: 30, stepsPerEpoch: 24 }),
        new wp.CSVLogger('cb/log.csv'),
        new wp.ModelCheckpoint({ filepath: 'cb/ckpt/{epoch:02d}.wpt', monitor: 'val_loss', saveBestOnly: true }),
        new wp.TensorBoard({ logDir: 'cb/tb' }),
        new wp.EarlyStopping({ monitor: 'loss', patience: 0, minDelta: 10 }),
        new wp.TerminateOnNaN(),
      ],
    });
    clearInterval(timer);
    const read = async (path: string) =>
      new TextDecoder().decode(await (await storage.openRead(path)).read(0, 1 << 20));
    const tb = await storage.list('cb/tb/train');
    const runs = await wp.readLogs(storage, 'cb/tb');
    const reloaded = await wp.loadModel('cb/ckpt/01.wpt');
    return {
      epochs: history.epoch.length,
      ticks,
      progress: pre.textContent ?? '',
      csv: await read('cb/log.csv'),
      checkpoints: await storage.list('cb/ckpt'),
      eventFiles: tb.length,
      tags: runs.map((r) => [r.run, [...r.scalars.keys()].sort()]),
      reloadedLayers: reloaded.layers.length,
      threads: wp.getBackend().threads,
      moreThreads: (() => {
        try {
          wp.configureThreads({ threads: 2 });
          return 'accepted';
        } catch (e) {
          return (e as Error).message;
        }
      })(),
      exports: (() => {
        const tfjs = wp.exportTfjs(reloaded);
        const weights = wp.parseSafetensors(wp.exportSafetensors(reloaded, { layout: 'torch' }));
        return {
          tfjsFormat: (tfjs.modelJson as { format?: string }).format,
          tfjsBytes: tfjs.weightData.byteLength,
          safetensors: [...weights.tensors.keys()].sort(),
          onnxBytes: wp.exportOnnx(reloaded).length,
        };
      })(),
      nanStops: await (async () => {
        const bad = new wp.Sequential([new wp.Dense({ units: 4, activation: 'softmax', inputShape: [32] })], {
          seed: 1,
        });
        bad.compile({ optimizer: new wp.SGD(), loss: 'categoricalCrossentropy' });
        const poisoned = x.data.slice();
        poisoned[40 * 32] = NaN; // in the third batch
        let seen = 0;
        const h = await bad.fit(new wp.Tensor(poisoned, x.shape), y, {
          epochs: 3,
          batchSize: 16,
          verbose: 0,
          callbacks: [
            new wp.TerminateOnNaN(),
            {
              onBatchEnd: async () => {
                seen++;
              },
            },
          ],
        });
        return { epochs: h.epoch.length, batchesSeen: seen, lastLoss: String(h.history.loss?.at(-1)) };
      })(),
    };
  },

  /** What 'auto' chooses here, then the gpu backend's matmul and convolutions against the cpu's. */
  async gpuCheck() {
    const auto = await wp.initBackend('auto');
    const rng = new wp.Random(3);
    const a = randomTensor(rng, [64, 96]),
      b = randomTensor(rng, [96, 48]);
    const x = randomTensor(rng, [2, 12, 12, 3]),
      f = randomTensor(rng, [3, 3, 3, 8]);
    const compute = () => {
      const m = wp.matmul(a, b);
      const c = wp.conv2d(x, f, { strides: 1, padding: 'same' });
      return [m.data, c.data];
    };
    wp.setBackend('cpu');
    const cpu = compute();
    let gpu;
    try {
      gpu = await wp.initBackend('gpu');
    } catch (e) {
      return { auto, error: (e as Error).message };
    }
    const got = compute();
    wp.setBackend('cpu');
    const maxDiff = Math.max(...got.map((g, i) => Math.max(...Array.from(g, (v, j) => Math.abs(v - cpu[i][j])))));
    const maxValue = Math.max(...cpu.map((c) => Math.max(...Array.from(c, Math.abs))));
    return { auto, gpu, maxDiff, maxValue, values: got.reduce((n, g) => n + g.length, 0) };
  },

  /** Seconds of MNIST MLP epochs, without and with an IndexedDB backup every epoch (bench/browser.ts). */
  async mnistEpochs(url: string, epochs: number, backup: boolean) {
    const data = await wp.loadMnist({ url });
    const storage = new wp.IndexedDBStorage('waypoint-bench');
    const seconds = await mnistMlpEpochs(wp, data, epochs, backup ? { storage, dir: 'backup' } : undefined);
    if (backup) await storage.destroy();
    return { seconds, backend: wp.getBackend().detail };
  },
};

(globalThis as { waypointPage?: typeof page }).waypointPage = page;
export type WaypointPage = typeof page;
