/**
 * The gpu backend: the kernels of kernels/gpu run through gpu.js, compiled once per
 * (kernel, shapes) and cached here. gpu.js (and its optional native `gl`) is loaded only when
 * this backend is asked for, so a machine where `gl` did not build still runs everything on
 * the cpu backend. Max pooling stays on the cpu kernels: it is memory-bound and never paid off.
 */
import { createRequire } from 'node:module';
import type { Conv2dInfo } from '../../kernels/types.js';
import { conv2dFilterGradKernel, conv2dForwardKernel, conv2dInputGradKernel, matmulKernel } from '../../kernels/gpu/kernels.js';
import { maxPool2d, maxPool2dBackward } from '../../kernels/cpu/pool.js';
import type { Backend } from './backend.js';
import { WaypointError } from '../errors.js';

export type GpuMode = 'headlessgl' | 'webgl2' | 'webgl' | 'webgpu' | 'webasm' | 'cpu';
/** What to ask gpu.js for: a specific mode, or 'gpu' for the best it has. */
export type GpuModeRequest = GpuMode | 'gpu';

type GpuJs = typeof import('gpu.js');
type GPUInstance = InstanceType<GpuJs['GPU']>;
type KernelFn = (this: never, ...args: never[]) => number;
/** gpu.js's run shortcut: callable, with the kernel it settled on (which may switch on first run). */
interface Runnable { (...args: Float32Array[]): unknown; kernel: { precision?: string; context?: WebGLRenderingContext | null; constructor: { mode?: string } } }

/** The gpu backend cannot run as asked; the message says why. */
export class GpuUnavailableError extends WaypointError {}

let gpuJs: GpuJs | string | null = null;

/** gpu.js, or the reason it cannot be loaded. */
export function loadGpuJs(): GpuJs | string {
  if (gpuJs === null) {
    try {
      gpuJs = createRequire(import.meta.url)('gpu.js') as GpuJs;
    } catch (e) {
      gpuJs = `gpu.js could not be loaded: ${(e as Error).message.split('\n')[0]}`;
    }
  }
  return gpuJs;
}

const SOFTWARE_RENDERERS = /llvmpipe|softpipe|swiftshader|software/i;
/** A renderer string must name graphics hardware: headless-gl's bare "ANGLE" may sit on Mesa's rasterizer. */
const HARDWARE_RENDERERS = /nvidia|geforce|quadro|tesla|rtx|radeon|amd|intel|apple|mali|adreno|powervr/i;

export class GpuBackend implements Backend {
  readonly name = 'gpu' as const;
  private readonly kernels = new Map<string, Runnable>();
  /** The mode gpu.js actually runs, known after the first kernel is built. */
  mode: string;
  renderer: string | null = null;

  private constructor(private readonly lib: GpuJs, private readonly gpu: GPUInstance, requested: GpuModeRequest) {
    this.mode = requested;
  }

  /** A backend on gpu.js in `mode`; throws GpuUnavailableError naming the reason when it cannot. */
  static create(mode: GpuModeRequest = 'gpu'): GpuBackend {
    const lib = loadGpuJs();
    if (typeof lib === 'string') throw new GpuUnavailableError(lib);
    if (mode === 'headlessgl' && !lib.GPU.isHeadlessGLSupported) {
      throw new GpuUnavailableError("gpu.js mode 'headlessgl' is not available: the optional native 'gl' package did not build or has no X display (run under xvfb-run)");
    }
    let gpu: GPUInstance;
    try {
      gpu = new lib.GPU({ mode: mode as 'gpu' });
    } catch (e) {
      throw new GpuUnavailableError(`gpu.js refused mode '${mode}': ${(e as Error).message.split('\n')[0]}`);
    }
    const backend = new GpuBackend(lib, gpu, mode);
    backend.probe();
    return backend;
  }

  /** True when gpu.js drives real graphics hardware (not a software rasterizer, not the CPU). */
  get onRealGpu(): boolean {
    const renderer = this.renderer ?? '';
    return ['headlessgl', 'webgl', 'webgl2', 'webgpu'].includes(this.mode) && HARDWARE_RENDERERS.test(renderer) && !SOFTWARE_RENDERERS.test(renderer);
  }

