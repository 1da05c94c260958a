/**
 * The `waypoint` command (src/cli), run as a user runs it, in child processes: train and its
 * resume, inspect, diff, select, plot (rendered to PNG and checked on pixels), export and
 * import, the messages of every error, and the first hour's edges (the progress line, train
 * on another model's run, diff's exit codes, templates, export names).
 */
import { describe, it, expect, beforeAll, afterAll, vi } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  readWpt,
  Tensor,
  loadMnist,
  ProgressBar,
  ModelCheckpoint,
  osError,
  Sequential,
  Dense,
  Adam,
} from '../../src/node/index.js';
import { modelFromFile } from '../../src/model/load.js';
import { parseXml, findAll, type XmlElement as XmlNode } from '../helpers/xml.js';
import { fitLine } from '../../src/model/progress.js';
import { formatTemplate } from '../../src/callbacks/template.js';
import { mnistModel } from '../../src/cli/models.js';
import { exportTfjs } from '../../src/interop/tfjs.js';
import { TRAILER_SIZE } from '../../src/checkpoint/layout/format.js';
import { decodePng, colorNear } from '../helpers/png.js';
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'waypoint.js');
const cli = (...args: string[]) => spawnSync('node', [BIN, ...args], { encoding: 'utf8' });

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'wpt-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const weightsOf = async (path: string) => {
  const { values } = await readWpt(path);
  return [...values]
    .filter(([k]) => k.startsWith('model/') || k.startsWith('optimizer/m'))
    .map(([k, v]) => [k, Array.from((v as Tensor).data)]);
};

describe('waypoint train', () => {
  it('killed mid-epoch, then run again, resumes to the same final model as an uninterrupted run', async () => {
    const straight = join(dir, 'straight'),
      killed = join(dir, 'killed');
    const args = (run: string) => ['train', '--model', 'mlp', '--epochs', '2', '--every-batches', '40', '--run', run];
    const first = cli(...args(straight));
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/run complete: 2 epochs/);

    // Start the same run and SIGKILL it once a mid-epoch backup exists.
    const child = spawn('node', [BIN, ...args(killed)], { stdio: 'ignore' });
    const manifest = join(killed, 'backup', 'manifest.json');
    await new Promise<void>((resolve, reject) => {
      const poll = setInterval(() => {
        if (existsSync(manifest) && readFileSync(manifest, 'utf8').includes('backup-')) {
          clearInterval(poll);
          child.kill('SIGKILL');
          resolve();
        }
      }, 20);
      child.on('exit', () => {
        clearInterval(poll);
        reject(new Error('the run finished before it could be killed'));
      });
    });
    await new Promise((r) => child.on('exit', r));
    expect(existsSync(join(killed, 'last.wpt'))).toBe(false);

    const resumed = cli(...args(killed));
    expect(resumed.status).toBe(0);
    expect(resumed.stdout).toMatch(/resuming from epoch 1, batch \d+/);
    expect(await weightsOf(join(killed, 'last.wpt'))).toEqual(await weightsOf(join(straight, 'last.wpt')));
    expect(readFileSync(join(killed, 'log.csv'), 'utf8')).toBe(readFileSync(join(straight, 'log.csv'), 'utf8'));

    const again = cli(...args(killed));
    expect(again.stdout).toMatch(/is complete: 2 epochs trained/);
    expect(again.stdout).toMatch(/best model: .*best\.wpt \(val_accuracy/);
  }, 120_000);
});

