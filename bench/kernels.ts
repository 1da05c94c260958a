/**
 * Every heavy kernel in every available gpu.js mode beside the cpu kernels, same run, medians:
 * ms and GFLOP/s, and the crossover size 'auto' would use on this machine.
 * `npm run bench -- kernels [--quick]` (run under xvfb-run to include headlessgl)
 */
import { GpuBackend, GpuUnavailableError, Random, AUTO_MIN_MULTIPLY_ADDS, type GpuMode } from '../src/node/index.js';
import type { GpuJs } from '../src/backend/gpu.js';
import { cpuBackend } from '../src/backend/cpu.js';
import type { Backend } from '../src/backend/index.js';
import type { Conv2dInfo } from '../kernels/types.js';
import { table, timeMedian } from './common.js';
import { createRequire } from 'node:module';
import { matmulKernel } from '../kernels/gpu/kernels.js';

const quick = process.argv.includes('--quick');
const rng = new Random(3);
const rand = (n: number) => rng.fillUniform(new Float32Array(n), -1, 1);

interface Case {
  name: string;
  multiplyAdds: number;
  run: (b: Backend) => unknown;
}

function cases(): Case[] {
  const out: Case[] = [];
  for (const n of quick ? [64, 256] : [64, 128, 256, 512, 1024]) {
    const a = rand(n * n),
      b = rand(n * n);
    out.push({ name: `matmul ${n}`, multiplyAdds: n ** 3, run: (be) => be.matmul(a, b, n, n, n, false, false) });
  }
  const convs: Array<[number[], number]> = [
    [[32, 28, 28, 1], 16],
    [[32, 14, 14, 16], 32],
  ];
  for (const [[batch, h, w, c], oc] of convs) {
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
    const x = rand(batch * h * w * c),
      f = rand(9 * c * oc),
      dy = rand(batch * h * w * oc);
    const work = batch * h * w * 9 * c * oc;
    const shape = `[${batch},${h},${w},${c}]→${oc}`;
    out.push({ name: `conv2d fwd ${shape}`, multiplyAdds: work, run: (be) => be.conv2d(x, f, info) });
    out.push({
      name: `conv2d input grad ${shape}`,
      multiplyAdds: work,
      run: (be) => be.conv2dBackpropInput(dy, f, info),
    });
    out.push({
      name: `conv2d filter grad ${shape}`,
      multiplyAdds: work,
      run: (be) => be.conv2dBackpropFilter(x, dy, info),
    });
  }
  return out;
}

export async function run(): Promise<void> {
  const backends: Array<[string, Backend, boolean]> = [['cpu kernels', cpuBackend, false]];
  for (const mode of ['cpu', 'webasm', 'headlessgl', 'gpu'] as Array<GpuMode | 'gpu'>) {
    try {
      const g = GpuBackend.create(mode);
      if (mode === 'gpu' && backends.some(([n]) => n.startsWith(`gpu.js ${g.mode}`))) continue; // 'gpu' picked a mode already listed
      backends.push([`gpu.js ${g.mode}${g.renderer ? ` (${g.renderer})` : ''}`, g, g.onRealGpu]);
    } catch (e) {
      if (!(e instanceof GpuUnavailableError)) throw e;
      console.log(`gpu.js ${mode}: unavailable (${e.message})`);
    }
  }
  const rows: Array<Array<string | number>> = [];
  let crossover: number | null = null;
  for (const c of cases()) {
    const times: number[] = [];
    for (const [, be] of backends) times.push(await timeMedian(() => c.run(be), { warmup: 1, runs: quick ? 3 : 5 }));
    rows.push([c.name, ...times.flatMap((ms) => [ms, (2 * c.multiplyAdds) / ms / 1e6])]);
    backends.forEach(([, , real], i) => {
      if (real && times[i] < times[0] && (crossover === null || c.multiplyAdds < crossover)) crossover = c.multiplyAdds;
    });
  }
  console.log('\nms and GFLOP/s per kernel (median), every backend in the same run');
  console.log(table(['kernel', ...backends.flatMap(([n]) => [`${n} ms`, 'GFLOP/s'])], rows));
  console.log(
    crossover === null
      ? `\nno real-GPU mode beat the cpu kernels here: 'auto' keeps every op on the cpu (its threshold, ${AUTO_MIN_MULTIPLY_ADDS} multiply-adds, applies only on GPU hardware)`
      : `\ncrossover on this machine: the GPU wins from ${crossover} multiply-adds; 'auto' uses ${AUTO_MIN_MULTIPLY_ADDS}`,
  );
  await pipelineComparison();
}

/**
 * Two matmuls in a row, (A·B)·C, on a GL mode: reading the intermediate back to the CPU and
 * uploading it again, against gpu.js pipeline mode (the intermediate stays a texture on the
 * device). Waypoint's tensors hold Float32Arrays (the backend owns every GPU resource), so
 * ops read back today; this measures what keeping intermediates on the device would save.
 */
async function pipelineComparison(): Promise<void> {
  let lib: GpuJs | null = null;
  try {
    lib = createRequire(import.meta.url)('gpu.js') as GpuJs;
  } catch {
    /* reported below */
  }
  if (lib === null || !lib.GPU.isHeadlessGLSupported) {
    console.log('\npipeline vs read-back: needs a GL mode (headlessgl under xvfb-run, or a browser)');
    return;
  }
  const gpu = new lib.GPU({ mode: 'headlessgl' });
  const rows: Array<Array<string | number>> = [];
  for (const n of quick ? [128] : [128, 256, 512]) {
    const settings = (pipeline: boolean) => ({
      output: [n * n],
      constants: { M: n, K: n, N: n, transA: 0, transB: 0 },
      precision: 'single' as const,
      pipeline,
    });
    const first = gpu.createKernel(matmulKernel as never, settings(false));
    const second = gpu.createKernel(matmulKernel as never, settings(false));
    const firstOnDevice = gpu.createKernel(matmulKernel as never, settings(true));
    const a = rand(n * n),
      b = rand(n * n),
      c = rand(n * n);
    const readBack = await timeMedian(() => second(first(a, b) as Float32Array, c), { warmup: 1, runs: 5 });
    const onDevice = await timeMedian(() => second(firstOnDevice(a, b) as never, c), { warmup: 1, runs: 5 });
    rows.push([n, readBack, onDevice, readBack / onDevice]);
  }
  gpu.destroy();
  console.log('\n(A·B)·C on gpu.js headlessgl: intermediate read back vs kept on the device (pipeline mode), ms');
  console.log(table(['n', 'read back', 'pipeline', 'ratio'], rows));
}
