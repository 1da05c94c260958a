import { allocate } from '../../kernels/buffers.js';
/**
 * Large matmuls on every core, deterministically (and the job dispatch that large direct
 * convolutions use too, conv-threads.ts). The rows of the output are split between
 * this thread and compute threads (platform().startComputeWorker) that share memory with it:
 * A and B are copied into a SharedArrayBuffer, each thread computes its own rows with the
 * same kernel (kernels/cpu/matmul's matmulRows, whose sums do not depend on which rows it is
 * asked for), and this thread waits on Atomics.wait until the others are done. Every output
 * element is computed by one thread in a fixed order, so the result is bit-identical for any
 * thread count. Small matmuls stay on this thread: below MIN_MULTIPLY_ADDS the hand-off costs
 * more than it saves (`npm run bench -- matmul-threads` measures the crossover).
 */
import { ArgumentError } from '../errors.js';
import { type WorkerThread, platform } from '../platform.js';
import { matmulRows } from '../../kernels/cpu/matmul.js';
import { MR } from '../../kernels/cpu/gemm-simd.js';

/**
 * A matmul stays on the calling thread below this many multiply-adds, or with fewer than
 * MIN_ROWS rows to split: waking a thread and copying the operands then costs about what the
 * second core saves (`npm run bench -- matmul-threads`, 2-core VM: 192³ lost 17 %, the CNN's
 * 4.5M-multiply-add im2col products gained 0–46 % from run to run, 256³ gained 4–17 %,
 * 512³ and up 53–79 %).
 */
export const MIN_MULTIPLY_ADDS = 1 << 24;
export const MIN_ROWS = 256;

/**
 * Below this many multiply-adds a direct convolution stays on the calling thread: the
 * crossover `npm run bench -- conv-direct` measured (numbers in docs/BENCHMARKS.md, "Constants
 * chosen by measurement").
 */
export const MIN_CONV_MULTIPLY_ADDS = 1 << 25;

/** The control block of one compute thread, as Int32 indices (see compute-worker.ts). */
export const CONTROL = { SEQ: 0, DONE: 1, OP: 2, PARAMS: 3, SIZE: 20 } as const;
export const OP_MATMUL = 1;
/** Go back to the event loop: a message with a new data buffer follows. */
export const OP_REFRESH = 2;
/** Direct convolution passes over a range of images (src/backend/conv-threads.ts). */
export const OP_CONV_FORWARD = 3;
export const OP_CONV_INPUT_GRAD = 4;
export const OP_CONV_FILTER_GRAD = 5;

export interface ComputeThread {
  worker: WorkerThread;
  control: Int32Array;
  ready: boolean;
  /** The data buffer this thread was last sent. */
  data: SharedArrayBuffer | null;
  seq: number;
}

const pool: ComputeThread[] = [];
/** What configureThreads asked for; until then the platform's default (read late: the entry installs the platform first). */
let configured: number | null = null;
const wanted = () => (configured ??= defaultThreads());
/** The operands and results shared with the threads (made on first use: pages that are not cross-origin isolated have no SharedArrayBuffer). */
let data: SharedArrayBuffer | null = null;
let failed: string | null = null;

function defaultThreads(): number {
  return platform().startComputeWorker ? Math.max(1, Math.min(8, platform().cores())) : 1;
}

export interface ThreadOptions {
  /** Threads that compute a large matmul, this one included (default: the cores, at most 8; 1: this thread only). */
  threads: number;
}

/** Sets how many threads compute large matmuls; returns the count it replaced. Threads start in the background. */
export function configureThreads({ threads }: ThreadOptions): number {
  if (!(Number.isInteger(threads) && threads >= 1))
    throw new ArgumentError(`configureThreads: threads must be a whole number >= 1, got ${threads}`);
  if (threads > 1 && !platform().startComputeWorker)
    throw new ArgumentError(
      "configureThreads: this platform cannot run compute threads (a page's main thread may not block on Atomics.wait)",
    );
  const before = wanted();
  configured = threads;
  for (const t of pool.splice(threads - 1)) void t.worker.terminate();
  return before;
}

/** Threads that compute large matmuls now (this one and the compute threads that have started). */
export function runningThreads(): number {
  return 1 + pool.filter((t) => t.ready).length;
}

/** What configureThreads asked for, and why fewer may run. */
export function threadDetail(): string {
  const running = runningThreads();
  if (failed) return `matmul on 1 thread (compute threads failed: ${failed})`;
  const millions = (n: number) => `${Math.round(n / 2 ** 20)}M+`;
  return (
    `on ${running} thread${running === 1 ? '' : 's'}${wanted() > running ? ` of ${wanted()} (the rest starting)` : ''} ` +
    `(matmuls of ${millions(MIN_MULTIPLY_ADDS)} multiply-adds and ${MIN_ROWS}+ rows, direct convolutions of ${millions(MIN_CONV_MULTIPLY_ADDS)})`
  );
}

/** Starts the compute threads asked for, in the background; resolves once they all take work. */
export async function startThreads(): Promise<number> {
  threads();
  // An idle thread never keeps the process alive, but one that is being waited for must.
  await Promise.all(
    pool.map((t) =>
      t.ready
        ? undefined
        : new Promise<void>((resolve) => {
            t.worker.ref();
            t.worker.on('message', () => {
              t.worker.unref();
              resolve();
            });
            t.worker.on('error', () => resolve());
          }),
    ),
  );
  return runningThreads();
}