describe('waypoint train, stopped', () => {
  it('by SIGTERM (kill, docker stop): says how to resume, leaves no lock, and the next run resumes', async () => {
    const run = join(dir, 'terminated');
    const args = ['train', '--model', 'mlp', '--epochs', '2', '--every-batches', '40', '--run', run];
    const child = spawn('node', [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    const manifest = join(run, 'backup', 'manifest.json');
    // One SIGTERM, as `kill` sends: a second one, arriving while the first is handled, would
    // take the default action (what a second Ctrl-C is for).
    const poll = setInterval(() => {
      if (existsSync(manifest) && readFileSync(manifest, 'utf8').includes('backup-')) {
        clearInterval(poll);
        child.kill('SIGTERM');
      }
    }, 20);
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    clearInterval(poll);
    expect(code).toBe(143);
    expect(stderr).toMatch(
      /interrupted \(SIGTERM\) at epoch \d+, batch \d+: backed up to .*backup; run the same command again to resume/,
    );
    expect(existsSync(join(run, 'backup', 'manager.lock'))).toBe(false);

    const resumed = cli(...args);
    expect(resumed.status).toBe(0);
    expect(resumed.stdout + resumed.stderr).not.toMatch(/stale lock/);
    expect(resumed.stdout).toMatch(/resuming from epoch 1, batch \d+/);
  }, 120_000);
});

describe('inspect, diff, select, plot', () => {
  const run = () => join(dir, 'straight');

  it('inspect lists entries, history and verified checksums', () => {
    const out = cli('inspect', join(run(), 'last.wpt'));
    expect(out.status).toBe(0);
    expect(out.stdout).toMatch(/model, format 1\.0, written by waypoint/);
    expect(out.stdout).toMatch(/model\/layers\/0\/kernel\s+float32\s+\[784,128\]\s+shuffle-deflate/);
    expect(out.stdout).toMatch(/history \(2 epochs\)/);
    expect(out.stdout).toMatch(/checksums: all \d+ entries and the header verify/);
  });

  it('inspect reports a damaged entry and exits non-zero', () => {
    const bytes = readFileSync(join(run(), 'last.wpt'));
    bytes[100] ^= 0xff;
    writeFileSync(join(dir, 'damaged.wpt'), bytes);
    const out = cli('inspect', join(dir, 'damaged.wpt'));
    expect(out.status).toBe(1);
    expect(out.stdout).toMatch(/CHECKSUM_MISMATCH.*entry 'config'/);
  });

  it('diff tells identical files from different ones', () => {
    const same = cli('diff', join(run(), 'last.wpt'), join(dir, 'killed', 'last.wpt'));
    expect(same.stdout).toMatch(/no differences in any entry/);
    const other = cli('diff', join(run(), 'best.wpt'), join(run(), 'last.wpt'));
    expect(other.status).toBe(/no differences in any entry/.test(other.stdout) ? 0 : 1);
  });

  it('select ranks the run directory', () => {
    const out = cli('select', run(), '--metric', 'accuracy');
    expect(out.status).toBe(0);
    expect(out.stdout).toMatch(/rank\s+checkpoint\s+loss\s+accuracy/);
    expect(out.stdout).toMatch(/best by accuracy on mnist-test: /);
  });

  it('plot writes a well-formed SVG with one path per series', () => {
    const svg = join(dir, 'curves.svg');
    expect(cli('plot', run(), '--out', svg).status).toBe(0);
    const root = parseXml(readFileSync(svg, 'utf8'));
    expect(root.name).toBe('svg');
    const groups = findAll(root, 'g').filter((g) => g.attributes['data-series'] !== undefined);
    expect(groups.map((g) => g.attributes['data-series']).sort()).toEqual([
      'accuracy',
      'loss',
      'val_accuracy',
      'val_loss',
    ]);
    for (const g of groups) {
      expect(findAll(g, 'path').map((p) => p.attributes.d)).toEqual([
        expect.stringMatching(/^M[\d.]+,[\d.]+ L[\d.]+,[\d.]+$/),
      ]);
      expect(findAll(g, 'circle')).toHaveLength(2); // few epochs: a marker on every point
    }
  });
});

describe('export', () => {
  it('to tfjs: tf.loadLayersModel loads it and predicts within 1e-5 of Waypoint', async () => {
    const file = join(dir, 'straight', 'last.wpt');
    const out = join(dir, 'tfjs');
    expect(cli('export', file, '--to', 'tfjs', '--out', out).status).toBe(0);
    const modelJson = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8'));
    const bin = readFileSync(join(out, 'weights.bin'));
    await tf.setBackend('cpu');
    const loaded = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: modelJson.modelTopology,
        weightSpecs: modelJson.weightsManifest[0].weights,
        weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length),
      }),
    );
    const ours = (await modelFromFile(file)) as Sequential;
    const x = await (await loadMnist()).xTest;
    const sample = new Tensor(x.data.slice(0, 64 * 784), [64, 784]);
    const theirs = (loaded.predict(tf.tensor(sample.data, sample.shape)) as tf.Tensor).dataSync();
    const mine = ours.predict(sample).data;
    for (let i = 0; i < mine.length; i++) expect(Math.abs(theirs[i] - mine[i])).toBeLessThan(1e-5);
  });

  it('to tfjs, a CNN too', async () => {
    const cnnRun = join(dir, 'cnn');
    expect(cli('train', '--model', 'cnn', '--epochs', '1', '--run', cnnRun).status).toBe(0);
    expect(cli('export', join(cnnRun, 'last.wpt'), '--to', 'tfjs', '--out', join(dir, 'tfjs-cnn')).status).toBe(0);
    const modelJson = JSON.parse(readFileSync(join(dir, 'tfjs-cnn', 'model.json'), 'utf8'));
    const bin = readFileSync(join(dir, 'tfjs-cnn', 'weights.bin'));
    const loaded = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: modelJson.modelTopology,
        weightSpecs: modelJson.weightsManifest[0].weights,
        weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length),
      }),
    );
    const x = await (await loadMnist({ shape: 'image' })).xTest;
    const sample = new Tensor(x.data.slice(0, 16 * 784), [16, 28, 28, 1]);
    const theirs = (loaded.predict(tf.tensor(sample.data, sample.shape)) as tf.Tensor).dataSync();
    const mine = ((await modelFromFile(join(cnnRun, 'last.wpt'))) as Sequential).predict(sample).data;
    for (let i = 0; i < mine.length; i++) expect(Math.abs(theirs[i] - mine[i])).toBeLessThan(1e-5);
  }, 60_000);

  it('to safetensors: an independent reader written from the spec reads the same weights', async () => {
    const file = join(dir, 'straight', 'last.wpt');
    const out = join(dir, 'model.safetensors');
    expect(cli('export', file, '--to', 'safetensors', '--out', out).status).toBe(0);
    // Reader per the safetensors spec: u64 LE N, N bytes of JSON, then the byte buffer.
    const bytes = readFileSync(out);
    const n = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
    const buffer = bytes.subarray(8 + n);
    expect(header.__metadata__.engine).toMatch(/^waypoint /);
    const ours = (await modelFromFile(file)) as Sequential;
    let end = 0;
    ours.layers.forEach((layer, i) => {
      for (const [name, t] of layer.namedWeights()) {
        const info = header[`layers.${i}.${name}`];
        expect(info.dtype).toBe('F32');
        expect(info.shape).toEqual(t.shape);
        const [a, b] = info.data_offsets;
        expect(b - a).toBe(t.size * 4);
        const slice = buffer.subarray(a, b);
        const values = new Float32Array(slice.buffer.slice(slice.byteOffset, slice.byteOffset + slice.length));
        expect(values).toEqual(t.data);
        end = Math.max(end, b);
      }
    });
    expect(end).toBe(buffer.length);
    expect((8 + n) % 8).toBe(0);
  });
});

