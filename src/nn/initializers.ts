import { ArgumentError } from '../errors.js';
import type { Random } from '../tensor/random.js';

export type InitializerName = 'glorotUniform' | 'heNormal' | 'zeros' | 'ones';
const INITIALIZERS: readonly InitializerName[] = ['glorotUniform', 'heNormal', 'zeros', 'ones'];

/** Fills a new weight of `size` values; fanIn/fanOut as Keras computes them for the layer. */
export function initialize(name: InitializerName, size: number, fanIn: number, fanOut: number, rng: Random): Float32Array {
  const out = new Float32Array(size);
  switch (name) {
    case 'glorotUniform': {
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      return rng.fillUniform(out, -limit, limit);
    }
    case 'heNormal': {
      // Keras draws from a normal truncated at 2σ, σ = sqrt(2 / fanIn) / 0.8796 (the truncation's std).
      const std = Math.sqrt(2 / fanIn) / 0.87962566103423978;
      for (let i = 0; i < size; i++) {
        let v: number;
        do v = rng.normal();
        while (Math.abs(v) > 2);
        out[i] = v * std;
      }
      return out;
    }
    case 'zeros':
      return out;
    case 'ones':
      return out.fill(1);
    default:
      throw new ArgumentError(`unknown initializer '${String(name)}' (expected one of ${INITIALIZERS.join(', ')})`);
  }
}