function threads(): ComputeThread[] {
  const start = platform().startComputeWorker;
  while (start && failed === null && pool.length < wanted() - 1) {
    const control = new Int32Array(new SharedArrayBuffer(CONTROL.SIZE * 4));
    const thread: ComputeThread = { worker: start(), control, ready: false, data: null, seq: 0 };
    thread.worker.on('message', (m) => {
      if (m === 'ready') thread.ready = true;
    });
    thread.worker.on('error', (e) => {
      failed = e.message;
      pool.splice(pool.indexOf(thread), 1);
    });
    thread.worker.unref();
    thread.worker.postMessage({ control: control.buffer });
    pool.push(thread);
  }
  return pool;
}

/** Makes the shared data buffer hold `floats`, sending a new one to the threads (each takes it at its next message). */
function shared(floats: number, ready: ComputeThread[]): Float32Array {
  if (data === null || data.byteLength < floats * 4) data = new SharedArrayBuffer(Math.ceil(floats * 1.25) * 4);
  const buffer = data;
  for (const t of ready) {
    if (t.data === buffer) continue;
    if (t.data !== null) {
      // Out of its wait loop first, so that its event loop reads the message below before the next job.
      run(t, OP_REFRESH, []);
      if (!wait(t)) continue;
    }
    t.worker.postMessage({ data: buffer });
    t.data = buffer;
  }
  return new Float32Array(buffer);
}

function run(t: ComputeThread, op: number, params: number[]): void {
  t.control[CONTROL.OP] = op;
  t.control.set(params, CONTROL.PARAMS);
  Atomics.store(t.control, CONTROL.SEQ, ++t.seq);
  Atomics.notify(t.control, CONTROL.SEQ);
}

/** A thread that does not answer in this long is taken out of the pool (its rows are computed here). */
const TIMEOUT_MS = 30_000;

/** Waits until `t` has done its last job; false (and `t` leaves the pool) if it never does. */
function wait(t: ComputeThread): boolean {
  const deadline = performance.now() + TIMEOUT_MS;
  for (let done = Atomics.load(t.control, CONTROL.DONE); done !== t.seq; done = Atomics.load(t.control, CONTROL.DONE)) {
    const left = deadline - performance.now();
    if (left <= 0) {
      failed = `a compute thread did not answer within ${TIMEOUT_MS / 1000} s`;
      pool.splice(pool.indexOf(t), 1);
      void t.worker.terminate();
      return false;
    }
    // Sleeps only while DONE still holds the value just compared: a store in between wakes it at once.
    Atomics.wait(t.control, CONTROL.DONE, done, left);
  }
  return true;
}

/** The compute threads that can take a job now: none while one thread is configured. */
export function helpers(): ComputeThread[] {
  return wanted() === 1 ? [] : threads().filter((t) => t.ready);
}

/**
 * One job per helper, in a shared buffer of `floats`: `fill` writes the operands into it, each
 * helper runs its job (an op and its parameters, offsets into the buffer), this thread runs
 * `own` meanwhile, then waits. A job whose thread left the pool or never answers is done here
 * by `redo` (the same numbers; only later). Returns the buffer, for the caller to read.
 */
export function runOnHelpers(
  workers: ComputeThread[],
  floats: number,
  fill: (view: Float32Array) => void,
  jobs: Array<[number, number[]]>,
  own: () => void,
  redo: (job: number, view: Float32Array) => void,
): Float32Array {
  const view = shared(floats, workers);
  fill(view);
  const given = jobs.map(([op, params], i) => {
    if (!pool.includes(workers[i])) return false;
    run(workers[i], op, params);
    return true;
  });
  own();
  given.forEach((ok, i) => {
    if (!ok || !wait(workers[i])) redo(i, view);
  });
  return view;
}

/** op(A) · op(B) on every ready thread when it is large enough, else on this one (see the module comment). */
export function parallelMatmul(
  a: Float32Array,
  b: Float32Array,
  m: number,
  k: number,
  n: number,
  transA = false,
  transB = false,
  out: Float32Array = allocate(m * n),
  { minMultiplyAdds = MIN_MULTIPLY_ADDS, minRows = MIN_ROWS } = {},
): Float32Array {
  const workers = m * k * n < minMultiplyAdds || m < Math.max(minRows, 2 * MR) ? [] : helpers();
  if (workers.length === 0) return matmulRows(a, b, m, k, n, transA, transB, out, 0, m);
  const aLen = m * k,
    bLen = k * n;
  // Row blocks of whole micro-kernel panels, this thread's first.
  const per = Math.ceil(m / (workers.length + 1) / MR) * MR;
  const own = Math.min(per, m);
  const blocks = workers.map((_, i) => [Math.min(m, per * (i + 1)), Math.min(m, per * (i + 2))]);
  const at = (r0: number) => aLen + bLen + (r0 - per) * n;
  const view = runOnHelpers(
    workers,
    aLen + bLen + m * n,
    (v) => {
      v.set(a.subarray(0, aLen), 0);
      v.set(b.subarray(0, bLen), aLen);
    },
    blocks.map(([r0, r1]) => [OP_MATMUL, [0, aLen, at(r0), m, k, n, transA ? 1 : 0, transB ? 1 : 0, r0, r1]]),
    () => matmulRows(a, b, m, k, n, transA, transB, out, 0, own),
    (i, v) => {
      const [r0, r1] = blocks[i];
      matmulRows(a, b, m, k, n, transA, transB, v.subarray(at(r0), at(r1)), r0, r1);
    },
  );
  out.set(view.subarray(aLen + bLen, aLen + bLen + (m - own) * n), own * n);
  return out;
}
