import { Optimizer, type OptimizerConfig, checkRate } from './optimizer.js';

export interface AdagradConfig extends OptimizerConfig {
  initialAccumulatorValue?: number;
  epsilon?: number;
}

/** Adagrad, as Keras: a ← a + g² (a starting at initialAccumulatorValue); p ← p − ηg/√(a + ε). */
export class Adagrad extends Optimizer {
  readonly className = 'Adagrad';
  readonly initialAccumulatorValue: number;
  readonly epsilon: number;

  constructor(config: AdagradConfig = {}) {
    super('Adagrad', config, 0.001);
    this.initialAccumulatorValue = checkRate(
      'Adagrad',
      'initialAccumulatorValue',
      config.initialAccumulatorValue ?? 0.1,
    );
    this.epsilon = checkRate('Adagrad', 'epsilon', config.epsilon ?? 1e-7);
  }

  protected slotNames(): string[] {
    return ['accumulator'];
  }

  protected override slotInitialValue(): number {
    return this.initialAccumulatorValue;
  }

  protected update(p: Float32Array, g: Float32Array, [a]: Float32Array[], _t: number, lr: number): void {
    for (let i = 0; i < p.length; i++) {
      a[i] += g[i] * g[i];
      p[i] -= (lr * g[i]) / Math.sqrt(a[i] + this.epsilon);
    }
  }

  protected ownConfig() {
    return { initialAccumulatorValue: this.initialAccumulatorValue, epsilon: this.epsilon };
  }
}
