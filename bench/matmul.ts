/**
 * CPU matmul and conv2d (forward + both gradients) against a naive loop and TensorFlow.js's
 * cpu and wasm backends, measured in the same run; the matmul also beside PyTorch on one
 * thread (when .venv-ref has torch): the ceiling its BLAS reaches on this CPU.
 * `npm run bench -- matmul [--quick]`
 */
import { matmul, jsEngine, defaultGemm } from '../kernels/cpu/matmul.js';
import { Random, conv2d, tensor, sum, mul } from '../src/node/index.js';
import { cpuBackend } from '../src/backend/cpu.js';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadTf, table, timeMedian, type Tf } from './common.js';

const PYTHON = '.venv-ref/bin/python';

/** PyTorch's n×n×n matmul on one thread, GFLOP/s per size (median of 5 after warm-up); NaN without torch. */
function torchGflops(ns: number[]): number[] {
  if (!existsSync(PYTHON)) return ns.map(() => NaN);
  const script = `
import json, statistics, sys, time, torch
torch.set_num_threads(1)
out = []
for n in json.loads(sys.argv[1]):
    a, b = torch.rand(n, n), torch.rand(n, n)
    for _ in range(3): a @ b
    t = []
    for _ in range(5):
        s = time.perf_counter(); a @ b; t.append(time.perf_counter() - s)
    out.append(2 * n ** 3 / statistics.median(t) / 1e9)
print(json.dumps(out))
`;
  const r = spawnSync(PYTHON, ['-c', script, JSON.stringify(ns)], { encoding: 'utf8' });
  return r.status === 0 ? (JSON.parse(r.stdout) as number[]) : ns.map(() => NaN);
}

const quick = process.argv.includes('--quick');
const sizes = quick ? [128, 256] : [128, 256, 512, 1024];

function naiveIkj(a: Float32Array, b: Float32Array, n: number): Float32Array {
  const c = new Float32Array(n * n);
  for (let i = 0; i < n; i++)
    for (let k = 0; k < n; k++) {
      const av = a[i * n + k];
      for (let j = 0; j < n; j++) c[i * n + j] += av * b[k * n + j];
    }
  return c;
}

const rng = new Random(1);
const randArray = (n: number) => rng.fillUniform(new Float32Array(n), -1, 1);

async function tfMatmulMs(tf: Tf, a: Float32Array, b: Float32Array, n: number): Promise<number> {
  const ta = tf.tensor2d(a, [n, n]),
    tb = tf.tensor2d(b, [n, n]);
  const ms = await timeMedian(() => {
    const c = tf.matMul(ta, tb);
    c.dataSync();
    c.dispose();
  });
  tf.dispose([ta, tb]);
  return ms;
}

async function matmulTable(): Promise<void> {
  const inputs = sizes.map((n) => ({ n, a: randArray(n * n), b: randArray(n * n) }));
  const gflops = (n: number, ms: number) => (2 * n ** 3) / ms / 1e6;
  // tfjs backends register globally: measure wasm first, then switch to cpu once.
  const peers: Record<'wasm' | 'cpu', number[]> = { wasm: [], cpu: [] };
  for (const backend of ['wasm', 'cpu'] as const) {
    const tf = await loadTf(backend);
    for (const { n, a, b } of inputs)
      peers[backend].push(typeof tf === 'string' ? NaN : gflops(n, await tfMatmulMs(tf, a, b, n)));
    if (typeof tf === 'string') console.log(tf);
  }
  const js = jsEngine();
  const torch = torchGflops(sizes);
  const rows: Array<Array<string | number>> = [];
  for (const [i, { n, a, b }] of inputs.entries()) {
    const ours = gflops(n, await timeMedian(() => matmul(a, b, n, n, n)));
    const portable = gflops(n, await timeMedian(() => matmul(a, b, n, n, n, false, false, undefined, js)));
    const naive = gflops(n, await timeMedian(() => naiveIkj(a, b, n), { warmup: 1, runs: 5 }));
    const { cpu, wasm } = { cpu: peers.cpu[i], wasm: peers.wasm[i] };
    rows.push([n, ours, portable, naive, cpu, wasm, torch[i], ours / naive, ours / cpu, ours / wasm, ours / torch[i]]);
  }
  console.log(
    `\nmatmul n×n×n, GFLOP/s (median of 5 after warm-up); waypoint kernel: ${defaultGemm.name}, portable: js`,
  );
  console.log(
    table(
      [
        'n',
        'waypoint',
        'wp portable',
        'naive ikj',
        'tfjs cpu',
        'tfjs wasm',
        'torch 1 thread',
        '× naive',
        '× tfjs cpu',
        '× tfjs wasm',
        '× torch',
      ],
      rows,
    ),
  );
}

