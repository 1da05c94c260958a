/**
 * The gpu.js kernels on a real GPU through WebGPU (Dawn's Node binding, the `webgpu` package
 * that gpu.js depends on), beside the cpu kernels on the same inputs: the largest difference
 * and median times, upload and readback included. WebGPU kernels return promises, so the
 * synchronous gpu backend does not run this mode; this checks that the same kernel sources
 * compile to WGSL and compute the same numbers on the hardware, and how fast.
 * `npm run bench -- webgpu-device [--quick]` prints why WebGPU is unavailable where it is (no
 * adapter, or a Dawn build that needs a newer libstdc++, as on Debian 12).
 */
import { createRequire } from 'node:module';
import {
  conv2dFilterGradKernel,
  conv2dForwardKernel,
  conv2dInputGradKernel,
  matmulKernel,
} from '../kernels/gpu/kernels.js';
import { matmul } from '../kernels/cpu/matmul.js';
import { conv2d, conv2dBackpropFilter, conv2dBackpropInput } from '../kernels/cpu/conv2d.js';
import type { Conv2dInfo } from '../kernels/types.js';
import { Random } from '../src/tensor/random.js';

/** What the check needs of gpu.js in webgpu mode: kernels whose calls resolve to their output. */
interface AsyncGpu {
  createKernel(fn: unknown, settings: Record<string, unknown>): (...args: Float32Array[]) => Promise<ArrayLike<number>>;
}

interface Case {
  name: string;
  multiplyAdds: number;
  kernel: unknown;
  size: number;
  constants: Record<string, number>;
  inputs: Float32Array[];
  cpu: () => Float32Array;
}

const quick = process.argv.includes('--quick');
const RUNS = quick ? 3 : 7;
const rng = new Random(7);
const rand = (n: number) => rng.fillUniform(new Float32Array(n), -1, 1);

/** Installs navigator.gpu from Dawn; returns the adapter's description, or why there is none. */
async function webGpu(): Promise<{ adapter: string } | { unavailable: string }> {
  let dawn: { create(flags: string[]): unknown; globals: Record<string, unknown> };
  try {
    const optional = 'webgpu'; // not a dependency: installed by hand where the check runs
    dawn = (await import(optional)) as typeof dawn;
  } catch (e) {
    return { unavailable: `the webgpu package (Dawn) did not load: ${(e as Error).message.split('\n')[0]}` };
  }
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create([]) as { requestAdapter(): Promise<DawnAdapter | null> };
  const requestAdapter = gpu.requestAdapter.bind(gpu);
  Object.defineProperty(gpu, 'requestAdapter', { value: async () => tolerateErrorHandler(await requestAdapter()) });
  Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true });
  const adapter = await gpu.requestAdapter();
  if (!adapter) return { unavailable: 'Dawn found no WebGPU adapter' };
  const info = adapter.info ?? {};
  return {
    adapter:
      [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ') || 'unnamed adapter',
  };
}

interface DawnAdapter {
  info?: Record<string, string>;
  requestDevice(descriptor?: unknown): Promise<object>;
}

/**
 * gpu.js assigns a function to `device.onuncapturederror`, which Dawn's Node binding refuses
 * ("invalid value to onuncapturederror": every kernel failed on an H100). Its devices get an
 * own property there that takes the handler and drops it; Dawn still prints such errors.
 */
function tolerateErrorHandler(adapter: DawnAdapter | null): DawnAdapter | null {
  if (adapter === null) return null;
  const requestDevice = adapter.requestDevice.bind(adapter);
  Object.defineProperty(adapter, 'requestDevice', {
    value: async (descriptor?: unknown) => {
      const device = await requestDevice(descriptor);
      Object.defineProperty(device, 'onuncapturederror', { get: () => null, set: () => undefined, configurable: true });
      return device;
    },
  });
  return adapter;
}

