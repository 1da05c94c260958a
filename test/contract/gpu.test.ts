import { describe, it, expect, afterAll } from 'vitest';
import { createRequire } from 'node:module';
import {
  GpuBackend,
  GpuUnavailableError,
  setBackend,
  getBackend,
  BackendError,
  Random,
  type GpuMode,
} from '../../src/node/index.js';
import { kernelSuite } from '../helpers/kernel-suite.js';
import { dataFor, makeModel, fingerprint, type Kind } from '../../harness/training.js';

/**
 * The shared kernel suite on every gpu.js mode: 'cpu' and 'webasm' run everywhere (so the
 * kernel sources are always exercised); 'headlessgl' runs where the native `gl` built and an
 * X display exists (CI runs it under Xvfb and sets WAYPOINT_EXPECT_HEADLESSGL=1, so a silent
 * fallback fails there).
 */
const modes: GpuMode[] = ['cpu', 'webasm', 'headlessgl'];

/** gpu.js is an optional peer: `npm run setup:gpu` installs it (with the native gl); CI always does. */
const gpuJs = (() => {
  try {
    createRequire(import.meta.url).resolve('gpu.js');
    return true;
  } catch {
    return false;
  }
})();
const expectGpuJs = process.env.WAYPOINT_EXPECT_HEADLESSGL === '1';
if (!gpuJs)
  console.log(
    `SKIPPED: the gpu.js tests: gpu.js is not installed (npm run setup:gpu)${expectGpuJs ? ', which CI requires' : ''}`,
  );

describe('gpu.js', () => {
  it('is installed wherever the gpu tests are expected (CI runs npm run setup:gpu)', () => {
    expect(gpuJs || !expectGpuJs).toBe(true);
  });
});

afterAll(() => {
  setBackend('cpu');
});

for (const mode of gpuJs ? modes : []) {
  let backend: GpuBackend | null = null;
  let reason = '';
  try {
    backend = GpuBackend.create(mode);
  } catch (e) {
    if (!(e instanceof GpuUnavailableError)) throw e;
    reason = e.message;
  }
  if (backend === null) {
    describe(`gpu.js mode '${mode}'`, () => {
      it(`is unavailable here (${reason}), which is only allowed where it is not expected`, () => {
        expect(
          mode === 'headlessgl' && process.env.WAYPOINT_EXPECT_HEADLESSGL === '1',
          `headlessgl expected but unavailable: ${reason}`,
        ).toBe(false);
        expect(mode).toBe('headlessgl'); // cpu and webasm must always work
      });
    });
    continue;
  }
  describe(`gpu.js mode '${mode}'`, () => {
    it('runs the mode asked for, not a silent fallback', () => {
      expect(backend!.mode).toBe(mode);
      if (mode === 'headlessgl') expect(backend!.renderer).toBeTruthy();
    });
  });
  kernelSuite(`gpu backend, gpu.js mode '${mode}'`, backend);

  describe(`gpu.js mode '${mode}' at training sizes`, () => {
    it('a conv2d with more output rows than a GL texture has pixels per side (32×28×28 > 16,384) matches the cpu', async () => {
      const { cpuBackend } = await import('../../src/backend/cpu.js');
      const info = {
        batch: 32,
        inH: 28,
        inW: 28,
        channels: 1,
        kH: 3,
        kW: 3,
        strideH: 1,
        strideW: 1,
        padTop: 1,
        padLeft: 1,
        outH: 28,
        outW: 28,
        outC: 16,
      };
      const rng = new Random(5);
      const x = rng.fillUniform(new Float32Array(32 * 28 * 28), -1, 1),
        f = rng.fillUniform(new Float32Array(144), -1, 1);
      const want = cpuBackend.conv2d(x, f, info),
        got = backend!.conv2d(x, f, info);
      expect(got.length).toBe(want.length);
      for (let i = 0; i < want.length; i += 97)
        expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-4 * Math.max(1, Math.abs(want[i])));
    });
  });

  describe(`training on gpu.js mode '${mode}'`, () => {
    it('a full training step (forward, loss, backward, Adam) matches the cpu backend within float32 tolerance', async () => {
      const run = async (kind: Kind) => {
        const [x, y] = dataFor(kind, 32, 3);
        const model = makeModel(kind, 9);
        await model.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0 });
        return fingerprint(model);
      };
      for (const kind of ['mlp', 'cnn'] as const) {
        setBackend('cpu');
        const onCpu = await run(kind);
        setBackend('gpu', { gpujsMode: mode });
        expect(getBackend().gpujsMode).toBe(mode);
        const onGpu = await run(kind);
        setBackend('cpu');
        onCpu.weights.forEach(([name, bits], i) => {
          const a = new Float32Array(Uint32Array.from(bits as number[]).buffer);
          const b = new Float32Array(Uint32Array.from(onGpu.weights[i][1] as number[]).buffer);
          a.forEach((v, j) =>
            expect(Math.abs(v - b[j]), `${kind} ${String(name)}[${j}]`).toBeLessThan(1e-4 * Math.max(1, Math.abs(v))),
          );
        });
      }
    });
  });
}

describe('backend selection', () => {
  it("'auto' takes the gpu only on real GPU hardware, and says why not", () => {
    const info = setBackend('auto');
    if (info.name === 'cpu')
      expect(info.detail).toMatch(/auto: (gpu\.js found no GPU hardware|gpu\.js could not be loaded)/);
    else expect(info.detail).toMatch(/gpu\.js mode/);
    setBackend('cpu');
  });

  it('an unknown backend is rejected', () => {
    expect(() => setBackend('tpu' as 'cpu')).toThrow(/unknown backend 'tpu'/);
  });

  it.skipIf(!gpuJs)('an impossible request fails with the reason', () => {
    if (!GpuBackend.create('gpu').onRealGpu) {
      expect(() => setBackend('gpu', { gpujsMode: 'webgpu' })).toThrow(BackendError);
    }
  });

  it.skipIf(!gpuJs)('getBackend reports the mode and detail of what runs', () => {
    const info = setBackend('gpu', { gpujsMode: 'cpu' });
    expect(info).toMatchObject({ name: 'gpu', gpujsMode: 'cpu' });
    expect(getBackend().detail).toMatch(/gpu\.js mode 'cpu'/);
    setBackend('cpu');
    expect(getBackend()).toMatchObject({ name: 'cpu' });
    expect(new Random(1).uniform()).toBeGreaterThanOrEqual(0);
  });
});