describe('bad input: one clear line, non-zero exit', () => {
  const cases: Array<[string[], RegExp, number]> = [
    [['frobnicate'], /^waypoint frobnicate: unknown command 'frobnicate'/, 2],
    [['train', '--bogus'], /^waypoint train: Unknown option '--bogus'/, 2],
    [['train', '--model', 'rnn'], /--model must be mlp or cnn, got 'rnn'/, 2],
    [['train', '--epochs', '0'], /--epochs must be an integer ≥ 1/, 2],
    [['inspect'], /give exactly one FILE/, 2],
    [
      ['inspect', '/no/such/file.wpt'],
      /NOT_FOUND: cannot open the file: no such file or directory \(ENOENT\) \(file \/no\/such\/file\.wpt\)/,
      1,
    ],
    [['diff', 'only-one.wpt'], /give two files/, 2],
    [['select', '/no/such/dir'], /does not exist/, 2],
    [['plot', '/no/such/file.wpt'], /cannot open/, 1],
    [['export', 'x.wpt'], /--to must be tfjs, safetensors or onnx/, 2],
    [['bench', '--size', 'huge'], /--size must be small, large or a size such as 100M or 4G/, 2],
  ];
  for (const [args, message, code] of cases) {
    it(args.join(' '), () => {
      const out = cli(...args);
      expect(out.status).toBe(code);
      expect(out.stderr.trim().split('\n')).toHaveLength(1);
      expect(out.stderr.trim()).toMatch(message);
    });
  }

  it('a file that is not a checkpoint', () => {
    writeFileSync(join(dir, 'notes.wpt'), 'hello, world, this is not a checkpoint at all');
    const out = cli('inspect', join(dir, 'notes.wpt'));
    expect(out.status).toBe(1);
    expect(out.stderr.trim()).toMatch(/^waypoint inspect: BAD_MAGIC: not a \.wpt file/);
  });

  it('every command has --help', () => {
    for (const c of ['train', 'inspect', 'diff', 'select', 'plot', 'export', 'bench']) {
      const out = cli(c, '--help');
      expect(out.status).toBe(0);
      expect(out.stdout).toMatch(new RegExp(`^usage: waypoint ${c}`));
    }
  });
});

