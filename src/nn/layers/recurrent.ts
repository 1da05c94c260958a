/**
 * LSTM and GRU over [batch, time, features] inputs, in Keras's formulation and weight
 * layout; backpropagation through time comes from autograd over the unrolled steps.
 */
import { ArgumentError, ShapeError, fmtShape } from '../../errors.js';
import { Tensor } from '../../tensor/tensor.js';
import type { Random } from '../../tensor/random.js';
import { add, biasAdd, matmul, mul, reshape, slice, stack, sub } from '../../tensor/ops.js';
import { gruRecurrence, lstmRecurrence } from '../../tensor/ops/recurrent.js';
import { type ActivationName, activation } from '../activations.js';
import { type InitializerName, initialize } from '../initializers.js';
import { Layer, type LayerExample, type LayerConfig, type SampleShape } from '../layer.js';

export interface RecurrentConfig extends LayerConfig {
  units: number;
  activation?: ActivationName;
  recurrentActivation?: ActivationName;
  useBias?: boolean;
  /** Every step's output [batch, time, units] instead of the last one [batch, units]. */
  returnSequences?: boolean;
  kernelInitializer?: InitializerName;
  recurrentInitializer?: InitializerName;
  biasInitializer?: InitializerName;
}

/** What LSTM and GRU share: config, the input check, x·kernel for all steps at once, the unrolled loop. */
abstract class Recurrent extends Layer {
  readonly units: number;
  readonly activation: ActivationName;
  readonly recurrentActivation: ActivationName;
  readonly useBias: boolean;
  readonly returnSequences: boolean;
  readonly kernelInitializer: InitializerName;
  readonly recurrentInitializer: InitializerName;
  readonly biasInitializer: InitializerName;
  protected readonly act: (x: Tensor) => Tensor;
  protected readonly recurrentAct: (x: Tensor) => Tensor;
  /** Gates per unit: 4 (LSTM: i, f, c, o) or 3 (GRU: z, r, h). */
  protected abstract readonly gates: number;

  constructor(owner: string, config: RecurrentConfig) {
    super(config);
    if (!(Number.isInteger(config.units) && config.units > 0))
      throw new ArgumentError(`${owner}: units must be a positive integer, got ${config.units}`);
    this.units = config.units;
    this.activation = config.activation ?? 'tanh';
    this.recurrentActivation = config.recurrentActivation ?? 'sigmoid';
    this.act = activation(this.activation, owner);
    this.recurrentAct = activation(this.recurrentActivation, owner);
    this.useBias = config.useBias ?? true;
    this.returnSequences = config.returnSequences ?? false;
    this.kernelInitializer = config.kernelInitializer ?? 'glorotUniform';
    this.recurrentInitializer = config.recurrentInitializer ?? 'orthogonal';
    this.biasInitializer = config.biasInitializer ?? 'zeros';
  }

  protected features(inputShape: SampleShape): number {
    if (inputShape.length !== 2)
      throw new ShapeError(
        this.describe(),
        `expects sequences [batch, time, features], got per-sample shape ${fmtShape(inputShape)}`,
      );
    return inputShape[1];
  }

  protected addKernels(inputShape: SampleShape, rng: Random): void {
    const f = this.features(inputShape),
      g = this.gates * this.units;
    this.addWeight('kernel', initialize(this.kernelInitializer, f * g, f, g, rng), [f, g]);
    this.addWeight('recurrent_kernel', initialize(this.recurrentInitializer, this.units * g, this.units, g, rng), [
      this.units,
      g,
    ]);
  }

  outputShape(inputShape: SampleShape): SampleShape {
    this.features(inputShape);
    return this.returnSequences ? [inputShape[0], this.units] : [this.units];
  }

  /** Gate `k` (of `gates`) of a [batch, gates·units] pre-activation. */
  protected gate(z: Tensor, k: number): Tensor {
    return slice(z, [0, k * this.units], [z.shape[0], this.units]);
  }

  /** x·kernel (+ bias) for every step at once: [batch, time, gates·units]. */
  protected inputProjections(x: Tensor, bias: Tensor | null): Tensor {
    if (x.rank !== 3)
      throw new ShapeError(this.describe(), `expects [batch, time, features], got ${fmtShape(x.shape)}`);
    const [batch, time, f] = x.shape;
    let xw = matmul(reshape(x, [batch * time, f]), this.weight('kernel'));
    if (bias) xw = biasAdd(xw, bias);
    return reshape(xw, [batch, time, this.gates * this.units]);
  }

  /** Runs `step` over time from zero states; the last output, or all of them. */
  protected unroll(x: Tensor, projections: Tensor, step: (xt: Tensor, h: Tensor) => Tensor): Tensor {
    const [batch, time] = x.shape;
    const width = this.gates * this.units;
    let h = new Tensor(new Float32Array(batch * this.units), [batch, this.units]);
    const outputs: Tensor[] = [];
    for (let t = 0; t < time; t++) {
      h = step(reshape(slice(projections, [0, t, 0], [batch, 1, width]), [batch, width]), h);
      if (this.returnSequences) outputs.push(h);
    }
    return this.returnSequences ? stack(outputs, 1) : h;
  }

