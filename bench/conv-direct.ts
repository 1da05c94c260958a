/**
 * `npm run bench -- conv-direct`: the direct SIMD convolutions (kernels/cpu/conv-direct.ts)
 * against im2col + the packed matmul, one thread each, on batch-32 layers of small models:
 * forward, input gradient and filter gradient, medians of 7 after 2 warm-ups, alternating.
 * Where direct wins sets directConvApplies's rule; the rule is fixed in
 * code, never picked at run time, so every process computes the same bits.
 */
import { conv2d, conv2dBackpropFilter, conv2dBackpropInput } from '../kernels/cpu/conv2d.js';
import { conv2dBackpropFilterDirect, conv2dBackpropInputDirect, conv2dDirect } from '../kernels/cpu/conv-direct.js';
import type { Conv2dInfo } from '../kernels/types.js';
import { Random, configureThreads, startThreads } from '../src/node/index.js';
import { parallelConvFilterGrad, parallelConvForward, parallelConvInputGrad } from '../src/backend/conv-threads.js';
import { median, table } from './common.js';

type Pass = 'forward' | 'input grad' | 'filter grad';

function timeBoth(direct: () => unknown, im2col: () => unknown): [number, number] {
  const d: number[] = [],
    m: number[] = [];
  for (let i = 0; i < 9; i++) {
    const order: Array<[() => unknown, number[]]> =
      i % 2
        ? [
            [direct, d],
            [im2col, m],
          ]
        : [
            [im2col, m],
            [direct, d],
          ];
    for (const [f, into] of order) {
      const t = performance.now();
      f();
      if (i >= 2) into.push(performance.now() - t);
    }
  }
  return [median(d), median(m)];
}

export async function run(): Promise<void> {
  const rng = new Random(1);
  const layers: Array<[number, number, number]> = [];
  for (const h of [28, 14])
    for (const c of [1, 3, 8, 16, 32]) for (const outC of [8, 16, 32, 64]) layers.push([h, c, outC]);
  const rows: Array<Array<string | number>> = [];
  for (const [h, c, outC] of layers) {
    const w: Conv2dInfo = {
      batch: 32,
      inH: h,
      inW: h,
      channels: c,
      kH: 3,
      kW: 3,
      strideH: 1,
      strideW: 1,
      padTop: 0,
      padLeft: 0,
      outH: h - 2,
      outW: h - 2,
      outC,
    };
    const x = rng.fillUniform(new Float32Array(32 * h * h * c), -1, 1),
      f = rng.fillUniform(new Float32Array(9 * c * outC), -1, 1);
    const dy = rng.fillUniform(new Float32Array(32 * (h - 2) * (h - 2) * outC), -1, 1);
    const passes: Array<[Pass, () => unknown, () => unknown]> = [
      ['forward', () => conv2dDirect(x, f, null, false, w), () => conv2d(x, f, w)],
      ['input grad', () => conv2dBackpropInputDirect(dy, f, w), () => conv2dBackpropInput(dy, f, w)],
      ['filter grad', () => conv2dBackpropFilterDirect(x, dy, w), () => conv2dBackpropFilter(x, dy, w)],
    ];
    for (const [pass, direct, im2col] of passes) {
      // Null: outside directConvApplies, so the backend runs im2col.
      if (direct() === null) {
        rows.push([`${h}×${h}×${c} → ${outC}`, pass, 'n/a', im2colOnly(im2col), '']);
        continue;
      }
      const [d, m] = timeBoth(direct, im2col);
      rows.push([`${h}×${h}×${c} → ${outC}`, pass, d, m, `${(m / d).toFixed(2)}×`]);
    }
  }
  console.log(
    '\nconvolution 3×3, batch 32, stride 1, one thread: ms per call, medians of 7 (direct and im2col alternating)',
  );
  console.log(table(['layer (H×W×C → outC)', 'pass', 'direct ms', 'im2col ms', 'im2col ÷ direct'], rows));
  console.log('n/a: the direct kernels need outC (forward, filter grad) or C (input grad) in fours, at most 16.');
  await threadSplit(rng);
}

/**
 * The direct kernels with the batch split over every thread against one thread, forced past
 * MIN_CONV_MULTIPLY_ADDS: where the split starts to pay. Threads stay started throughout (a
 * restart recompiles their kernels); one thread is the same code with no helper asked.
 */
async function threadSplit(rng: Random): Promise<void> {
  const threads = await startThreads();
  if (threads < 2) {
    console.log(`\nthread split: skipped, ${threads} thread running`);
    return;
  }
  const rows: Array<Array<string | number>> = [];
  for (const [batch, h, c, outC] of [
    [32, 28, 1, 8],
    [32, 13, 8, 16],
    [32, 28, 8, 16],
    [32, 28, 16, 16],
    [128, 28, 16, 16],
  ]) {
    const w: Conv2dInfo = {
      batch,
      inH: h,
      inW: h,
      channels: c,
      kH: 3,
      kW: 3,
      strideH: 1,
      strideW: 1,
      padTop: 0,
      padLeft: 0,
      outH: h - 2,
      outW: h - 2,
      outC,
    };
    const x = rng.fillUniform(new Float32Array(batch * h * h * c), -1, 1),
      f = rng.fillUniform(new Float32Array(9 * c * outC), -1, 1);
    const dy = rng.fillUniform(new Float32Array(batch * (h - 2) * (h - 2) * outC), -1, 1);
    const multiplyAdds = batch * (h - 2) * (h - 2) * 9 * c * outC;
    const passes: Array<[Pass, (min: number) => unknown]> = [
      ['forward', (min) => parallelConvForward(x, f, null, false, w, min)],
      ['input grad', (min) => parallelConvInputGrad(dy, f, w, min)],
      ['filter grad', (min) => parallelConvFilterGrad(x, dy, w, min)],
    ];
    for (const [pass, run] of passes) {
      if (pass === 'input grad' && c % 4 !== 0) continue;
      const [split, one] = timeBoth(
        () => run(0),
        () => run(Infinity),
      );
      rows.push([
        `${batch}×${h}×${h}×${c} → ${outC}`,
        pass,
        (multiplyAdds / 1e6).toFixed(1),
        one,
        split,
        `${(one / split).toFixed(2)}×`,
      ]);
    }
  }
  configureThreads({ threads });
  console.log(
    `\ndirect convolutions, the batch split over ${threads} threads against 1: ms per call, medians of 7 (alternating)`,
  );
  console.log(table(['layer', 'pass', 'M multiply-adds', '1 thread ms', `${threads} threads ms`, 'speed-up'], rows));
}

function im2colOnly(f: () => unknown): number {
  const t: number[] = [];
  for (let i = 0; i < 7; i++) {
    const s = performance.now();
    f();
    t.push(performance.now() - s);
  }
  return median(t);
}