let ownDir: string;
beforeAll(() => {
  ownDir = mkdtempSync(join(tmpdir(), 'wpt-polish-'));
});
afterAll(() => rmSync(ownDir, { recursive: true, force: true }));

/** A few samples of MNIST's shapes (the values do not matter where only shapes and counters do). */
const fakeMnist = (kind: 'mlp' | 'cnn', n = 64) => {
  const x = new Tensor(
    Float32Array.from({ length: n * 784 }, (_, i) => ((i * 7919) % 255) / 255),
    kind === 'mlp' ? [n, 784] : [n, 28, 28, 1],
  );
  const y = new Tensor(
    Float32Array.from({ length: n * 10 }, (_, i) => (i % 10 === Math.floor(i / 10) % 10 ? 1 : 0)),
    [n, 10],
  );
  return [x, y] as const;
};

describe('1. the progress line', () => {
  const logs = { loss: 0.123456, accuracy: 0.5, val_loss: 0.2, val_accuracy: 0.75 };

  it('fits the width: the bar goes first, then metrics from the last, and it is never longer', () => {
    const metrics = ['loss: 0.1235', 'accuracy: 0.5000'];
    const wide = fitLine('95/100', '[====>....]', 'ETA: 1.0s', metrics, 200);
    expect(wide).toBe('95/100 [====>....] - ETA: 1.0s - loss: 0.1235 - accuracy: 0.5000');
    expect(fitLine('95/100', '[====>....]', 'ETA: 1.0s', metrics, wide.length - 1)).toBe(
      '95/100 - ETA: 1.0s - loss: 0.1235 - accuracy: 0.5000',
    );
    expect(fitLine('95/100', '[====>....]', 'ETA: 1.0s', metrics, 40)).toBe('95/100 - ETA: 1.0s - loss: 0.1235');
    expect(fitLine('95/100', '[====>....]', 'ETA: 1.0s', metrics, 10)).toHaveLength(10);
  });

  it('in an 80-column terminal every redraw stays on one line of at most 79 characters', async () => {
    let out = '';
    const bar = new ProgressBar({
      epochs: 1,
      stepsPerEpoch: 95,
      isTTY: true,
      columns: 80,
      write: (t) => {
        out += t;
      },
    });
    vi.useFakeTimers({ toFake: ['performance'] });
    try {
      await bar.onEpochBegin(0);
      for (let b = 0; b < 95; b++) {
        vi.advanceTimersByTime(150);
        await bar.onBatchEnd(b, logs);
      }
      await bar.onEpochEnd(0, logs);
    } finally {
      vi.useRealTimers();
    }
    const redraws = out
      .split('\r')
      .slice(1)
      .map((l) => l.replace('\x1b[K', ''));
    expect(redraws.length).toBeGreaterThan(90);
    expect(out.split('\n').filter(Boolean)).toHaveLength(2); // "Epoch 1/1" and the epoch's final line
    for (const line of redraws) expect(line.replace(/\n$/, '').length).toBeLessThanOrEqual(79);
    expect(redraws[50]).toMatch(/^51\/95 - ETA: [\d.]+s - loss: 0\.1235/); // 4 metrics: the bar had to go
  });

  it('an epoch of unknown length (a dataset of unknown size) counts batches as Keras does, n/Unknown, then n/n', async () => {
    let out = '';
    const bar = new ProgressBar({ epochs: 1, isTTY: true, columns: 80, write: (t) => void (out += t) });
    vi.useFakeTimers({ toFake: ['performance'] });
    try {
      await bar.onEpochBegin(0);
      for (let b = 0; b < 7; b++) {
        vi.advanceTimersByTime(150);
        await bar.onBatchEnd(b, logs);
      }
      await bar.onEpochEnd(0, logs);
    } finally {
      vi.useRealTimers();
    }
    const redraws = out.split('\r').slice(1);
    expect(redraws[2]).toMatch(/^3\/Unknown - [\d.]+s - loss: 0\.1235/);
    expect(redraws.at(-1)).toMatch(/^7\/7 - [\d.]+s - loss/);
  });

  it('outside a terminal: one line per epoch', async () => {
    let out = '';
    const bar = new ProgressBar({
      epochs: 2,
      stepsPerEpoch: 10,
      isTTY: false,
      write: (t) => {
        out += t;
      },
    });
    for (const epoch of [0, 1]) {
      await bar.onEpochBegin(epoch);
      for (let b = 0; b < 10; b++) await bar.onBatchEnd(b, logs);
      await bar.onEpochEnd(epoch, logs);
    }
    expect(out.split('\n').filter(Boolean)).toEqual([
      expect.stringMatching(
        /^Epoch 1\/2 - [\d.]+s - loss: 0\.1235 - accuracy: 0\.5000 - val_loss: 0\.2000 - val_accuracy: 0\.7500$/,
      ),
      expect.stringMatching(/^Epoch 2\/2 - /),
    ]);
  });

  it('after a resume, the ETA is timed over the batches this process ran, not the restored ones', async () => {
    let out = '';
    const bar = new ProgressBar({
      epochs: 1,
      stepsPerEpoch: 100,
      isTTY: true,
      columns: 200,
      write: (t) => {
        out += t;
      },
    });
    vi.useFakeTimers({ toFake: ['performance'] });
    try {
      await bar.onEpochBegin(0); // resumed at batch 90: batches 0..89 were restored, not run here
      for (let b = 90; b < 95; b++) {
        vi.advanceTimersByTime(200);
        await bar.onBatchEnd(b, logs);
      }
    } finally {
      vi.useRealTimers();
    }
    // 5 batches took 1 s: 5 to go take another 1 s (counting the restored 90 would say 0.1 s).
    expect(out.split('\r').at(-1)).toMatch(/95\/100 \[.*\] - ETA: 1\.0s/);
  });
});

