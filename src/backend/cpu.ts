import type { Backend } from './backend.js';
import { defaultGemm, gemmFallbackReason } from '../../kernels/cpu/matmul.js';
import { parallelMatmul } from './threads.js';
import { conv2d, conv2dBackpropFilter, conv2dBackpropInput } from '../../kernels/cpu/conv2d.js';
import { conv2dBackpropFilterDirect, conv2dBackpropInputDirect, conv2dDirect } from '../../kernels/cpu/conv-direct.js';
import { maxPool2d, maxPool2dBackward } from '../../kernels/cpu/pool.js';

export const cpuBackend: Backend = {
  name: 'cpu',
  matmul: (a, b, m, k, n, transA, transB) => parallelMatmul(a, b, m, k, n, transA, transB),
  // Few channels: direct SIMD kernels; otherwise (or without SIMD) im2col + the packed matmul.
  conv2d: (x, f, info) => conv2dDirect(x, f, null, false, info) ?? conv2d(x, f, info, parallelMatmul),
  conv2dBackpropInput: (dy, f, info) => conv2dBackpropInputDirect(dy, f, info) ?? conv2dBackpropInput(dy, f, info, parallelMatmul),
  conv2dBackpropFilter: (x, dy, info) => conv2dBackpropFilterDirect(x, dy, info) ?? conv2dBackpropFilter(x, dy, info, parallelMatmul),
  conv2dBiasActivation: (x, f, bias, relu, info) => conv2dDirect(x, f, bias, relu, info),
  maxPool2d,
  maxPool2dBackward,
};

export function cpuDetail(): string {
  const kernel = defaultGemm.name === 'wasm-simd' ? 'WebAssembly SIMD micro-kernel' : 'JavaScript micro-kernel';
  return `cpu: packed matmul with a ${kernel}${gemmFallbackReason ? ` (${gemmFallbackReason})` : ''}; im2col convolution`;
}
