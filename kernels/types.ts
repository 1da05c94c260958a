/**
 * Geometry of a 2-D convolution or pooling window over an NHWC tensor. The op computes it
 * (and validates the shapes); kernels trust it.
 */
export interface Window2d {
  batch: number;
  inH: number;
  inW: number;
  channels: number;
  kH: number;
  kW: number;
  strideH: number;
  strideW: number;
  /** Spacing of the window's taps (a dilated or atrous convolution); 1 when absent. */
  dilationH?: number;
  dilationW?: number;
  padTop: number;
  padLeft: number;
  outH: number;
  outW: number;
}

/** A convolution window plus its number of output channels (filter shape [kH, kW, channels, outC]). */
export interface Conv2dInfo extends Window2d {
  outC: number;
}

/** A normalization's output and what its backward pass needs (kernels/cpu/normalize.ts). */
export interface Normalized {
  y: Float32Array;
  /** (x − μ) · r, for the backward pass. */
  xhat: Float32Array;
  /** r per row (rows) or per channel (channels). */
  rstd: Float32Array;
  /** The statistics: per row or per channel (channels: the moving averages take them). */
  mean: Float32Array;
  variance: Float32Array;
}

export interface NormalizedGrad {
  dx: Float32Array;
  dgamma: Float32Array | null;
  dbeta: Float32Array | null;
}

/** A recurrence's output and its backward pass (kernels/cpu/recurrent.ts), which holds what it saved. */
export interface Recurrence {
  out: Float32Array;
  /** dL/d(projections), dL/d(recurrent kernel) and dL/d(recurrent bias) (null without one) from dL/d(out). */
  backward(dOut: Float32Array): RecurrenceGrad;
}

export interface RecurrenceGrad {
  dProjections: Float32Array;
  dRecurrent: Float32Array;
  dBias: Float32Array | null;
}

/** A recurrence's sizes: `projections` [batch, time, gates·units], every step's output or the last. */
export interface RecurrenceInfo {
  batch: number;
  time: number;
  units: number;
  sequences: boolean;
  /** Whether `backward` will be called (training): else the kernel keeps nothing for it. */
  training: boolean;
}
