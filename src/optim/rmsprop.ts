import { Optimizer, type OptimizerConfig, checkRate } from './optimizer.js';

export interface RMSpropConfig extends OptimizerConfig {
  rho?: number;
  momentum?: number;
  epsilon?: number;
  centered?: boolean;
}

/**
 * RMSprop, as Keras: v ← ρv + (1−ρ)g²; centered, ḡ ← ρḡ + (1−ρ)g and d = v − ḡ² + ε, else
 * d = v + ε; Δ = ηg/√d; with momentum, m ← μm + Δ and p ← p − m, else p ← p − Δ.
 */
export class RMSprop extends Optimizer {
  readonly className = 'RMSprop';
  readonly rho: number;
  readonly momentum: number;
  readonly epsilon: number;
  readonly centered: boolean;

  constructor(config: RMSpropConfig = {}) {
    super('RMSprop', config, 0.001);
    this.rho = checkRate('RMSprop', 'rho', config.rho ?? 0.9, { max: 1 });
    this.momentum = checkRate('RMSprop', 'momentum', config.momentum ?? 0, { max: 1 });
    this.epsilon = checkRate('RMSprop', 'epsilon', config.epsilon ?? 1e-7);
    this.centered = config.centered ?? false;
  }

  protected slotNames(): string[] {
    return ['velocity', ...(this.momentum > 0 ? ['momentum'] : []), ...(this.centered ? ['averageGradient'] : [])];
  }

  protected update(p: Float32Array, g: Float32Array, slots: Float32Array[], _t: number, lr: number): void {
    const { rho, momentum: mu, epsilon: eps, centered } = this;
    const [v] = slots;
    const m = mu > 0 ? slots[1] : null;
    const avg = centered ? slots[mu > 0 ? 2 : 1] : null;
    for (let i = 0; i < p.length; i++) {
      const gi = g[i];
      v[i] = rho * v[i] + (1 - rho) * gi * gi;
      let d = v[i] + eps;
      if (avg) {
        avg[i] = rho * avg[i] + (1 - rho) * gi;
        d -= avg[i] * avg[i];
      }
      const step = (lr * gi) / Math.sqrt(d);
      if (m) {
        m[i] = mu * m[i] + step;
        p[i] -= m[i];
      } else {
        p[i] -= step;
      }
    }
  }

  protected ownConfig() {
    return { rho: this.rho, momentum: this.momentum, epsilon: this.epsilon, centered: this.centered };
  }
}
