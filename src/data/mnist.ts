/**
 * MNIST digits, from the compact file this package ships (data/mnist/digits.idx.gz: 10,000
 * real MNIST samples, 863–1,127 per digit, uint8 pixels in gzipped IDX; licence and
 * attribution in data/mnist/README.md). One deterministic split: for each digit, its first
 * 800 samples train and the rest test (8,000 / 2,000). Each set then comes in one fixed
 * shuffled order, as Keras's MNIST does, so that `validationSplit` (the last rows) holds every
 * digit; `order: 'byDigit'` keeps them sorted. Pixels are scaled to [0, 1] (p / 255).
 * Node reads the file from the package; a page fetches it (from `url`, or next to this module).
 */
import { gunzipSync } from 'fflate';
import { WaypointError } from '../errors.js';
import { platform } from '../platform.js';
import { Tensor } from '../tensor/tensor.js';
import { Random } from '../tensor/random.js';

/** Seeds the fixed order of the shuffled sets: never change it, or every published MNIST number moves. */
const ORDER_SEED = 20261207;

export interface MnistOptions {
  /** 'flat': x is [N, 784]; 'image': x is [N, 28, 28, 1]. */
  shape?: 'flat' | 'image';
  /** Samples per digit in the training set (default 800). */
  trainPerDigit?: number;
  /** Where the file is (default: data/mnist/digits.idx.gz of the installed package); a page may serve it elsewhere. */
  url?: string | URL;
  /** 'shuffled' (the default): one fixed order mixing the digits; 'byDigit': all 0s, then all 1s, … */
  order?: 'shuffled' | 'byDigit';
}

export interface MnistData {
  xTrain: Tensor;
  yTrain: Tensor;
  xTest: Tensor;
  yTest: Tensor;
}

const PIXELS = 784;
export const MNIST_FILE = new URL('../../data/mnist/digits.idx.gz', import.meta.url);

/** The digits of each class, as pixel values 0–255. */
const cache = new Map<string, Promise<Uint8Array[]>>();

/** Parses the images-then-labels IDX pair of `file` (see data/mnist/README.md) into pixels grouped by digit. */
export function parseMnist(file: Uint8Array, where: string): Uint8Array[] {
  let bytes: Uint8Array;
  try {
    bytes = gunzipSync(file);
  } catch (e) {
    throw new WaypointError(`loadMnist: ${where} is not a gzip file (${(e as Error).message})`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bad = (what: string) => new WaypointError(`loadMnist: ${where} is not MNIST's IDX pair: ${what}`);
  if (bytes.length < 16 || view.getUint32(0) !== 0x803) throw bad('no image header (magic 0x00000803) at offset 0');
  const count = view.getUint32(4);
  if (view.getUint32(8) !== 28 || view.getUint32(12) !== 28) throw bad(`images are ${view.getUint32(8)}×${view.getUint32(12)}, not 28×28`);
  const labelsAt = 16 + count * PIXELS;
  if (bytes.length !== labelsAt + 8 + count) throw bad(`${bytes.length} bytes where ${count} images and labels take ${labelsAt + 8 + count}`);
  if (view.getUint32(labelsAt) !== 0x801 || view.getUint32(labelsAt + 4) !== count) throw bad(`no label header for ${count} labels at offset ${labelsAt}`);
  const labels = bytes.subarray(labelsAt + 8);
  return Array.from({ length: 10 }, (_, d) => {
    const first = labels.indexOf(d), last = labels.lastIndexOf(d);
    if (first < 0 || labels.subarray(first, last + 1).some((l) => l !== d)) throw bad(`the samples of digit ${d} are not together`);
    return bytes.subarray(16 + first * PIXELS, 16 + (last + 1) * PIXELS);
  });
}

async function digitsAt(url: string | URL): Promise<Uint8Array[]> {
  const key = String(url);
  let digits = cache.get(key);
  if (!digits) {
    digits = platform().readBytes(url).then((file) => parseMnist(file, key), (e: Error) => {
      throw new WaypointError(`loadMnist: cannot read ${key}: ${e.message}`);
    });
    cache.set(key, digits);
    digits.catch(() => cache.delete(key));
  }
  return digits;
}

/** Where a page serves the file when a bundler did not copy it beside the module: next to the page (Vite's public/, esbuild's output directory). */
const BESIDE_THE_PAGE = 'digits.idx.gz';

/**
 * The digits from `url`, or by default from beside this module (the package, unbundled or as
 * Vite builds it) and then, in a page, from beside the page; the error says what to copy.
 */
async function defaultDigits(url: string | URL | undefined): Promise<Uint8Array[]> {
  if (url !== undefined) return digitsAt(url);
  const base = (globalThis as { document?: { baseURI?: string } }).document?.baseURI;
  const candidates = [MNIST_FILE, ...(base ? [new URL(BESIDE_THE_PAGE, base)] : [])];
  const failures: string[] = [];
  for (const candidate of candidates) {
    try {
      return await digitsAt(candidate);
    } catch (e) {
      failures.push((e as Error).message.replace(/^loadMnist: /, ''));
    }
  }
  if (!base) throw new WaypointError(`loadMnist: ${failures[0]}`);
  throw new WaypointError(`loadMnist: the MNIST file is not where the package put it, nor beside the page (${failures.join('; ')}): a bundler did not copy it. `
    + `Copy node_modules/waypoint/dist/data/mnist/digits.idx.gz beside the page (Vite: into public/; esbuild: into the output directory), or pass { url }`);
}

export async function loadMnist(options: MnistOptions = {}): Promise<MnistData> {
  const perDigit = options.trainPerDigit ?? 800;
  const order = options.order ?? 'shuffled';
  if (order !== 'shuffled' && order !== 'byDigit') throw new WaypointError(`loadMnist: order must be 'shuffled' or 'byDigit', got ${JSON.stringify(order)}`);
  const all = await defaultDigits(options.url);
  const pick = (from: (count: number) => [number, number]) => {
    const ranges = all.map((data) => from(data.length / PIXELS));
    const n = ranges.reduce((s, [a, b]) => s + b - a, 0);
    const x = new Float32Array(n * PIXELS), y = new Float32Array(n * 10);
    const rows = Array.from({ length: n }, (_, i) => i);
    if (order === 'shuffled') new Random(ORDER_SEED + n).shuffle(rows);
    let next = 0;
    all.forEach((data, d) => {
      const [a, b] = ranges[d];
      for (let i = a; i < b; i++) {
        const row = rows[next++];
        for (let p = 0; p < PIXELS; p++) x[row * PIXELS + p] = data[i * PIXELS + p] / 255;
        y[row * 10 + d] = 1;
      }
    });
    const xShape = options.shape === 'image' ? [n, 28, 28, 1] : [n, PIXELS];
    return [new Tensor(x, xShape), new Tensor(y, [n, 10])] as const;
  };
  const [xTrain, yTrain] = pick((count) => [0, Math.min(perDigit, count)]);
  const [xTest, yTest] = pick((count) => [Math.min(perDigit, count), count]);
  return { xTrain, yTrain, xTest, yTest };
}
