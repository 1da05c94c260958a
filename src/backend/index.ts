import { ArgumentError, WaypointError } from '../errors.js';
import type { Conv2dInfo } from '../../kernels/types.js';
import { type Backend, type BackendInfo, type CompleteBackend, DEFAULTED_KERNELS } from './backend.js';
import { cpuBackend, cpuDetail } from './cpu.js';
import { GpuBackend, GpuUnavailableError, type GpuModeRequest, importGpuJs } from './gpu.js';
import { platform } from '../platform.js';
import { runningThreads, threadDetail } from './threads.js';

export { configureThreads, startThreads, MIN_MULTIPLY_ADDS } from './threads.js';
export type { ThreadOptions } from './threads.js';

export type { Backend, BackendInfo, BackendName, CompleteBackend } from './backend.js';
export { GpuBackend, GpuUnavailableError } from './gpu.js';
export type { GpuMode, GpuModeRequest } from './gpu.js';

export type BackendChoice = 'cpu' | 'gpu' | 'auto';

/** The requested backend cannot run here; the message says why. */
export class BackendError extends WaypointError {}

/**
 * Below this many multiply-adds an op stays on the CPU under 'auto': uploading, launching and
 * reading back costs more than the arithmetic. bench/kernels.ts prints the crossover it
 * measures on the machine it runs on.
 */
export const AUTO_MIN_MULTIPLY_ADDS = 1 << 24;

/** 'auto' on a real GPU: each heavy op goes where it is faster for its size. */
class AutoBackend implements Backend {
  readonly name = 'gpu' as const;
  constructor(private readonly gpu: GpuBackend) {}
  private pick(multiplyAdds: number): Backend {
    return multiplyAdds >= AUTO_MIN_MULTIPLY_ADDS ? this.gpu : cpuBackend;
  }
  matmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number, ta: boolean, tb: boolean) {
    return this.pick(m * k * n).matmul(a, b, m, k, n, ta, tb);
  }
  private convWork = (w: Conv2dInfo) => w.batch * w.outH * w.outW * w.kH * w.kW * w.channels * w.outC;
  conv2d(x: Float32Array, f: Float32Array, w: Conv2dInfo) {
    return this.pick(this.convWork(w)).conv2d(x, f, w);
  }
  conv2dBackpropInput(dy: Float32Array, f: Float32Array, w: Conv2dInfo) {
    return this.pick(this.convWork(w)).conv2dBackpropInput(dy, f, w);
  }
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, w: Conv2dInfo) {
    return this.pick(this.convWork(w)).conv2dBackpropFilter(x, dy, w);
  }
}

let active: CompleteBackend | null = null;

/** `b` with the cpu's kernel for each defaulted kernel it does not implement (done once, at selection). */
export function withCpuDefaults(b: Backend): CompleteBackend {
  const missing = DEFAULTED_KERNELS.filter((k) => b[k] === undefined);
  if (missing.length === 0) return b as CompleteBackend;
  const complete = Object.create(b) as Record<string, unknown>;
  for (const k of missing) complete[k] = cpuBackend[k];
  return complete as unknown as CompleteBackend;
}
let info: Omit<BackendInfo, 'threads'> | null = null;

export interface SetBackendOptions {
  /** With 'gpu': the gpu.js mode to insist on (default: the best gpu.js finds). */
  gpujsMode?: GpuModeRequest;
}

/**
 * Chooses where the heavy kernels run. 'gpu' runs them through gpu.js in the best mode it
 * finds (or the one asked for) and fails with the reason when it cannot; 'auto' uses the GPU
 * only where gpu.js drives real graphics hardware, and then only for ops big enough to win.
 */
export function setBackend(choice: BackendChoice, options: SetBackendOptions = {}): BackendInfo {
  if (choice !== 'cpu' && choice !== 'gpu' && choice !== 'auto') {
    throw new ArgumentError(`setBackend: unknown backend '${String(choice)}' (expected 'cpu', 'gpu' or 'auto')`);
  }
  if (choice === 'cpu') return use(cpuBackend, { name: 'cpu', detail: cpuDetail() });
  let gpu: GpuBackend | null = null;
  let reason = '';
  try {
    gpu = GpuBackend.create(options.gpujsMode ?? 'gpu');
  } catch (e) {
    if (!(e instanceof GpuUnavailableError)) throw e;
    if (choice === 'gpu') throw new BackendError(`setBackend('gpu'): ${e.message}`);
    reason = e.message;
  }
  if (choice === 'gpu') return use(gpu!, { name: 'gpu', gpujsMode: gpu!.mode, detail: gpu!.describe() });
  if (gpu?.onRealGpu) {
    return use(new AutoBackend(gpu), {
      name: 'gpu',
      gpujsMode: gpu.mode,
      detail: `${gpu.describe()}; ops under ${AUTO_MIN_MULTIPLY_ADDS} multiply-adds run on the cpu`,
    });
  }
  const why = gpu
    ? `gpu.js found no GPU hardware (its best mode here is '${gpu.mode}'${gpu.renderer ? ` on ${gpu.renderer}` : ''})`
    : reason;
  return use(cpuBackend, { name: 'cpu', detail: `${cpuDetail()} (auto: ${why})` });
}

function use(backend: Backend, i: Omit<BackendInfo, 'threads'>): BackendInfo {
  active = withCpuDefaults(backend);
  info = i;
  return { ...i, threads: runningThreads() };
}

/** What runs now (choosing from WAYPOINT_BACKEND, default 'auto', on first use). */
export function getBackend(): BackendInfo {
  if (info === null) setBackend(initialChoice());
  // The cpu's threads start in the background: said as they are now.
  return {
    ...info!,
    detail: info!.name === 'cpu' ? `${info!.detail}; ${threadDetail()}` : info!.detail,
    threads: runningThreads(),
  };
}

/** The backend ops dispatch to, every kernel filled in. */
export function backend(): CompleteBackend {
  if (active === null) setBackend(initialChoice());
  return active!;
}

function initialChoice(): BackendChoice {
  return (platform().env('WAYPOINT_BACKEND') as BackendChoice | undefined) ?? 'auto';
}

/**
 * setBackend after loading what it needs: in a page, gpu.js comes through a dynamic import
 * (with `waypoint/gpu` imported), which setBackend, being synchronous, cannot wait for. In
 * Node the same as setBackend. Default: WAYPOINT_BACKEND, else 'auto'.
 */
export async function initBackend(
  choice: BackendChoice = initialChoice(),
  options: SetBackendOptions = {},
): Promise<BackendInfo> {
  if (choice !== 'cpu') await importGpuJs();
  return setBackend(choice, options);
}