  /** Builds a tiny kernel to learn what gpu.js chose, its renderer, and that it computes in float32. */
  private probe(): void {
    const k = this.kernel('probe', matmulKernel, [1, 1], { M: 1, K: 1, N: 1, transA: 0, transB: 0 });
    const out = this.flatten(k(Float32Array.of(1.5), Float32Array.of(2)), 1, 1);
    this.mode = this.modeOf(k.kernel);
    const gl = k.kernel.context;
    if (gl && typeof gl.getParameter === 'function') {
      const info = gl.getExtension('WEBGL_debug_renderer_info');
      this.renderer = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
    }
    if (out[0] !== 3) throw new GpuUnavailableError(`gpu.js mode '${this.mode}' computed 1.5 × 2 = ${out[0]}: refusing a backend that gets arithmetic wrong`);
  }

  /** gpu.js reports every GL kernel as mode 'gpu': name the flavor from its class. */
  private modeOf(kernel: object): string {
    const { HeadlessGLKernel, WebGL2Kernel, WebGLKernel } = this.lib;
    if (kernel instanceof HeadlessGLKernel) return 'headlessgl';
    if (kernel instanceof WebGL2Kernel) return 'webgl2';
    if (kernel instanceof WebGLKernel) return 'webgl';
    return (kernel.constructor as { mode?: string }).mode ?? this.mode;
  }

  private kernel(name: string, fn: KernelFn, output: [number, number], constants: Record<string, number>): Runnable {
    const key = `${name}|${output.join('x')}|${Object.entries(constants).map(([k, v]) => `${k}=${v}`).join(',')}`;
    let k = this.kernels.get(key);
    if (k === undefined) {
      k = this.gpu.createKernel(fn as never, { output, constants, precision: 'single', tactic: 'precision', dynamicOutput: false }) as unknown as Runnable;
      this.kernels.set(key, k);
    }
    return k;
  }

  /** gpu.js returns rows (Float32Arrays); the engine wants one flat row-major array. */
  private flatten(result: unknown, rows: number, cols: number): Float32Array {
    const precision = (this.kernels.values().next().value as Runnable | undefined)?.kernel.precision;
    if (precision !== undefined && precision !== 'single') {
      throw new GpuUnavailableError(`gpu.js mode '${this.mode}' only offers '${precision}' precision; Waypoint refuses quantized float textures`);
    }
    if (result instanceof Float32Array && result.length === rows * cols) return result;
    const out = new Float32Array(rows * cols);
    (result as ArrayLike<number>[]).forEach((row, i) => out.set(row as ArrayLike<number>, i * cols));
    return out;
  }

  matmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number, transA: boolean, transB: boolean): Float32Array {
    const kernel = this.kernel('matmul', matmulKernel, [n, m], { M: m, K: k, N: n, transA: transA ? 1 : 0, transB: transB ? 1 : 0 });
    return this.flatten(kernel(a, b), m, n);
  }

  private convConstants(w: Conv2dInfo): Record<string, number> {
    return { B: w.batch, H: w.inH, W: w.inW, C: w.channels, KH: w.kH, KW: w.kW, SH: w.strideH, SW: w.strideW, PT: w.padTop, PL: w.padLeft, OH: w.outH, OW: w.outW, OC: w.outC };
  }

  conv2d(x: Float32Array, filter: Float32Array, info: Conv2dInfo): Float32Array {
    const rows = info.batch * info.outH * info.outW;
    return this.flatten(this.kernel('conv2d', conv2dForwardKernel, [info.outC, rows], this.convConstants(info))(x, filter), rows, info.outC);
  }

  conv2dBackpropInput(dy: Float32Array, filter: Float32Array, info: Conv2dInfo): Float32Array {
    const rows = info.batch * info.inH * info.inW;
    return this.flatten(this.kernel('conv2dInputGrad', conv2dInputGradKernel, [info.channels, rows], this.convConstants(info))(dy, filter), rows, info.channels);
  }

  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, info: Conv2dInfo): Float32Array {
    const rows = info.kH * info.kW * info.channels;
    return this.flatten(this.kernel('conv2dFilterGrad', conv2dFilterGradKernel, [info.outC, rows], this.convConstants(info))(x, dy), rows, info.outC);
  }

  maxPool2d = maxPool2d;
  maxPool2dBackward = maxPool2dBackward;

  describe(): string {
    return `gpu: gpu.js mode '${this.mode}'${this.renderer ? ` on ${this.renderer}` : ''}${this.onRealGpu ? '' : ' (no GPU hardware identified: gpu.js runs on the CPU or, for GL, possibly a software rasterizer)'}`;
  }
}
