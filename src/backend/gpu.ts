/**
 * The gpu backend: the kernels of kernels/gpu run through gpu.js, compiled once per
 * (kernel, shapes) and cached here. gpu.js is an optional peer dependency, loaded by the
 * platform (src/platform.ts) only when this backend is asked for (or 'auto' looks for a GPU):
 * Node requires it where it is installed, a page imports its browser build (src/browser/gpu.ts).
 * Without it, or where its native `gl` did not build, everything runs on the cpu backend.
 * Max pooling stays on the cpu kernels: it is memory-bound and never paid off.
 */
import type { Conv2dInfo } from '../../kernels/types.js';
import {
  conv2dFilterGradKernel,
  conv2dForwardKernel,
  conv2dInputGradKernel,
  matmulKernel,
} from '../../kernels/gpu/kernels.js';
import type { Backend } from './backend.js';
import { WaypointError } from '../errors.js';
import { platform } from '../platform.js';

export type GpuMode = 'headlessgl' | 'webgl2' | 'webgl' | 'webgpu' | 'webasm' | 'cpu';
/** What to ask gpu.js for: a specific mode, or 'gpu' for the best it has. */
export type GpuModeRequest = GpuMode | 'gpu';

/** What Waypoint uses of gpu.js, typed here: type-checking needs no optional peer installed. */
export interface GpuJs {
  GPU: { new (settings: { mode: string }): GPUInstance; readonly isHeadlessGLSupported: boolean };
  HeadlessGLKernel: abstract new (...args: never[]) => object;
  WebGL2Kernel: abstract new (...args: never[]) => object;
  WebGLKernel: abstract new (...args: never[]) => object;
}
interface GPUInstance {
  createKernel(fn: never, settings: Record<string, unknown>): (...args: Array<Float32Array | never>) => unknown;
  destroy(): void;
}
type KernelFn = (this: never, ...args: never[]) => number;
/** gpu.js's run shortcut: callable, with the kernel it settled on (which may switch on first run). */
interface Runnable {
  (...args: Float32Array[]): unknown;
  kernel: { precision?: string; context?: WebGLRenderingContext | null; constructor: { mode?: string } };
}

/** The gpu backend cannot run as asked; the message says why. */
export class GpuUnavailableError extends WaypointError {}

let gpuJs: GpuJs | string | null = null;

const NOT_INSTALLED = 'gpu.js could not be loaded (it is an optional peer dependency: npm install gpu.js)';

/** A module namespace or a CommonJS/UMD export object: gpu.js's exports either way. */
const exportsOf = (lib: unknown): GpuJs =>
  ((lib as { GPU?: unknown }).GPU ? lib : (lib as { default: unknown }).default) as GpuJs;

/** gpu.js, or the reason it cannot be loaded (synchronously: where it was imported before, or Node can require it). */
function loadGpuJs(): GpuJs | string {
  if (gpuJs === null) {
    const require = platform().requireGpuJs;
    if (!require)
      return 'gpu.js is not loaded: in a page, import it first (await initBackend(), with waypoint/gpu imported)';
    try {
      gpuJs = exportsOf(require());
    } catch (e) {
      gpuJs = `${NOT_INSTALLED}: ${(e as Error).message.split('\n')[0]}`;
    }
  }
  return gpuJs;
}

