/**
 * TensorBoard logs: CRC-32C against published vectors, TFRecord framing and every
 * Event kind round-tripped and byte-equal to TensorBoard's own protobuf serialization (a
 * golden file from scripts/golden/tensorboard_events.py), torn tails reported, Keras's
 * layout and names, and a SIGKILLed, resumed run whose logs show each step once with the
 * uninterrupted run's values — by Waypoint's reader and, where .venv-ref has it, by
 * TensorBoard's own loader.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fc from 'fast-check';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { truncateSync, statSync } from 'node:fs';
import {
  MemoryStorage,
  TensorBoard,
  bundleLogs,
  crc32c,
  fsStorage,
  readLogs,
  readRun,
  type RunLogs,
} from '../../src/node/index.js';
import { frameRecord, parseRecords } from '../../src/tensorboard/records.js';
import { decodeEvent, encodeEvent, histogramOf, type TbEvent } from '../../src/tensorboard/events.js';
import { dataFor, makeModel } from '../../harness/training.js';

const root = join(import.meta.dirname, '..', '..');
const python = join(root, '.venv-ref', 'bin', 'python');
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'wpt-tb-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('CRC-32C', () => {
  it('matches the published check value and the RFC 3720 vectors', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c);
  });
});

describe('TFRecord framing and events', () => {
  it('round-trips any records; a cut anywhere in the last record is reported as torn, with its offset', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 5 }),
        fc.nat(),
        (records, cutSeed) => {
          const frames = records.map(frameRecord);
          const file = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
          let at = 0;
          for (const f of frames) {
            file.set(f, at);
            at += f.length;
          }
          const parsed = parseRecords(file);
          expect(parsed.problem).toBeNull();
          expect(parsed.records.map((r) => Array.from(r))).toEqual(records.map((r) => Array.from(r)));
          const lastStart = file.length - frames.at(-1)!.length;
          const cut = lastStart + 1 + (cutSeed % (frames.at(-1)!.length - 1));
          const torn = parseRecords(file.subarray(0, cut));
          expect(torn.records.length).toBe(records.length - 1);
          expect(torn.problem).toMatchObject({ offset: lastStart, torn: true });
        },
      ),
    );
  });

  it('a flipped bit is damage (not a torn tail), named with the offset of its record', () => {
    const file = new Uint8Array([...frameRecord(new Uint8Array([1, 2, 3])), ...frameRecord(new Uint8Array([4, 5, 6]))]);
    file[19 + 13] ^= 1; // inside the second record's data
    const parsed = parseRecords(file);
    expect(parsed.records).toHaveLength(1);
    expect(parsed.problem).toMatchObject({ offset: 19, torn: false });
    expect(parsed.problem!.reason).toMatch(/CRC-32C of a record of 3 bytes does not match/);
  });

  it("encodes every kind byte for byte as TensorBoard's own protobufs and record writer do (golden file)", () => {
    const events = JSON.parse(
      readFileSync(join(root, 'scripts', 'golden', 'tensorboard_events.json'), 'utf8'),
    ) as TbEvent[];
    const golden = readFileSync(join(root, 'test', 'golden', 'tensorboard-events.tfevents'));
    const ours = Buffer.concat(events.map((e) => frameRecord(encodeEvent(e))));
    expect(ours.toString('hex')).toBe(golden.toString('hex'));
    const decoded = parseRecords(new Uint8Array(golden)).records.map(decodeEvent);
    expect(decoded).toEqual(events);
  });

  it('histograms: 30 equal buckets over [min, max], counts and moments exact', () => {
    const values = Float32Array.from({ length: 100 }, (_, i) => Math.sin(i));
    const h = histogramOf(values);
    expect(h.bucket).toHaveLength(30);
    expect(h.bucket.reduce((a, b) => a + b, 0)).toBe(100);
    expect(h.num).toBe(100);
    expect(h.bucketLimit.at(-1)).toBe(h.max);
    expect(h.sum).toBeCloseTo(
      Array.from(values).reduce((a, b) => a + b, 0),
      10,
    );
  });
});

describe('the TensorBoard callback', () => {
  it("writes Keras's layout and names, through the Storage it was given", async () => {
    const storage = new MemoryStorage();
    const model = makeModel('mlp', 1);
    const [x, y] = dataFor('mlp');
    await model.fit(x, y, {
      epochs: 2,
      batchSize: 8,
      verbose: 0,
      validationSplit: 0.2,
      callbacks: [new TensorBoard({ logDir: '/logs', updateFreq: 2, histogramFreq: 1, storage })],
    });
    const files = [...storage.files.keys()];
    expect(
      files.every((f) => /^\/logs\/(train|validation)\/events\.out\.tfevents\.\d+\.[\w.-]+\.\d+\.\d+\.v2$/.test(f)),
    ).toBe(true);
    const [train, validation] = await readLogs(storage, '/logs').then((runs) =>
      ['train', 'validation'].map((r) => runs.find((l) => l.run === r)!),
    );
    expect([...train.scalars.keys()].sort()).toEqual([
      'batch_accuracy',
      'batch_loss',
      'epoch_accuracy',
      'epoch_learning_rate',
      'epoch_loss',
    ]);
    expect([...validation.scalars.keys()].sort()).toEqual(['epoch_accuracy', 'epoch_loss']);
    expect(train.scalars.get('epoch_loss')!.map((p) => [p.step, p.value])).toEqual(
      model.history.history.loss.map((v, i) => [i, Math.fround(v)]),
    );
    expect(validation.scalars.get('epoch_loss')!.map((p) => p.value)).toEqual(
      model.history.history.val_loss.map(Math.fround),
    );
    expect(train.scalars.get('batch_loss')!.map((p) => p.step)).toEqual([2, 4, 6, 8, 10, 12]); // 6 batches an epoch
    expect([...train.histograms.keys()].sort()).toEqual([
      'dense/bias/histogram',
      'dense/kernel/histogram',
      'dense_1/bias/histogram',
      'dense_1/kernel/histogram',
    ]);
    expect(train.texts.get('config')![0].value).toMatch(/"units": 8/);
    const graph = JSON.parse(train.graphs.get('keras')![0].value) as {
      class_name: string;
      config: { layers: Array<{ class_name: string; config: { name: string } }> };
    };
    expect([graph.class_name, ...graph.config.layers.map((l) => `${l.class_name} ${l.config.name}`)]).toEqual([
      'Sequential',
      'Dense dense',
      'Dense dense_1',
    ]);
    expect(train.problems).toEqual([]);
  });

  it("SIGKILLed at any batch and resumed: every tag shows each step once, with the uninterrupted run's values", () => {
    const child = join(root, 'test', 'helpers', 'tensorboard-child.ts');
    const tsx = join(root, 'node_modules', '.bin', 'tsx');
    const straight = mkdtempSync(join(dir, 's-'));
    execFileSync(tsx, [child, straight, '-1']);
    const logsOf = async (run: string) =>
      Promise.all(['train', 'validation'].map((r) => readRun(fsStorage, join(run, 'logs'), r)));
    const view = (l: RunLogs) => ({
      scalars: Object.fromEntries([...l.scalars].map(([t, ps]) => [t, ps.map((p) => [p.step, p.value])])),
      histograms: Object.fromEntries([...l.histograms].map(([t, ps]) => [t, ps.map((p) => [p.step, p.value])])),
      texts: Object.fromEntries([...l.texts].map(([t, ps]) => [t, ps.map((p) => p.step)])),
      graphs: Object.fromEntries([...l.graphs].map(([t, ps]) => [t, ps.map((p) => [p.step, p.value])])),
    });
    return fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 23 }), async (killAt) => {
        const run = mkdtempSync(join(dir, 'k-'));
        const killed = spawnSync(tsx, [child, run, String(killAt)]);
        expect(killed.signal === 'SIGKILL' || killed.status === 137).toBe(true);
        execFileSync(tsx, [child, run, '-1']);
        const [ours, reference] = [await logsOf(run), await logsOf(straight)];
        expect(readdirSync(join(run, 'logs', 'train')).length).toBe(2); // one file per process
        expect(ours[0].starts.length).toBe(2); // the first process's start, then the restart
        for (const [i, l] of ours.entries()) {
          for (const points of l.scalars.values()) expect(new Set(points.map((p) => p.step)).size).toBe(points.length);
          expect(view(l)).toEqual(view(reference[i]));
        }
        if (live) expect(tensorBoardView(join(run, 'logs'))).toEqual(tensorBoardView(join(straight, 'logs')));
      }),
      { numRuns: 4, examples: [[10], [6], [12]] },
    ); // 6, 12: a backup and a batch point at the kill's own batch
  }, 120_000);
});

describe('waypoint inspect-logs and tensorboard-export; bundleLogs', () => {
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [join(root, 'bin', 'waypoint.js'), ...args], { encoding: 'utf8' });

  it('lists tags, steps and last values per run, reports a torn last record, and zips every event file with its run path', async () => {
    const logDir = join(dir, 'cli-logs');
    const model = makeModel('mlp', 3);
    const [x, y] = dataFor('mlp');
    await model.fit(x, y, {
      epochs: 2,
      batchSize: 8,
      verbose: 0,
      validationSplit: 0.2,
      callbacks: [new TensorBoard({ logDir })],
    });
    const listed = cli('inspect-logs', logDir);
    expect(listed.status, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/^run train: 1 event file\n/);
    expect(listed.stdout).toMatch(
      new RegExp(`epoch_loss\\s+scalar\\s+2\\s+0–1\\s+${Math.fround(model.history.history.loss[1])}`),
    );
    expect(listed.stdout).toMatch(/run validation: 1 event file/);

    const zipped = cli('tensorboard-export', logDir, '--out', join(dir, 'logs.zip'));
    expect(zipped.status, zipped.stderr).toBe(0);
    const entries = unzipSync(new Uint8Array(readFileSync(join(dir, 'logs.zip'))));
    const file = readdirSync(join(logDir, 'train'))[0];
    expect(Object.keys(entries).sort()).toEqual([
      `train/${file}`,
      `validation/${readdirSync(join(logDir, 'validation'))[0]}`,
    ]);
    expect(Buffer.from(entries[`train/${file}`]).equals(readFileSync(join(logDir, 'train', file)))).toBe(true);

    const path = join(logDir, 'train', file);
    truncateSync(path, statSync(path).size - 3);
    const torn = cli('inspect-logs', logDir);
    expect(torn.status).toBe(0);
    expect(torn.stdout).toMatch(new RegExp(`${file}: torn record at byte \\d+ \\(a writer stopped mid-write\\)`));
    expect(cli('inspect-logs', join(dir, 'nothing-here')).stderr).toMatch(/no TensorBoard event files/);
  });

  it('bundleLogs works over any Storage (a browser keeps its logs in one)', async () => {
    const storage = new MemoryStorage();
    const model = makeModel('mlp', 3);
    const [x, y] = dataFor('mlp');
    await model.fit(x, y, {
      epochs: 1,
      batchSize: 8,
      verbose: 0,
      callbacks: [new TensorBoard({ logDir: '/l', storage })],
    });
    const entries = unzipSync(await bundleLogs(storage, '/l'));
    expect(
      Object.keys(entries)
        .map((k) => k.split('/')[0])
        .sort(),
    ).toEqual(['train', 'validation']);
  });
});

// TensorBoard's own loader, where .venv-ref has it (see scripts/golden/tensorboard_read.py).
const probe = existsSync(python) ? spawnSync(python, ['-c', 'import tensorboard'], { encoding: 'utf8' }) : null;
const live = probe?.status === 0;
if (!live)
  console.warn(
    'SKIPPED the live TensorBoard-loader check: .venv-ref has no tensorboard (python3 -m venv .venv-ref && .venv-ref/bin/pip install tensorboard)',
  );

function tensorBoardView(logDir: string): unknown {
  const r = spawnSync(python, [join(root, 'scripts', 'golden', 'tensorboard_read.py'), logDir], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

describe.runIf(live)("TensorBoard's own loader reads Waypoint's logs as Waypoint's reader does", () => {
  it('every scalar tag, step and value; histogram and text steps', async () => {
    const logDir = join(dir, 'live-logs');
    const model = makeModel('mlp', 2);
    const [x, y] = dataFor('mlp');
    await model.fit(x, y, {
      epochs: 2,
      batchSize: 8,
      verbose: 0,
      validationSplit: 0.2,
      callbacks: [new TensorBoard({ logDir, updateFreq: 3, histogramFreq: 1 })],
    });
    const theirs = tensorBoardView(logDir) as Record<
      string,
      Record<string, { plugin: string; points: Array<[number, number | null]> }>
    >;
    for (const run of await readLogs(fsStorage, logDir)) {
      const tags = theirs[run.run];
      for (const [tag, points] of run.scalars)
        expect(tags[tag]).toEqual({ plugin: 'scalars', points: points.map((p) => [p.step, p.value]) });
      for (const [tag, points] of run.histograms)
        expect(tags[tag]).toEqual({ plugin: 'histograms', points: points.map((p) => [p.step, null]) });
      for (const [tag, points] of run.texts)
        expect(tags[tag]).toEqual({ plugin: 'text', points: points.map((p) => [p.step, null]) });
      for (const [tag, points] of run.graphs) {
        // TensorBoard's graphs plugin builds one node per layer, scoped by the model's name.
        const nodes = (json: string) => {
          const m = JSON.parse(json) as { config: { name: string; layers: Array<{ config: { name: string } }> } };
          return m.config.layers.map((l) => `${m.config.name}/${l.config.name}`);
        };
        expect(tags[tag]).toEqual({ plugin: 'graph_keras_model', points: points.map((p) => [p.step, nodes(p.value)]) });
      }
      expect(Object.keys(tags).length).toBe(run.scalars.size + run.histograms.size + run.texts.size + run.graphs.size);
    }
  });
});
