import { describe, it, expect } from 'vitest';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'fflate';
import { loadMnist } from '../../src/node/index.js';
import { MNIST_FILE, parseMnist } from '../../src/data/mnist.js';

describe('the shipped MNIST file', () => {
  it('holds exactly the digits of the mnist package, grouped by digit, and loadMnist splits them 800 per digit', async () => {
    const dir = join(dirname(createRequire(import.meta.url).resolve('mnist/package.json')), 'src', 'digits');
    const digits = parseMnist(readFileSync(MNIST_FILE), 'digits.idx.gz');
    for (let d = 0; d < 10; d++) {
      const expected = (JSON.parse(readFileSync(join(dir, `${d}.json`), 'utf8')).data as number[]).map((v) =>
        Math.round(v * 255),
      );
      expect(Array.from(digits[d]), `digit ${d}`).toEqual(expected);
    }
    const { xTrain, yTrain, xTest } = await loadMnist({ shape: 'image', order: 'byDigit' });
    expect(xTrain.shape).toEqual([8000, 28, 28, 1]);
    expect(xTest.shape[0]).toBe(2000);
    expect(xTrain.data[800 * 784 + 300]).toBe(Math.fround(digits[1][300] / 255)); // the first 1 follows 800 zeros
    expect(Array.from(yTrain.data.subarray(800 * 10, 800 * 10 + 10))).toEqual([0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(readFileSync(MNIST_FILE).length).toBeLessThan(2.2e6);
  });

  it("comes in one fixed shuffled order, as Keras's MNIST: the last 20 % (validationSplit: 0.2) holds every digit", async () => {
    const shuffled = await loadMnist();
    const sorted = await loadMnist({ order: 'byDigit' });
    const label = (y: Float32Array, row: number) => y.subarray(row * 10, row * 10 + 10).indexOf(1);
    const counts = new Array(10).fill(0);
    for (let row = 6400; row < 8000; row++) counts[label(shuffled.yTrain.data, row)]++;
    for (const c of counts) expect(c).toBeGreaterThan(120);
    // The same samples as the sorted sets, each pixel row with its label, in an order fixed across calls.
    const key = (x: Float32Array, y: Float32Array, row: number) =>
      `${label(y, row)}:${Array.from(x.subarray(row * 784, row * 784 + 784)).join()}`;
    const rows = (d: typeof shuffled, n: number) =>
      Array.from({ length: n }, (_, r) => key(d.xTrain.data, d.yTrain.data, r));
    expect(rows(shuffled, 8000).sort()).toEqual(rows(sorted, 8000).sort());
    expect(Array.from((await loadMnist()).yTrain.data.subarray(0, 100))).toEqual(
      Array.from(shuffled.yTrain.data.subarray(0, 100)),
    );
    await expect(loadMnist({ order: 'random' as 'byDigit' })).rejects.toThrow(
      /order must be 'shuffled' or 'byDigit', got "random"/,
    );
  });

  it('refuses a file that is not the IDX pair, saying what and where', async () => {
    expect(() => parseMnist(new Uint8Array([1, 2, 3]), 'x.gz')).toThrow(/x.gz is not a gzip file/);
    expect(() => parseMnist(gzipSync(new Uint8Array(20)), 'x.gz')).toThrow(
      /no image header \(magic 0x00000803\) at offset 0/,
    );
    const file = readFileSync(MNIST_FILE);
    const raw = (await import('fflate')).gunzipSync(file);
    expect(() => parseMnist(gzipSync(raw.subarray(0, raw.length - 1)), 'cut.gz')).toThrow(
      /cut.gz is not MNIST's IDX pair: .* bytes where 10000 images and labels take/,
    );
    await expect(loadMnist({ url: new URL('file:///nonexistent/digits.idx.gz') })).rejects.toThrow(
      /loadMnist: cannot read file:\/\/\/nonexistent\/digits.idx.gz: ENOENT/,
    );
  });
});