/** Loads gpu.js through the platform's dynamic import, where there is one (a failure is kept as the reason, which GpuBackend.create reports). */
export async function importGpuJs(): Promise<void> {
  if (typeof gpuJs === 'object' && gpuJs !== null) return;
  const load = platform().importGpuJs;
  if (!load) {
    loadGpuJs();
    return;
  }
  try {
    gpuJs = exportsOf(await load());
  } catch (e) {
    gpuJs = `${NOT_INSTALLED}: ${(e as Error).message.split('\n')[0]}`;
  }
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

  private constructor(
    private readonly lib: GpuJs,
    private readonly gpu: GPUInstance,
    requested: GpuModeRequest,
  ) {
    this.mode = requested;
  }

  /** A backend on gpu.js in `mode`; throws GpuUnavailableError naming the reason when it cannot. */
  static create(mode: GpuModeRequest = 'gpu'): GpuBackend {
    const lib = loadGpuJs();
    if (typeof lib === 'string') throw new GpuUnavailableError(lib);
    if (mode === 'headlessgl' && !lib.GPU.isHeadlessGLSupported) {
      throw new GpuUnavailableError(
        "gpu.js mode 'headlessgl' is not available: the optional native 'gl' package did not build or has no X display (run under xvfb-run)",
      );
    }
    let gpu: GPUInstance;
    try {
      gpu = new lib.GPU({ mode });
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
    return (
      ['headlessgl', 'webgl', 'webgl2', 'webgpu'].includes(this.mode) &&
      HARDWARE_RENDERERS.test(renderer) &&
      !SOFTWARE_RENDERERS.test(renderer)
    );
  }

  /** Builds a tiny kernel to learn what gpu.js chose, its renderer, and that it computes in float32. */
  private probe(): void {
    const k = this.kernel('probe', matmulKernel, 1, { M: 1, K: 1, N: 1, transA: 0, transB: 0 });
    const out = this.result(k(Float32Array.of(1.5), Float32Array.of(2)), 1);
    this.mode = this.modeOf(k.kernel);
    const gl = k.kernel.context;
    if (gl && typeof gl.getParameter === 'function') {
      const info = gl.getExtension('WEBGL_debug_renderer_info');
      this.renderer = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
    }
    if (out[0] !== 3)
      throw new GpuUnavailableError(
        `gpu.js mode '${this.mode}' computed 1.5 × 2 = ${out[0]}: refusing a backend that gets arithmetic wrong`,
      );
  }

  /** gpu.js reports every GL kernel as mode 'gpu': name the flavor from its class. */
  private modeOf(kernel: object): string {
    const { HeadlessGLKernel, WebGL2Kernel, WebGLKernel } = this.lib;
    if (kernel instanceof HeadlessGLKernel) return 'headlessgl';
    if (kernel instanceof WebGL2Kernel) return 'webgl2';
    if (kernel instanceof WebGLKernel) return 'webgl';
    return (kernel.constructor as { mode?: string }).mode ?? this.mode;
  }

  /** The kernel for these sizes (flat output of `size` values), built on first use and cached. */
  private kernel(name: string, fn: KernelFn, size: number, constants: Record<string, number>): Runnable {
    const key = `${name}|${size}|${Object.entries(constants)
      .map(([k, v]) => `${k}=${v}`)
      .join(',')}`;
    let k = this.kernels.get(key);
    if (k === undefined) {
      k = this.gpu.createKernel(fn as never, {
        output: [size],
        constants,
        precision: 'single',
        tactic: 'precision',
        dynamicOutput: false,
      }) as unknown as Runnable;
      this.kernels.set(key, k);
    }
    return k;
  }

  /** Runs a kernel; a gpu.js failure (texture too large, shader error) becomes one clear error. */
  private run(op: string, k: Runnable, ...args: Float32Array[]): Float32Array {
    let result: unknown;
    try {
      result = k(...args);
    } catch (e) {
      throw new GpuUnavailableError(
        `gpu backend: ${op} failed in gpu.js mode '${this.mode}': ${(e as Error).message.split('\n')[0]}`,
      );
    }
    if (k.kernel.precision !== undefined && k.kernel.precision !== 'single') {
      throw new GpuUnavailableError(
        `gpu.js mode '${this.mode}' only offers '${k.kernel.precision}' precision; Waypoint refuses quantized float textures`,
      );
    }
    return result as Float32Array;
  }

  private result(result: unknown, size: number): Float32Array {
    return result instanceof Float32Array && result.length === size
      ? result
      : Float32Array.from(result as ArrayLike<number>);
  }

  matmul(
    a: Float32Array,
    b: Float32Array,
    m: number,
    k: number,
    n: number,
    transA: boolean,
    transB: boolean,
  ): Float32Array {
    const kernel = this.kernel('matmul', matmulKernel, m * n, {
      M: m,
      K: k,
      N: n,
      transA: transA ? 1 : 0,
      transB: transB ? 1 : 0,
    });
    return this.result(this.run(`matmul [${m},${k}]x[${k},${n}]`, kernel, a, b), m * n);
  }

  private convConstants(w: Conv2dInfo): Record<string, number> {
    return {
      B: w.batch,
      H: w.inH,
      W: w.inW,
      C: w.channels,
      KH: w.kH,
      KW: w.kW,
      SH: w.strideH,
      SW: w.strideW,
      DH: w.dilationH ?? 1,
      DW: w.dilationW ?? 1,
      PT: w.padTop,
      PL: w.padLeft,
      OH: w.outH,
      OW: w.outW,
      OC: w.outC,
    };
  }

  conv2d(x: Float32Array, filter: Float32Array, info: Conv2dInfo): Float32Array {
    const size = info.batch * info.outH * info.outW * info.outC;
    return this.result(
      this.run('conv2d', this.kernel('conv2d', conv2dForwardKernel, size, this.convConstants(info)), x, filter),
      size,
    );
  }

  conv2dBackpropInput(dy: Float32Array, filter: Float32Array, info: Conv2dInfo): Float32Array {
    const size = info.batch * info.inH * info.inW * info.channels;
    return this.result(
      this.run(
        'conv2d input gradient',
        this.kernel('conv2dInputGrad', conv2dInputGradKernel, size, this.convConstants(info)),
        dy,
        filter,
      ),
      size,
    );
  }

  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, info: Conv2dInfo): Float32Array {
    const size = info.kH * info.kW * info.channels * info.outC;
    return this.result(
      this.run(
        'conv2d filter gradient',
        this.kernel('conv2dFilterGrad', conv2dFilterGradKernel, size, this.convConstants(info)),
        x,
        dy,
      ),
      size,
    );
  }

  describe(): string {
    return `gpu: gpu.js mode '${this.mode}'${this.renderer ? ` on ${this.renderer}` : ''}${this.onRealGpu ? '' : ' (no GPU hardware identified: gpu.js runs on the CPU or, for GL, possibly a software rasterizer)'}`;
  }
}