const convShapes: Array<{ x: [number, number, number, number]; filters: number }> = [
  { x: [32, 28, 28, 1], filters: 16 },
  { x: [32, 14, 14, 16], filters: 32 },
];

/**
 * Two measurements per shape: the three kernels alone (forward, input gradient, filter
 * gradient for a given upstream gradient) and a whole autograd step with loss Σy², which is
 * what tfjs's `tf.grads` runs.
 */
async function convTable(): Promise<void> {
  const tf = await loadTf('cpu');
  const rows: Array<Array<string | number>> = [];
  for (const { x: xs, filters } of convShapes) {
    const xData = randArray(xs.reduce((p, d) => p * d)),
      fData = randArray(3 * 3 * xs[3] * filters);
    const x = tensor(xData, xs, true),
      f = tensor(fData, [3, 3, xs[3], filters], true);
    const info = {
      batch: xs[0],
      inH: xs[1],
      inW: xs[2],
      channels: xs[3],
      kH: 3,
      kW: 3,
      strideH: 1,
      strideW: 1,
      padTop: 1,
      padLeft: 1,
      outH: xs[1],
      outW: xs[2],
      outC: filters,
    };
    const dy = randArray(xs[0] * xs[1] * xs[2] * filters);
    const kernels = await timeMedian(() => {
      cpuBackend.conv2d(xData, fData, info);
      cpuBackend.conv2dBackpropInput(dy, fData, info);
      cpuBackend.conv2dBackpropFilter(xData, dy, info);
    });
    const step = await timeMedian(() => {
      x.zeroGrad();
      f.zeroGrad();
      const y = conv2d(x, f, { padding: 'same' });
      sum(mul(y, y)).backward();
    });
    let theirs = NaN;
    if (typeof tf !== 'string') {
      const tx = tf.tensor4d(xData, xs),
        tfl = tf.tensor4d(fData, [3, 3, xs[3], filters]);
      const grads = tf.grads((a, b) =>
        tf
          .conv2d(a as Parameters<Tf['conv2d']>[0], b as Parameters<Tf['conv2d']>[1], 1, 'same')
          .square()
          .sum(),
      );
      // No tf.tidy around timed work: inside tidy, tfjs-wasm's matMul runs many times slower.
      theirs = await timeMedian(
        () =>
          grads([tx, tfl]).forEach((g) => {
            g.dataSync();
            g.dispose();
          }),
        { warmup: 1, runs: 5 },
      );
      tf.dispose([tx, tfl]);
    }
    rows.push([`[${xs.join(',')}]→${filters}`, kernels, step, theirs, theirs / kernels, theirs / step]);
  }
  console.log('\nconv2d 3×3 same: forward + input and filter gradients, ms (median of 5)');
  console.log(table(['shape', 'wp kernels', 'wp autograd step', 'tfjs cpu step', '× (kernels)', '× (step)'], rows));
  console.log('tfjs wasm: not measured, it has no conv2d filter gradient kernel');
}

export async function run(): Promise<void> {
  // V8 first runs WebAssembly through its baseline compiler and tiers hot code up later:
  // warm the kernel so the first table row is not measuring Liftoff code.
  const w = randArray(256 * 256);
  for (let i = 0; i < 30; i++) matmul(w, w, 256, 256, 256);
  await matmulTable();
  await convTable();
}