describe('2. plot: markers, gaps, labels, grid, checked on the rendered picture', () => {
  const hasRsvg = spawnSync('rsvg-convert', ['--version']).status === 0;
  // CI installs it and sets WAYPOINT_EXPECT_RSVG=1: there, a missing renderer fails instead of skipping.
  if (!hasRsvg && process.env.WAYPOINT_EXPECT_RSVG !== '1')
    console.warn('SKIPPED plot pixel tests: rsvg-convert (Debian librsvg2-bin) is not installed');
  it.runIf(process.env.WAYPOINT_EXPECT_RSVG === '1')('rsvg-convert is installed (CI)', () =>
    expect(hasRsvg).toBe(true),
  );

  const plotSvg = (name: string, csv: string) => {
    const file = join(ownDir, `${name}.csv`),
      svg = join(ownDir, `${name}.svg`);
    writeFileSync(file, csv);
    const out = cli('plot', file, '--out', svg);
    expect(out.status, out.stderr).toBe(0);
    return { out, svg, root: parseXml(readFileSync(svg, 'utf8')) };
  };
  /** The plot and its picture as rsvg-convert renders it (only in the tests that run where it is installed). */
  const plotCsv = (name: string, csv: string) => {
    const { out, svg, root } = plotSvg(name, csv);
    const png = join(ownDir, `${name}.png`);
    const render = spawnSync('rsvg-convert', ['-o', png, svg]);
    expect(render.status, String(render.stderr)).toBe(0);
    return { out, root, image: decodePng(readFileSync(png)) };
  };
  const group = (root: XmlNode, series: string) =>
    findAll(root, 'g').find((g) => g.attributes['data-series'] === series)!;
  const markers = (g: XmlNode) =>
    findAll(g, 'circle').map((c) => [Number(c.attributes.cx), Number(c.attributes.cy)] as const);

  it.skipIf(!hasRsvg)('a 1-epoch run: a visible marker per series, in the middle of the axis', () => {
    const { root, image } = plotCsv('one-epoch', 'epoch,accuracy,loss,val_accuracy,val_loss\n0,0.8,0.6,0.85,0.5\n');
    const loss = group(root, 'loss');
    expect(markers(loss)).toHaveLength(1);
    const [[cx, cy]] = markers(loss);
    expect(cx).toBeCloseTo(64 + (490 - 64 - 110) / 2, 0); // centred between the axis ends
    expect(colorNear(image, cx, cy, loss.attributes.fill, 0)).toBe(true);
    const valLoss = group(root, 'val_loss');
    const [[vx, vy]] = markers(valLoss);
    expect(colorNear(image, vx, vy, valLoss.attributes.fill, 0)).toBe(true);
    expect(vy).toBeGreaterThan(cy); // 0.5 is drawn below 0.6
  });

  it.skipIf(!hasRsvg)('a NaN loss: the line stops and starts again, the gap is empty and named in a note', () => {
    const { out, root, image } = plotCsv('nan', 'epoch,loss\n0,1.0\n1,0.8\n2,NaN\n3,0.5\n4,0.4\n');
    expect(out.stdout).toMatch(/non-finite values drawn as gaps in loss/);
    const loss = group(root, 'loss');
    const color = loss.attributes.fill;
    const points = markers(loss);
    expect(points).toHaveLength(4);
    for (const [x, y] of points) expect(colorNear(image, x, y, color, 0)).toBe(true);
    const mid = (a: readonly number[], b: readonly number[]) => [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2] as const;
    expect(colorNear(image, ...mid(points[0], points[1]), color)).toBe(true); // epochs 1–2: joined
    expect(colorNear(image, ...mid(points[2], points[3]), color)).toBe(true); // epochs 4–5: joined
    expect(colorNear(image, ...mid(points[1], points[2]), color, 2)).toBe(false); // across the NaN: nothing drawn
    expect(findAll(loss, 'path')[0].attributes.d.match(/M/g)).toHaveLength(2);
    const notes = findAll(root, 'text')
      .filter((t) => t.attributes.class === 'gap-note')
      .map((t) => t.text);
    expect(notes).toEqual(['loss: no value at epoch 3 (NaN)']);
  });

  it('labels the y axes and draws light grid lines', () => {
    const { root } = plotSvg('labels', 'epoch,accuracy,loss\n0,0.5,1\n1,0.7,0.8\n2,0.9,0.6\n');
    const texts = findAll(root, 'text');
    expect(texts.filter((t) => /rotate\(-90\)/.test(t.attributes.transform ?? '')).map((t) => t.text)).toEqual([
      'loss',
      'value',
    ]);
    expect(findAll(root, 'line').filter((l) => l.attributes.stroke === '#e8e8e8').length).toBeGreaterThanOrEqual(
      2 * (5 + 3),
    );
  });
});

