/** One road from ops to kernels (src/backend): every backend has every kernel, its own or the cpu's. */
import { describe, it, expect } from 'vitest';
import { type Backend, withCpuDefaults } from '../../src/backend/index.js';
import { cpuBackend } from '../../src/backend/cpu.js';
import { DEFAULTED_KERNELS } from '../../src/backend/backend.js';

describe('withCpuDefaults', () => {
  it("fills in the cpu's kernel for each defaulted kernel a backend leaves out, and keeps the ones it implements", () => {
    const own = (x: Float32Array) => x.map((v) => v + 1);
    const partial: Backend = {
      name: 'gpu',
      matmul: cpuBackend.matmul,
      conv2d: cpuBackend.conv2d,
      conv2dBackpropInput: cpuBackend.conv2dBackpropInput,
      conv2dBackpropFilter: cpuBackend.conv2dBackpropFilter,
      biasActivation: own,
    };
    const complete = withCpuDefaults(partial);
    for (const k of DEFAULTED_KERNELS) expect(typeof complete[k], k).toBe('function');
    expect(complete.biasActivation).toBe(own);
    expect(complete.avgPool2d).toBe(cpuBackend.avgPool2d);
    expect(complete.name).toBe('gpu');
    expect(withCpuDefaults(cpuBackend)).toBe(cpuBackend); // nothing missing: the backend itself
  });
});
