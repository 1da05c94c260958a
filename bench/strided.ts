/**
 * The strided walk that transposes, broadcasts and un-broadcasts share (`forEachRow`: a
 * callback per row of the last dim) beside the per-element odometer each of them kept
 * before, written out here as the baseline; same run, alternating, medians.
 * `npm run bench -- strided [--quick]`
 */
import { Random } from '../src/node/index.js';
import { broadcastStrides, forEachRow, stridesOf, sizeOf } from '../src/tensor/shape.js';
import { median, table, timeMedian } from './common.js';

const quick = process.argv.includes('--quick');

/** The per-element odometer: out[i] = data[offset of i], offsets stepping by `steps`. */
function gatherPerElement(data: Float32Array, shape: number[], steps: number[], out: Float32Array): void {
  const rank = shape.length;
  const index = new Array<number>(rank).fill(0);
  let src = 0;
  for (let i = 0; i < out.length; i++) {
    out[i] = data[src];
    for (let d = rank - 1; d >= 0; d--) {
      index[d]++;
      src += steps[d];
      if (index[d] < shape[d]) break;
      src -= steps[d] * shape[d];
      index[d] = 0;
    }
  }
}

function scatterAddPerElement(grad: Float32Array, shape: number[], steps: number[], out: Float32Array): void {
  const rank = shape.length;
  const index = new Array<number>(rank).fill(0);
  let target = 0;
  for (let i = 0; i < grad.length; i++) {
    out[target] += grad[i];
    for (let d = rank - 1; d >= 0; d--) {
      index[d]++;
      target += steps[d];
      if (index[d] < shape[d]) break;
      target -= steps[d] * shape[d];
      index[d] = 0;
    }
  }
}

const gatherRows = (data: Float32Array, shape: number[], steps: number[], out: Float32Array) =>
  forEachRow(shape, steps, (i, at, n, step) => {
    for (let j = 0; j < n; j++) out[i + j] = data[at + j * step];
  });
const scatterAddRows = (grad: Float32Array, shape: number[], steps: number[], out: Float32Array) =>
  forEachRow(shape, steps, (i, at, n, step) => {
    for (let j = 0; j < n; j++) out[at + j * step] += grad[i + j];
  });

interface Case {
  name: string;
  shape: number[];
  steps: number[];
  inputSize: number;
  scatter: boolean;
}

function transposeCase(name: string, shape: number[], perm: number[]): Case {
  const strides = stridesOf(shape);
  return {
    name,
    shape: perm.map((d) => shape[d]),
    steps: perm.map((d) => strides[d]),
    inputSize: sizeOf(shape),
    scatter: false,
  };
}
function broadcastCase(name: string, from: number[], to: number[], scatter: boolean): Case {
  return { name, shape: to, steps: broadcastStrides(from, to), inputSize: sizeOf(from), scatter };
}

export async function run(): Promise<void> {
  const cases: Case[] = [
    transposeCase('transpose [64,128,128] (0,2,1)', [64, 128, 128], [0, 2, 1]),
    transposeCase('transpose NHWC→NCHW [32,28,28,16]', [32, 28, 28, 16], [0, 3, 1, 2]),
    transposeCase('transpose [512,512] (1,0)', [512, 512], [1, 0]),
    broadcastCase('broadcast [64,1,256] → [64,64,256]', [64, 1, 256], [64, 64, 256], false),
    broadcastCase('broadcast [32,1,1,16] → [32,28,28,16]', [32, 1, 1, 16], [32, 28, 28, 16], false),
    broadcastCase('un-broadcast [64,64,256] → [64,1,256]', [64, 1, 256], [64, 64, 256], true),
    broadcastCase('un-broadcast [32,28,28,16] → [1,28,28,1]', [1, 28, 28, 1], [32, 28, 28, 16], true),
  ];
  const rng = new Random(1);
  const rows: Array<Array<string | number>> = [];
  for (const c of cases) {
    const outSize = sizeOf(c.shape);
    const input = rng.fillUniform(new Float32Array(c.scatter ? outSize : c.inputSize), -1, 1);
    const out = new Float32Array(c.scatter ? c.inputSize : outSize);
    const [old, rowWise] = c.scatter
      ? [() => scatterAddPerElement(input, c.shape, c.steps, out), () => scatterAddRows(input, c.shape, c.steps, out)]
      : [() => gatherPerElement(input, c.shape, c.steps, out), () => gatherRows(input, c.shape, c.steps, out)];
    const oldMs: number[] = [],
      newMs: number[] = [];
    for (let round = 0; round < (quick ? 3 : 7); round++) {
      oldMs.push(await timeMedian(old, { warmup: 1, runs: 3 }));
      newMs.push(await timeMedian(rowWise, { warmup: 1, runs: 3 }));
    }
    rows.push([c.name, median(oldMs), median(newMs), median(oldMs) / median(newMs)]);
  }
  console.log(table(['walk', 'per element ms', 'per row ms', 'speedup'], rows));
}