describe("3 and 4. select across architectures; train on another model's run", () => {
  it('select ranks an MLP and a CNN together and lists a file it cannot evaluate, with the reason', async () => {
    const d = join(ownDir, 'mixed');
    mkdirSync(d);
    await mnistModel('mlp', 1).save(join(d, 'mlp.wpt'));
    await mnistModel('cnn', 1).save(join(d, 'cnn.wpt'));
    const other = new Sequential([new Dense({ units: 2, inputShape: [6] })]);
    other.compile({ optimizer: new Adam(), loss: 'mse' });
    await other.save(join(d, 'other.wpt'));
    const out = cli('select', d);
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/\n\s*1\s+\S+(mlp|cnn)\.wpt/);
    expect(out.stdout).toMatch(/\n\s*2\s+\S+(mlp|cnn)\.wpt/);
    expect(out.stdout).toMatch(/not ranked \(1\):\n\s+\S+other\.wpt: its input shape \[6\] is not MNIST's/);
  }, 60_000);

  it('train refuses a directory of another model at once, saying what it holds and how to go on', async () => {
    const run = join(ownDir, 'cnn-run');
    mkdirSync(run);
    await mnistModel('cnn', 1).save(join(run, 'last.wpt'));
    const out = cli('train', '--model', 'mlp', '--epochs', '1', '--run', run);
    expect(out.status).toBe(2);
    expect(out.stdout).not.toMatch(/training/);
    expect(out.stderr.trim()).toBe(
      `waypoint train: ${run} holds a 'cnn' run, not 'mlp': continue it with --model cnn, or start a new run with --run NEW_DIR`,
    );
  });
});

