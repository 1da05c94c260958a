import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { readWpt, Tensor, loadMnist } from '../../src/node/index.js';
import { modelFromFile } from '../../src/model/load.js';
import { parseXml, findAll } from '../helpers/xml.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'waypoint.js');
const cli = (...args: string[]) => spawnSync('node', [BIN, ...args], { encoding: 'utf8' });

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'wpt-cli-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const weightsOf = async (path: string) => {
  const { values } = await readWpt(path);
  return [...values].filter(([k]) => k.startsWith('model/') || k.startsWith('optimizer/m')).map(([k, v]) => [k, Array.from((v as Tensor).data)]);
};

describe('waypoint train', () => {
  it('killed mid-epoch, then run again, resumes to the same final model as an uninterrupted run', async () => {
    const straight = join(dir, 'straight'), killed = join(dir, 'killed');
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
      child.on('exit', () => { clearInterval(poll); reject(new Error('the run finished before it could be killed')); });
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
    child.stderr.on('data', (d: Buffer) => { stderr += d; });
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
    expect(stderr).toMatch(/interrupted \(SIGTERM\) at epoch \d+, batch \d+: backed up to .*backup; run the same command again to resume/);
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
    expect(groups.map((g) => g.attributes['data-series']).sort()).toEqual(['accuracy', 'loss', 'val_accuracy', 'val_loss']);
    for (const g of groups) {
      expect(findAll(g, 'path').map((p) => p.attributes.d)).toEqual([expect.stringMatching(/^M[\d.]+,[\d.]+ L[\d.]+,[\d.]+$/)]);
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
    const loaded = await tf.loadLayersModel(tf.io.fromMemory({
      modelTopology: modelJson.modelTopology, weightSpecs: modelJson.weightsManifest[0].weights,
      weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length),
    }));
    const ours = await modelFromFile(file);
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
    const loaded = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: modelJson.modelTopology, weightSpecs: modelJson.weightsManifest[0].weights,
      weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length) }));
    const x = await (await loadMnist({ shape: 'image' })).xTest;
    const sample = new Tensor(x.data.slice(0, 16 * 784), [16, 28, 28, 1]);
    const theirs = (loaded.predict(tf.tensor(sample.data, sample.shape)) as tf.Tensor).dataSync();
    const mine = (await modelFromFile(join(cnnRun, 'last.wpt'))).predict(sample).data;
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
    const ours = await modelFromFile(file);
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
    [['inspect', '/no/such/file.wpt'], /NOT_FOUND: cannot open the file: no such file or directory \(ENOENT\) \(file \/no\/such\/file\.wpt\)/, 1],
    [['diff', 'only-one.wpt'], /give two files/, 2],
    [['select', '/no/such/dir'], /does not exist/, 2],
    [['plot', '/no/such/file.wpt'], /cannot open/, 1],
    [['export', 'x.wpt'], /--to must be tfjs, safetensors or onnx/, 2],
    [['bench', '--size', 'huge'], /--size must be small or large/, 2],
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
