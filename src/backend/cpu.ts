import type { CompleteBackend } from './backend.js';
import { defaultGemm, gemmFallbackReason } from '../../kernels/cpu/matmul.js';
import { parallelMatmul } from './threads.js';
import { conv2d, conv2dBackpropFilter, conv2dBackpropInput } from '../../kernels/cpu/conv2d.js';
import { parallelConvFilterGrad, parallelConvForward, parallelConvInputGrad } from './conv-threads.js';
import {
  avgPool2d,
  avgPool2dBackward,
  globalAvgPool,
  globalAvgPoolBackward,
  maxPool2d,
  maxPool2dBackward,
} from '../../kernels/cpu/pool.js';
import { biasActivate, biasActivateGrad } from '../../kernels/cpu/bias.js';
import { activate, activateGrad } from '../../kernels/cpu/activation.js';
import { gatherGrad, gatherRows } from '../../kernels/cpu/gather.js';
import { adamSlots, adamUpdate } from '../../kernels/cpu/adam.js';
import { emaAverage, emaUpdate } from '../../kernels/cpu/ema.js';
import { gru, lstm } from '../../kernels/cpu/recurrent.js';
import { type PhaseConvs, dilatedFilterGrad, dilatedForward, dilatedInputGrad } from '../../kernels/cpu/conv-phases.js';
import {
  normalizeChannels,
  normalizeChannelsGrad,
  normalizeRows,
  normalizeRowsGrad,
} from '../../kernels/cpu/normalize.js';

/** The direct kernels (threaded) a dilated convolution's phases run on. */
const direct: PhaseConvs = {
  forward: parallelConvForward,
  inputGrad: parallelConvInputGrad,
  filterGrad: parallelConvFilterGrad,
};

export const cpuBackend: CompleteBackend = {
  name: 'cpu',
  matmul: (a, b, m, k, n, transA, transB) => parallelMatmul(a, b, m, k, n, transA, transB),
  // Stride 1, 4–64 output channels: direct SIMD kernels, large ones on every thread (dilated ones
  // phase by phase); otherwise (or without SIMD) im2col + the packed matmul.
  conv2d: (x, f, info) =>
    parallelConvForward(x, f, null, false, info) ??
    dilatedForward(x, f, null, false, info, direct) ??
    conv2d(x, f, info, parallelMatmul),
  conv2dBackpropInput: (dy, f, info) =>
    parallelConvInputGrad(dy, f, info) ??
    dilatedInputGrad(dy, f, info, direct) ??
    conv2dBackpropInput(dy, f, info, parallelMatmul),
  conv2dBackpropFilter: (x, dy, info) =>
    parallelConvFilterGrad(x, dy, info) ??
    dilatedFilterGrad(x, dy, info, direct) ??
    conv2dBackpropFilter(x, dy, info, parallelMatmul),
  conv2dBiasActivation: (x, f, bias, relu, info) =>
    parallelConvForward(x, f, bias, relu, info) ?? dilatedForward(x, f, bias, relu, info, direct),
  maxPool2d,
  maxPool2dBackward,
  avgPool2d,
  avgPool2dBackward,
  globalAvgPool,
  globalAvgPoolBackward,
  biasActivation: (x, bias, relu) => biasActivate(x, bias, relu),
  biasActivationGrad: (y, dy, channels, relu) => biasActivateGrad(y, dy, channels, relu),
  activate,
  activateGrad,
  gather: gatherRows,
  gatherGrad,
  normalizeRows,
  normalizeRowsGrad,
  normalizeChannels,
  normalizeChannelsGrad,
  lstm: (p, U, info) => lstm(p, U, info, parallelMatmul),
  gru: (p, U, bias, info) => gru(p, U, bias, info, parallelMatmul),
  adamSlots,
  adamUpdate,
  emaAverage,
  emaUpdate,
};

export function cpuDetail(): string {
  if (defaultGemm.name !== 'wasm-simd')
    return `cpu: JavaScript matmul (${gemmFallbackReason ?? 'no WebAssembly SIMD'}); im2col convolutions`;
  return 'cpu: WebAssembly SIMD matmul and direct convolutions (im2col where direct does not apply)';
}
