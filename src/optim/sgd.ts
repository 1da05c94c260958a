import { Optimizer, type OptimizerConfig, checkRate } from './optimizer.js';

export interface SGDConfig extends OptimizerConfig {
  momentum?: number;
  nesterov?: boolean;
}

/**
 * Stochastic gradient descent, as Keras: v ← μv − ηg; p ← p + v (or, with Nesterov,
 * p ← p + μv − ηg). Without momentum, p ← p − ηg.
 */
export class SGD extends Optimizer {
  readonly className = 'SGD';
  readonly momentum: number;
  readonly nesterov: boolean;

  constructor(config: SGDConfig = {}) {
    super('SGD', config, 0.01);
    this.momentum = checkRate('SGD', 'momentum', config.momentum ?? 0, { max: 1 });
    this.nesterov = config.nesterov ?? false;
  }

  protected slotNames(): string[] {
    return this.momentum > 0 ? ['momentum'] : [];
  }

  protected update(p: Float32Array, g: Float32Array, slots: Float32Array[], _t: number, lr: number): void {
    const mu = this.momentum;
    if (mu === 0) {
      for (let i = 0; i < p.length; i++) p[i] -= lr * g[i];
      return;
    }
    const v = slots[0];
    for (let i = 0; i < p.length; i++) {
      v[i] = mu * v[i] - lr * g[i];
      p[i] += this.nesterov ? mu * v[i] - lr * g[i] : v[i];
    }
  }

  protected ownConfig() {
    return { momentum: this.momentum, nesterov: this.nesterov };
  }
}