function cases(): Case[] {
  const out: Case[] = [];
  for (const n of quick ? [256, 1024] : [128, 256, 512, 1024, 2048]) {
    const a = rand(n * n),
      b = rand(n * n);
    out.push({
      name: `matmul ${n}`,
      multiplyAdds: n ** 3,
      kernel: matmulKernel,
      size: n * n,
      constants: { M: n, K: n, N: n, transA: 0, transB: 0 },
      inputs: [a, b],
      cpu: () => matmul(a, b, n, n, n),
    });
  }
  const n = quick ? 256 : 1024;
  const a = rand(n * n),
    b = rand(n * n);
  out.push({
    name: `matmul ${n} Aᵀ·Bᵀ`,
    multiplyAdds: n ** 3,
    kernel: matmulKernel,
    size: n * n,
    constants: { M: n, K: n, N: n, transA: 1, transB: 1 },
    inputs: [a, b],
    cpu: () => matmul(a, b, n, n, n, true, true),
  });
  const convs: Array<[number[], number]> = [
    [[32, 28, 28, 1], 16],
    [[32, 14, 14, 16], 32],
    [[64, 14, 14, 32], 64],
  ];
  for (const [[batch, h, w, c], oc] of quick ? convs.slice(0, 2) : convs) {
    const info: Conv2dInfo = {
      batch,
      inH: h,
      inW: w,
      channels: c,
      kH: 3,
      kW: 3,
      strideH: 1,
      strideW: 1,
      padTop: 1,
      padLeft: 1,
      outH: h,
      outW: w,
      outC: oc,
    };
    const constants = { B: batch, H: h, W: w, C: c, KH: 3, KW: 3, SH: 1, SW: 1, PT: 1, PL: 1, OH: h, OW: w, OC: oc };
    const x = rand(batch * h * w * c),
      f = rand(9 * c * oc),
      dy = rand(batch * h * w * oc);
    const work = batch * h * w * 9 * c * oc;
    const shape = `[${batch},${h},${w},${c}]→${oc}`;
    out.push({
      name: `conv2d fwd ${shape}`,
      multiplyAdds: work,
      kernel: conv2dForwardKernel,
      size: batch * h * w * oc,
      constants,
      inputs: [x, f],
      cpu: () => conv2d(x, f, info),
    });
    out.push({
      name: `conv2d input grad ${shape}`,
      multiplyAdds: work,
      kernel: conv2dInputGradKernel,
      size: batch * h * w * c,
      constants,
      inputs: [dy, f],
      cpu: () => conv2dBackpropInput(dy, f, info),
    });
    out.push({
      name: `conv2d filter grad ${shape}`,
      multiplyAdds: work,
      kernel: conv2dFilterGradKernel,
      size: 9 * c * oc,
      constants,
      inputs: [x, dy],
      cpu: () => conv2dBackpropFilter(x, dy, info),
    });
  }
  return out;
}

/**
 * Medians and the table are done here rather than with bench/common.ts, whose helpers pull in
 * the CLI and the mnist package: a device run carries only this file's imports.
 */
async function medianMs(fn: () => unknown): Promise<number> {
  for (let i = 0; i < 2; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return times.sort((p, q) => p - q)[times.length >> 1];
}

/** Largest |gpu − cpu|, relative to the largest |cpu| value (float32 sums in another order differ in the last bits). */
function relativeDiff(gpu: ArrayLike<number>, cpu: Float32Array): number {
  if (gpu.length !== cpu.length) return Infinity;
  let diff = 0,
    scale = 0;
  for (let i = 0; i < cpu.length; i++) {
    diff = Math.max(diff, Math.abs(gpu[i] - cpu[i]));
    scale = Math.max(scale, Math.abs(cpu[i]));
  }
  return Number.isNaN(diff) ? Infinity : diff / (scale || 1);
}

export async function run(): Promise<void> {
  const found = await webGpu();
  if ('unavailable' in found) {
    console.log(`WebGPU unavailable here: ${found.unavailable}`);
    return;
  }
  console.log(`WebGPU adapter: ${found.adapter}`);
  const { GPU } = createRequire(import.meta.url)('gpu.js') as { GPU: new (settings: { mode: string }) => AsyncGpu };
  const gpu = new GPU({ mode: 'webgpu' });
  const rows: string[][] = [];
  let failures = 0;
  for (const c of cases()) {
    const kernel = gpu.createKernel(c.kernel, {
      output: [c.size],
      constants: c.constants,
      precision: 'single',
      tactic: 'precision',
      dynamicOutput: false,
    });
    const expected = c.cpu();
    let diff: number;
    try {
      diff = relativeDiff(await kernel(...c.inputs), expected);
    } catch (e) {
      rows.push([c.name, 'failed', (e as Error).message.split('\n')[0]]);
      // The first failure's stack says which WebGPU call refused what gpu.js passed.
      if (failures++ === 0) console.log((e as Error).stack?.split('\n').slice(0, 8).join('\n'));
      continue;
    }
    const cpuMs = await medianMs(c.cpu);
    const gpuMs = await medianMs(() => kernel(...c.inputs));
    const ok = diff < 1e-4;
    if (!ok) failures++;
    rows.push([
      c.name,
      cpuMs.toFixed(2),
      gpuMs.toFixed(2),
      (cpuMs / gpuMs).toFixed(1),
      ((2 * c.multiplyAdds) / gpuMs / 1e6).toFixed(1),
      diff.toExponential(1),
      ok ? 'ok' : 'WRONG',
    ]);
  }
  const header = ['kernel', 'cpu ms', 'webgpu ms', 'speed-up', 'webgpu GFLOP/s', 'max rel diff', 'check'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  for (const r of [header, ...rows])
    console.log(r.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : (v ?? '').padStart(widths[i]))).join('  '));
  console.log(
    `median of ${RUNS} after 2 warm-ups; webgpu times include upload and readback; ${failures === 0 ? 'every kernel matched the cpu kernels' : `${failures} kernel(s) FAILED`}`,
  );
  if (failures > 0) process.exitCode = 1;
}
