import { Optimizer, type OptimizerConfig, checkRate } from './optimizer.js';
import { backend } from '../backend/index.js';

export interface AdamConfig extends OptimizerConfig {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

/**
 * Adam, in Keras's formulation: α_t = η·√(1−β₂ᵗ)/(1−β₁ᵗ); m ← m + (g−m)(1−β₁);
 * v ← v + (g²−v)(1−β₂); p ← p − α_t·m/(√v + ε).
 */
export class Adam extends Optimizer {
  readonly className: string = 'Adam';
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;

  constructor(config: AdamConfig = {}, owner = 'Adam') {
    super(owner, config, 0.001);
    this.beta1 = checkRate(owner, 'beta1', config.beta1 ?? 0.9, { max: 1 });
    this.beta2 = checkRate(owner, 'beta2', config.beta2 ?? 0.999, { max: 1 });
    this.epsilon = checkRate(owner, 'epsilon', config.epsilon ?? 1e-7);
  }

  protected slotNames(): string[] {
    return ['m', 'v'];
  }

  /** Zeros, kept in the update kernel's memory (fewer copies a step). */
  protected override newSlots(size: number): Float32Array[] {
    return backend().adamSlots(size);
  }

  protected update(p: Float32Array, g: Float32Array, [m, v]: Float32Array[], t: number, lr: number): void {
    const { beta1: b1, beta2: b2, epsilon: eps } = this;
    const alpha = (lr * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t);
    // In float32, as Keras and PyTorch compute it (the backend's adamUpdate; the cpu's in kernels/cpu/adam.ts).
    backend().adamUpdate(p, g, m, v, 1 - b1, 1 - b2, alpha, eps);
  }

  protected ownConfig() {
    return { beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon };
  }
}

/** Adam with decoupled weight decay (Loshchilov & Hutter), as Keras's AdamW: weightDecay defaults to 0.004. */
export class AdamW extends Adam {
  override readonly className = 'AdamW';

  constructor(config: AdamConfig = {}) {
    super({ ...config, weightDecay: config.weightDecay ?? 0.004 }, 'AdamW');
  }
}