describe('5. diff exits as diff and cmp do, and prints differing JSON values', () => {
  it('0 when identical, 1 with the differing values, 2 on error', async () => {
    const model = mnistModel('mlp', 3);
    const [x, y] = fakeMnist('mlp');
    await model.fit(x, y, { epochs: 1, batchSize: 32, verbose: 0 });
    await model.save(join(ownDir, 'a.wpt'));
    await model.save(join(ownDir, 'a-again.wpt'));
    await model.fit(x, y, { epochs: 1, batchSize: 32, verbose: 0 });
    await model.save(join(ownDir, 'b.wpt'));
    expect(cli('diff', join(ownDir, 'a.wpt'), join(ownDir, 'a-again.wpt')).status).toBe(0);
    const differ = cli('diff', join(ownDir, 'a.wpt'), join(ownDir, 'b.wpt'));
    expect(differ.status).toBe(1);
    expect(differ.stdout).toMatch(/optimizer\/iterations\s+JSON differs\s+optimizer\/iterations: 2 vs 4/);
    expect(differ.stdout).toMatch(/model\/layers\/0\/kernel\s+values differ\s+max \|a-b\| = /);
    const missing = cli('diff', join(ownDir, 'a.wpt'), join(ownDir, 'no-such.wpt'));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^waypoint diff: NOT_FOUND/);
  }, 60_000);
});

describe('6. messages', () => {
  it('train says what MNIST loaded and "1 epoch"', () => {
    const out = cli('train', '--model', 'mlp', '--epochs', '1', '--run', join(ownDir, 'one'));
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/training mlp on MNIST \(8,000 train \/ 2,000 test\) for 1 epoch; run directory/);
    expect(out.stdout).toMatch(/run complete: 1 epoch; final test accuracy/);
    expect(cli('train', '--model', 'mlp', '--epochs', '1', '--run', join(ownDir, 'one')).stdout).toMatch(
      /is complete: 1 epoch trained/,
    );
  }, 120_000);

  it("a command's name is said once", () => {
    const out = cli('train', '--epochs', '0');
    expect(out.stderr.trim()).toMatch(/^waypoint train: --epochs must be/);
  });

  it('an errno is said once', () => {
    const nodeError = (code: string, message: string) => Object.assign(new Error(message), { code, syscall: 'write' });
    for (const [code, message] of [
      ['EIO', 'EIO: i/o error, write'],
      ['ENOSPC', 'ENOSPC: no space left on device, write'],
      ['EBUSY', 'EBUSY: resource busy or locked'],
    ]) {
      const text = osError('saving', '/x/m.wpt', nodeError(code, message)).message;
      expect(text.split(code).length - 1, text).toBe(1);
    }
  });

  it('a 64-bit offset past 2^53 is printed exactly', async () => {
    const file = join(ownDir, 'huge-offset.wpt');
    await mnistModel('mlp', 1).save(file);
    const bytes = readFileSync(file);
    new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(
      bytes.length - TRAILER_SIZE,
      0xffff_ffff_ffff_fff0n,
      true,
    );
    writeFileSync(file, bytes);
    const out = cli('inspect', file);
    expect(out.status).toBe(1);
    expect(out.stderr).toMatch(/header offset 18446744073709551600 is past the end of the \d+-byte file/);
  });
});

describe('7. templates', () => {
  it('refuses an unterminated placeholder or a stray brace, naming the position', () => {
    expect(() => new ModelCheckpoint({ filepath: join(ownDir, 'ckpt-{epoch.wpt') })).toThrow(
      /unterminated or malformed '\{' at position \d+/,
    );
    expect(() => formatTemplate('ckpt-epoch}.wpt', { epoch: 1 })).toThrow(/unmatched '\}' at position 10/);
    expect(formatTemplate('ckpt-{epoch:03d}.wpt', { epoch: 7 })).toBe('ckpt-007.wpt');
  });

  it('writes exponents as Python does (at least two digits)', () => {
    const cases: Array<[number, string]> = [
      [0.71313, '7.1313e-01'],
      [71313, '7.1313e+04'],
      [1e-10, '1.0000e-10'],
      [1.5e123, '1.5000e+123'],
      [0, '0.0000e+00'],
    ];
    for (const [v, python] of cases) expect(formatTemplate('{v:.4e}', { v })).toBe(python);
  });
});

