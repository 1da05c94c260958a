import { ShapeError, fmtShape } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Random } from '../tensor/random.js';
import type { Layer, SampleShape } from '../nn/layer.js';
import { layerFromConfig, registerModelClass, serializeLayer } from '../nn/registry.js';
import type { OutputSpec } from './compile.js';
import type { Dataflow } from './dataflow.js';
import { type ForwardContext, Model, type SequentialConfig, activationOf } from './model.js';
import { type ModelData } from './model-data.js';
import { kerasLayerNames } from './keras-names.js';
import { printSummary } from './summary.js';

export interface SequentialOptions {
  name?: string;
  /** Seeds every random number of this model: initialization, shuffling, dropout. */
  seed?: number;
}

export type { SequentialConfig } from './model.js';

/** A linear stack of layers: a Model whose graph is the stack, built when its input shape is known. */
export class Sequential extends Model {
  override readonly className: string = 'Sequential';
  private readonly stack: Layer[] = [];
  private builtInput: SampleShape | null = null;

  constructor(layers: Layer[] = [], options: SequentialOptions = {}) {
    super({ name: options.name ?? 'sequential', seed: options.seed } as never);
    for (const layer of layers) this.add(layer);
  }

  override get layers(): Layer[] {
    return this.stack;
  }

  override get inputNames(): string[] {
    return [this.stack[0]?.name || 'input'];
  }

  override get outputNames(): string[] {
    return [kerasLayerNames(this).at(-1) ?? 'output'];
  }

  /**
   * Appends a layer. As in TensorFlow.js, a first layer with an `inputShape` builds the model
   * at once, and layers added to a built model are built on the previous output: weights
   * are drawn from the model's generator in layer order either way.
   */
  add(layer: Layer): void {
    if (this.builtInput !== null) {
      layer.build(this.stackShapes().at(-1) ?? this.builtInput, this.rng);
      this.stack.push(layer);
      return;
    }
    this.stack.push(layer);
    if (this.stack.length === 1 && layer.inputShape !== undefined) this.build();
  }

  override get built(): boolean {
    return this.builtInput !== null;
  }

  /** Creates every layer's weights for samples of `inputShape` (taken from the first layer if omitted). */
  override build(inputShape?: SampleShape, _rng?: Random): SampleShape {
    const shape = inputShape ?? this.stack[0]?.inputShape;
    if (shape === undefined)
      throw new ShapeError(this.name, 'the first layer needs an inputShape (or call build(shape), or fit on data)');
    if (this.builtInput !== null) {
      if (fmtShape(this.builtInput) !== fmtShape(shape))
        throw new ShapeError(this.name, `built for samples ${fmtShape(this.builtInput)}, given ${fmtShape(shape)}`);
      return this.stackShapes().at(-1)!;
    }
    let s: SampleShape = [...shape];
    for (const layer of this.stack) s = layer.build(s, this.rng);
    this.builtInput = [...shape];
    return s;
  }

  override ensureBuilt(): void {
    if (!this.built) this.build();
  }

  override buildInputs(shapes: SampleShape[]): void {
    if (shapes.length !== 1) throw new ShapeError(this.name, `a Sequential takes one input, given ${shapes.length}`);
    this.build(shapes[0]);
  }

  /** Per-sample input shape the model was built for. */
  inputShapeOf(): SampleShape {
    if (this.builtInput === null) throw new ShapeError(this.name, 'is not built yet');
    return [...this.builtInput];
  }

  override inputShapes(): SampleShape[] {
    return [this.inputShapeOf()];
  }

  override outputShapes(): SampleShape[] {
    return [this.stackShapes().at(-1) ?? this.inputShapeOf()];
  }

  override outputShapesFor(shapes: SampleShape[]): SampleShape[] {
    if (this.built) return super.outputShapesFor(shapes);
    if (shapes.length !== 1) throw new ShapeError(this.name, `a Sequential takes one input, given ${shapes.length}`);
    return [this.stack.reduce((s, layer) => layer.outputShape(s), shapes[0])];
  }

  override buildFor(shapes: SampleShape[], _rng: Random): SampleShape[] {
    this.buildInputs(shapes);
    return this.outputShapes();
  }

  private stackShapes(): SampleShape[] {
    const shapes: SampleShape[] = [];
    let s = this.builtInput as SampleShape;
    for (const layer of this.stack) shapes.push((s = layer.outputShape(s)));
    return shapes;
  }

  /** A chain: value i is layer i's input, value 0 the model's. */
  override ownDataflow(): Dataflow {
    this.ensureBuilt();
    return {
      inputs: [{ name: 'input', value: 0 }],
      calls: this.stack.map((layer, i) => ({ layer, key: `layers.${i}`, inputs: [i], outputs: [i + 1] })),
      outputs: [{ name: 'output', value: this.stack.length }],
      shapes: [this.inputShapeOf(), ...this.stackShapes()],
    };
  }

  protected override outputSpecs(): OutputSpec[] {
    return [{ name: this.outputNames[0], fusableActivation: activationOf(this.stack.at(-1)) }];
  }

  override sublayers(): Array<[string, Layer]> {
    return this.stack.map((layer, i) => [`layers/${i}`, layer]);
  }

  override forwardAll(inputs: Tensor[], ctx: ForwardContext): Tensor[] {
    this.buildInputs(inputs.map((x) => x.shape.slice(1)));
    return [this.forward(inputs[0], { ...ctx, logits: ctx.logits?.has(0) })];
  }

  /** The forward pass of one input, recording the graph (training) or not. */
  forward(x: Tensor, ctx: { training: boolean; rng: Random; logits?: boolean }): Tensor {
    this.build(x.shape.slice(1));
    let y = x;
    this.stack.forEach((layer, i) => {
      y = layer.call(y, { ...ctx, logits: ctx.logits === true && i === this.stack.length - 1 });
    });
    return y;
  }

  /** Outputs for `x`, computed in batches without recording the graph. */
  override predict(x: ModelData, options: { batchSize?: number } = {}): Tensor {
    return this.predictAll(x, options)[0];
  }

  override summary(write: (line: string) => void = console.log): void {
    if (!this.built && this.stack[0]?.inputShape) this.build();
    const shapes = this.built ? this.stackShapes() : null;
    const names = kerasLayerNames(this);
    printSummary(
      this,
      this.stack.map((layer, i) => ({
        layer: Object.create(layer, { name: { value: names[i] } }) as Layer,
        outputShapes: shapes && [shapes[i]],
        params: layer.countParams(),
      })),
      false,
      write,
    );
  }

  override getConfig(): SequentialConfig {
    return { name: this.name, seed: this.seed, layers: this.stack.map(serializeLayer) };
  }

  static override fromConfig(config: SequentialConfig): Sequential {
    return new Sequential(config.layers.map(layerFromConfig), { name: config.name, seed: config.seed });
  }
}

registerModelClass('Sequential', (config: SequentialConfig) => Sequential.fromConfig(config));