  protected baseConfig() {
    return {
      name: this.name,
      inputShape: this.inputShape,
      trainable: this.trainable,
      units: this.units,
      activation: this.activation,
      recurrentActivation: this.recurrentActivation,
      useBias: this.useBias,
      returnSequences: this.returnSequences,
      kernelInitializer: this.kernelInitializer,
      recurrentInitializer: this.recurrentInitializer,
      biasInitializer: this.biasInitializer,
    };
  }
}

export interface LSTMConfig extends RecurrentConfig {
  /** Start the forget gate's bias at 1 (default true, as Keras). */
  unitForgetBias?: boolean;
}

/**
 * Long short-term memory, as Keras: z = xₜ·W + hₜ₋₁·U + b, split into the gates i, f, c, o
 * (that order); cₜ = σ(f)·cₜ₋₁ + σ(i)·tanh(c); hₜ = σ(o)·tanh(cₜ). Weights: kernel
 * [features, 4u], recurrent_kernel [u, 4u], bias [4u].
 */
export class LSTM extends Recurrent {
  /** A small instance for the layer contract (test/contract/layers.test.ts): its config and per-sample input shape. */
  static readonly example: LayerExample = { config: { units: 3 }, inputShape: [4, 2] };
  readonly className = 'LSTM';
  protected readonly gates = 4;
  readonly unitForgetBias: boolean;

  constructor(config: LSTMConfig) {
    super('LSTM', config);
    this.unitForgetBias = config.unitForgetBias ?? true;
  }

  protected override createWeights(inputShape: SampleShape, rng: Random): void {
    this.addKernels(inputShape, rng);
    if (!this.useBias) return;
    const u = this.units;
    const bias = initialize(this.biasInitializer, 4 * u, u, 4 * u, rng);
    if (this.unitForgetBias) bias.fill(1, u, 2 * u);
    this.addWeight('bias', bias, [4 * u]);
  }

  call(x: Tensor): Tensor {
    const projections = this.inputProjections(x, this.useBias ? this.weight('bias') : null);
    const recurrent = this.weight('recurrent_kernel');
    // Keras's default activations: the fused recurrence; others unroll through the autograd.
    if (this.activation === 'tanh' && this.recurrentActivation === 'sigmoid')
      return lstmRecurrence(projections, recurrent, this.returnSequences);
    let c = new Tensor(new Float32Array(x.shape[0] * this.units), [x.shape[0], this.units]);
    return this.unroll(x, projections, (xt, h) => {
      const z = add(xt, matmul(h, recurrent));
      const i = this.recurrentAct(this.gate(z, 0)),
        f = this.recurrentAct(this.gate(z, 1));
      const o = this.recurrentAct(this.gate(z, 3));
      c = add(mul(f, c), mul(i, this.act(this.gate(z, 2))));
      return mul(o, this.act(c));
    });
  }

  getConfig() {
    return { ...this.baseConfig(), unitForgetBias: this.unitForgetBias };
  }
}

/**
 * Gated recurrent unit, as Keras with `resetAfter: true` (its default, and cuDNN's): gates
 * z, r, h (that order); z = σ(x_z + h·U_z), r = σ(x_r + h·U_r), ĥ = tanh(x_h + r·(h·U_h +
 * b_h)), hₜ = z·hₜ₋₁ + (1 − z)·ĥ. Weights: kernel [features, 3u], recurrent_kernel [u, 3u],
 * bias [2, 3u] (input bias, recurrent bias).
 */
export class GRU extends Recurrent {
  /** A small instance for the layer contract (test/contract/layers.test.ts): its config and per-sample input shape. */
  static readonly example: LayerExample = { config: { units: 3 }, inputShape: [4, 2] };
  readonly className = 'GRU';
  protected readonly gates = 3;

  constructor(config: RecurrentConfig & { resetAfter?: boolean }) {
    super('GRU', config);
    if (config.resetAfter === false)
      throw new ArgumentError('GRU: only resetAfter: true (the Keras default) is implemented');
  }

  protected override createWeights(inputShape: SampleShape, rng: Random): void {
    this.addKernels(inputShape, rng);
    const g = 3 * this.units;
    if (this.useBias) this.addWeight('bias', initialize(this.biasInitializer, 2 * g, g, g, rng), [2, g]);
  }

  call(x: Tensor): Tensor {
    const g = 3 * this.units;
    const bias = this.useBias ? this.weight('bias') : null;
    const inputBias = bias && reshape(slice(bias, [0, 0], [1, g]), [g]);
    const recurrentBias = bias && reshape(slice(bias, [1, 0], [1, g]), [g]);
    const projections = this.inputProjections(x, inputBias);
    const recurrent = this.weight('recurrent_kernel');
    // Keras's default activations: the fused recurrence; others unroll through the autograd.
    if (this.activation === 'tanh' && this.recurrentActivation === 'sigmoid')
      return gruRecurrence(projections, recurrent, recurrentBias, this.returnSequences);
    return this.unroll(x, projections, (xt, h) => {
      let inner = matmul(h, recurrent);
      if (recurrentBias) inner = add(inner, recurrentBias);
      const z = this.recurrentAct(add(this.gate(xt, 0), this.gate(inner, 0)));
      const r = this.recurrentAct(add(this.gate(xt, 1), this.gate(inner, 1)));
      const candidate = this.act(add(this.gate(xt, 2), mul(r, this.gate(inner, 2))));
      return add(mul(z, h), mul(sub(1, z), candidate));
    });
  }

  getConfig() {
    return { ...this.baseConfig(), resetAfter: true };
  }
}