describe("8. TensorFlow.js export: Keras's layer names", () => {
  it('conv2d, max_pooling2d, conv2d_1, max_pooling2d_1, flatten, dense', () => {
    const model = mnistModel('cnn', 1);
    model.build();
    const json = exportTfjs(model).modelJson;
    const names = json.modelTopology.config.layers.map((l: { config: { name: string } }) => l.config.name);
    expect(names).toEqual(['conv2d', 'max_pooling2d', 'conv2d_1', 'max_pooling2d_1', 'flatten', 'dense']);
  });
});

describe("9. optimizer slots keep their parameter's shape in the file", () => {
  it("inspect shows m and v with the kernel's shape", async () => {
    const model = mnistModel('cnn', 2);
    const [x, y] = fakeMnist('cnn', 8);
    await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
    const file = join(ownDir, 'slots.wpt');
    await model.save(file);
    const out = cli('inspect', file);
    expect(out.stdout).toMatch(/optimizer\/m\/layers\/0\/kernel\s+float32\s+\[3,3,1,8\]/);
    expect(out.stdout).toMatch(/optimizer\/v\/layers\/5\/kernel\s+float32\s+\[400,10\]/);
    expect(existsSync(file)).toBe(true);
  }, 60_000);
});

describe('a functional model file through the CLI', () => {
  it('inspect lists its weights by layer name, diff compares it, export writes every format with its inputs and outputs named, plot draws the loss of each output too, select says why it cannot rank it', async () => {
    const { functionalCase } = await import('../../harness/functional-cases.js');
    const c = await functionalCase('two-inputs-two-outputs');
    const file = join(dir, 'heads.wpt');
    await c.model.save(file);
    const inspect = cli('inspect', file);
    expect(inspect.status, inspect.stderr).toBe(0);
    expect(inspect.stdout).toMatch(/model\/layers\/block\/layers\/0\/kernel\s+float32\s+\[4,6\]/);
    expect(inspect.stdout).toMatch(/model\/layers\/score\/bias\s+float32\s+\[1\]/);
    expect(cli('diff', file, file).status).toBe(0);

    const onnx = cli('export', file, '--to', 'onnx', '--out', join(dir, 'heads.onnx'));
    expect(onnx.status, onnx.stderr).toBe(0);
    expect(onnx.stdout).toMatch(/inputs 'features', 'ids'.*outputs 'kind', 'score'/);
    const torch = cli(
      'export',
      file,
      '--to',
      'safetensors',
      '--layout',
      'torch',
      '--out',
      join(dir, 'heads.safetensors'),
    );
    expect(torch.status, torch.stderr).toBe(0);
    expect(readFileSync(join(dir, 'heads.py'), 'utf8')).toMatch(/def forward\(self, features, ids\):/);
    const tfjs = cli('export', file, '--to', 'tfjs', '--out', join(dir, 'heads-tfjs'));
    expect(tfjs.status, tfjs.stderr).toBe(0);
    // As a page loads it from fetch: the two files' contents.
    const json = JSON.parse(readFileSync(join(dir, 'heads-tfjs', 'model.json'), 'utf8'));
    const weights = readFileSync(join(dir, 'heads-tfjs', 'weights.bin'));
    const loaded = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest[0].weights,
        weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.length),
      }),
    );
    expect(loaded.outputs).toHaveLength(2);

    // plot draws every series of its history, the outputs' own included.
    const svg = join(dir, 'heads.svg');
    expect(cli('plot', file, '--out', svg).status).toBe(0);
    const series = findAll(parseXml(readFileSync(svg, 'utf8')), 'g')
      .map((g) => g.attributes['data-series'])
      .filter((name) => name !== undefined);
    expect(series.sort()).toEqual(['kind_loss', 'loss', 'score_loss']);

    const select = cli('select', file);
    expect(select.status).toBe(1);
    expect(select.stderr).toMatch(/heads\.wpt: it takes 2 inputs \(\[4\], \[3\]\); MNIST gives one/);
  });
});
