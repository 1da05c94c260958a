/**
 * Layers that merge several tensors into one, as Keras's: `Add`, `Subtract`, `Multiply`,
 * `Average`, `Maximum`, `Minimum` (elementwise, broadcasting as NumPy does) and `Concatenate`
 * (along an axis). They are applied to a list of symbolic tensors: `new Add().apply([x, y])`.
 */
import { ArgumentError, ShapeError } from '../../errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Random } from '../../tensor/random.js';
import { add, concat, div, maximum, minimum, mul, sub } from '../../tensor/ops.js';
import { type CallContext, Layer, type LayerConfig, type LayerExample, type SampleShape, fmtShapes } from '../layer.js';

/** A layer of several inputs and one output, without weights. */
abstract class Merge extends Layer {
  private mergedFor: string | null = null;

  /** The output shape for these input shapes (at least two), or a ShapeError naming them. */
  protected abstract mergedShape(shapes: SampleShape[]): SampleShape;
  protected abstract merge(inputs: Tensor[]): Tensor;

  override get built(): boolean {
    return this.mergedFor !== null;
  }

  outputShape(): SampleShape {
    throw new ArgumentError(`${this.describe()} merges a list of inputs: apply it to [a, b, …]`);
  }

  call(): Tensor {
    throw new ArgumentError(`${this.describe()} merges a list of inputs: apply it to [a, b, …]`);
  }

  override outputShapesFor(shapes: SampleShape[]): SampleShape[] {
    if (shapes.length < 2)
      throw new ArgumentError(`${this.describe()} merges at least two inputs, given ${shapes.length}`);
    return [this.mergedShape(shapes)];
  }

  override buildFor(shapes: SampleShape[], _rng: Random): SampleShape[] {
    const out = this.outputShapesFor(shapes);
    if (this.mergedFor !== null && this.mergedFor !== fmtShapes(shapes))
      throw new ShapeError(this.describe(), `was built for inputs ${this.mergedFor}, now given ${fmtShapes(shapes)}`);
    this.mergedFor = fmtShapes(shapes);
    return out;
  }

  override callFor(inputs: Tensor[], _ctx: CallContext): Tensor[] {
    return [this.merge(inputs)];
  }

  getConfig(): Record<string, unknown> {
    return { name: this.name };
  }
}

/** Merges elementwise; shapes broadcast as NumPy's (right-aligned, a 1 stretches), as Keras's merges do. */
abstract class ElementwiseMerge extends Merge {
  protected mergedShape(shapes: SampleShape[]): SampleShape {
    const rank = Math.max(...shapes.map((s) => s.length));
    const out: SampleShape = [];
    for (let i = 1; i <= rank; i++) {
      const dims = shapes.map((s) => s[s.length - i] ?? 1);
      const d = Math.max(...dims);
      if (dims.some((x) => x !== 1 && x !== d))
        throw new ShapeError(this.describe(), `cannot merge inputs of shapes ${fmtShapes(shapes)}`);
      out.unshift(d);
    }
    return out;
  }

  protected merge(inputs: Tensor[]): Tensor {
    return inputs.slice(1).reduce((acc, x) => this.combine(acc, x), inputs[0]);
  }

  protected abstract combine(a: Tensor, b: Tensor): Tensor;
}

const pair: LayerExample = { config: {}, inputShape: [3], inputShapes: [[3], [3]] };

/** The sum of its inputs. */
export class Add extends ElementwiseMerge {
  static readonly example = pair;
  readonly className = 'Add';
  protected combine(a: Tensor, b: Tensor): Tensor {
    return add(a, b);
  }
}

/** Its first input minus its second (exactly two). */
export class Subtract extends ElementwiseMerge {
  static readonly example = pair;
  readonly className = 'Subtract';
  protected override mergedShape(shapes: SampleShape[]): SampleShape {
    if (shapes.length !== 2)
      throw new ArgumentError(`${this.describe()} takes exactly two inputs, given ${shapes.length}`);
    return super.mergedShape(shapes);
  }
  protected combine(a: Tensor, b: Tensor): Tensor {
    return sub(a, b);
  }
}

/** The elementwise product of its inputs. */
export class Multiply extends ElementwiseMerge {
  static readonly example = pair;
  readonly className = 'Multiply';
  protected combine(a: Tensor, b: Tensor): Tensor {
    return mul(a, b);
  }
}

/** The elementwise largest of its inputs (a tie shares the gradient, as PyTorch). */
export class Maximum extends ElementwiseMerge {
  static readonly example = pair;
  readonly className = 'Maximum';
  protected combine(a: Tensor, b: Tensor): Tensor {
    return maximum(a, b);
  }
}

/** The elementwise smallest of its inputs. */
export class Minimum extends ElementwiseMerge {
  static readonly example = pair;
  readonly className = 'Minimum';
  protected combine(a: Tensor, b: Tensor): Tensor {
    return minimum(a, b);
  }
}

/** The mean of its inputs: their sum in order, then divided by their count (as Keras). */
export class Average extends ElementwiseMerge {
  static readonly example = pair;
  readonly className = 'Average';
  protected combine(a: Tensor, b: Tensor): Tensor {
    return add(a, b);
  }
  protected override merge(inputs: Tensor[]): Tensor {
    return div(super.merge(inputs), inputs.length);
  }
}

export interface ConcatenateConfig extends LayerConfig {
  /** The axis to join along, counting the batch dimension as Keras does (default -1, the last). */
  axis?: number;
}

/** Its inputs joined along `axis`; every other dimension must agree. */
export class Concatenate extends Merge {
  static readonly example: LayerExample = {
    config: { axis: -1 },
    inputShape: [2, 3],
    inputShapes: [
      [2, 3],
      [2, 1],
    ],
  };
  readonly className = 'Concatenate';
  readonly axis: number;

  constructor(config: ConcatenateConfig = {}) {
    super(config);
    const axis = config.axis ?? -1;
    if (!Number.isInteger(axis) || axis === 0)
      throw new ArgumentError(
        `Concatenate: axis must be a non-zero integer (axis 0 is the batch), got ${JSON.stringify(config.axis)}`,
      );
    this.axis = axis;
  }

  /** The axis within a sample's shape of `rank`. */
  private sampleAxis(rank: number): number {
    return this.axis > 0 ? this.axis - 1 : rank + this.axis;
  }

  protected mergedShape(shapes: SampleShape[]): SampleShape {
    const rank = shapes[0].length;
    const at = this.sampleAxis(rank);
    const fits = shapes.every((s) => s.length === rank && s.every((d, i) => i === at || d === shapes[0][i]));
    if (at < 0 || at >= rank || !fits)
      throw new ShapeError(
        this.describe(),
        `cannot join inputs of shapes ${fmtShapes(shapes)} along axis ${this.axis}: every other dimension must agree`,
      );
    const out = [...shapes[0]];
    out[at] = shapes.reduce((n, s) => n + s[at], 0);
    return out;
  }

  protected merge(inputs: Tensor[]): Tensor {
    return concat(inputs, this.sampleAxis(inputs[0].rank - 1) + 1);
  }

  override getConfig(): Record<string, unknown> {
    return { name: this.name, axis: this.axis };
  }
}
