import { Optimizer, checkRate } from './optimizer.js';

export interface AdamConfig {
  learningRate?: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

/**
 * Adam, in Keras's formulation: α_t = η·√(1−β₂ᵗ)/(1−β₁ᵗ); m ← m + (g−m)(1−β₁);
 * v ← v + (g²−v)(1−β₂); p ← p − α_t·m/(√v + ε).
 */
export class Adam extends Optimizer {
  readonly className = 'Adam';
  readonly learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;

  constructor(config: AdamConfig = {}) {
    super();
    this.learningRate = checkRate('Adam', 'learningRate', config.learningRate ?? 0.001, { open: true });
    this.beta1 = checkRate('Adam', 'beta1', config.beta1 ?? 0.9, { max: 1 });
    this.beta2 = checkRate('Adam', 'beta2', config.beta2 ?? 0.999, { max: 1 });
    this.epsilon = checkRate('Adam', 'epsilon', config.epsilon ?? 1e-7);
  }

  protected slotNames(): string[] {
    return ['m', 'v'];
  }

  protected update(p: Float32Array, g: Float32Array, [m, v]: Float32Array[], t: number): void {
    const { beta1: b1, beta2: b2, epsilon: eps } = this;
    const alpha = (this.learningRate * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t);
    for (let i = 0; i < p.length; i++) {
      const gi = g[i];
      m[i] += (gi - m[i]) * (1 - b1);
      v[i] += (gi * gi - v[i]) * (1 - b2);
      p[i] -= (alpha * m[i]) / (Math.sqrt(v[i]) + eps);
    }
  }

  getConfig() {
    return { learningRate: this.learningRate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon };
  }
}
