/**
 * A functional model's graph: the layer calls (nodes) between its inputs and outputs, in an
 * order where every node comes after the nodes it reads. It checks the graph (every output
 * depends only on the model's inputs, every input is used, layer names are unique), names
 * the unnamed layers as Keras would, runs the nodes forward, and reads and writes itself as
 * a config that rebuilds it exactly.
 */
import { ArgumentError, ShapeError, WaypointError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Random } from '../tensor/random.js';
import type { CallContext, Layer } from '../nn/layer.js';
import type { GraphNode, SymbolicTensor } from '../nn/symbolic.js';
import { InputLayer, inputTensor } from '../nn/layers/input.js';
import { type SerializedLayer, layerFromConfig, serializeLayer } from '../nn/registry.js';
import { CheckpointError } from '../state/errors.js';
import { snakeCase } from './keras-names.js';

/** A tensor of the graph by where it comes from: [layer name, the layer's call within this graph, output index]. */
export type TensorRef = [string, number, number];

export type GraphConfig = {
  layers: Array<SerializedLayer & { name: string }>;
  /** The calls in the order they run, each with the tensors it reads. */
  nodes: Array<{ layer: string; inputs: TensorRef[] }>;
  inputs: TensorRef[];
  outputs: TensorRef[];
};

export class Graph {
  /** The calls in the order they run. */
  readonly nodes: GraphNode[];
  /** Every layer once, in the order of its first call (inputs first, as Keras's `model.layers`). */
  readonly layers: Layer[];

  constructor(
    readonly inputs: SymbolicTensor[],
    readonly outputs: SymbolicTensor[],
    where: string,
  ) {
    if (inputs.length === 0 || outputs.length === 0)
      throw new ArgumentError(`${where}: a model needs at least one input and one output`);
    inputs.forEach((t, i) => {
      if (!(t.layer instanceof InputLayer))
        throw new ArgumentError(
          `${where}: inputs[${i}] is the output of ${t.layer.describe()}, not a tensor from Input(): a model's inputs come from Input({ shape })`,
        );
    });
    this.nodes = orderNodes(outputs, where);
    const reached = new Set(this.nodes);
    const inputNodes = new Set(inputs.map((t) => t.node));
    for (const node of this.nodes)
      if (node.layer instanceof InputLayer && !inputNodes.has(node))
        throw new ArgumentError(
          `${where}: the outputs depend on Input ${node.layer.name ? `'${node.layer.name}' ` : ''}of shape [${node.layer.shape}], which is not among the model's inputs`,
        );
    inputs.forEach((t, i) => {
      if (!reached.has(t.node))
        throw new ArgumentError(`${where}: inputs[${i}] (${t.layer.name || 'an Input'}) is not used by any output`);
    });
    this.layers = [...new Set(this.nodes.map((n) => n.layer))];
    nameLayers(this.layers, where);
  }

  /** Builds every layer for the shapes it is called on, in the order the calls run. */
  build(rng: Random): void {
    for (const node of this.nodes) {
      try {
        node.layer.buildFor(
          node.inputs.map((t) => t.shape),
          rng,
        );
      } catch (e) {
        if (e instanceof WaypointError) throw e;
        throw new ShapeError(node.layer.describe(), `could not be built: ${(e as Error).message}`);
      }
    }
  }

  /** Runs the calls on `inputs` (one per model input); `logits` marks the outputs to leave before their activation. */
  run(inputs: Tensor[], ctx: CallContext, logits: ReadonlySet<number> = new Set()): Tensor[] {
    const values = new Map<SymbolicTensor, Tensor>();
    this.inputs.forEach((t, i) => values.set(t, inputs[i]));
    const fused = new Set([...logits].map((i) => this.outputs[i].node));
    for (const node of this.nodes) {
      if (node.layer instanceof InputLayer) continue;
      const args = node.inputs.map((t) => values.get(t)!);
      const out = node.layer.callFor(args, { ...ctx, logits: fused.has(node) });
      node.outputs.forEach((t, i) => values.set(t, out[i]));
    }
    return this.outputs.map((t) => values.get(t)!);
  }

  /** Whether output `i` may be left before its layer's activation: nothing else in the graph reads it. */
  outputReadOnlyByLoss(i: number): boolean {
    const t = this.outputs[i];
    return (
      t.node.outputs.length === 1 &&
      this.outputs.filter((o) => o === t).length === 1 &&
      !this.nodes.some((n) => n.inputs.includes(t))
    );
  }

  /** The calls of `layer` within this graph, in order: a node's position among them is its index in configs. */
  private localIndex(node: GraphNode): number {
    return this.nodes.filter((n) => n.layer === node.layer).indexOf(node);
  }

  private ref(t: SymbolicTensor): TensorRef {
    return [t.layer.name, this.localIndex(t.node), t.index];
  }

  getConfig(): GraphConfig {
    return {
      layers: this.layers.map((l) => ({ ...serializeLayer(l), name: l.name })),
      nodes: this.nodes.map((n) => ({ layer: n.layer.name, inputs: n.inputs.map((t) => this.ref(t)) })),
      inputs: this.inputs.map((t) => this.ref(t)),
      outputs: this.outputs.map((t) => this.ref(t)),
    };
  }

  /** Rebuilds the tensors of a saved graph: new layers from their configs, called in the saved order. */
  static tensorsFromConfig(
    config: GraphConfig,
    where: string,
  ): { inputs: SymbolicTensor[]; outputs: SymbolicTensor[] } {
    const bad = (why: string) => new CheckpointError('INVALID_STATE', `${where}: the saved graph ${why}`);
    if (![config?.layers, config?.nodes, config?.inputs, config?.outputs].every(Array.isArray))
      throw bad('lacks layers, nodes, inputs or outputs');
    const layers = new Map<string, Layer>();
    for (const entry of config.layers) {
      const layer = layerFromConfig(entry);
      layer.nameIfUnnamed(entry.name);
      if (layers.has(layer.name)) throw bad(`names layer '${layer.name}' twice`);
      layers.set(layer.name, layer);
    }
    const made = new Map<string, SymbolicTensor[][]>();
    const tensor = ([name, call, index]: TensorRef): SymbolicTensor => {
      const t = made.get(name)?.[call]?.[index];
      if (t === undefined)
        throw bad(`reads ${name}[${call}][${index}] before it is made (a cycle, or a damaged config)`);
      return t;
    };
    for (const { layer: name, inputs } of config.nodes) {
      const layer = layers.get(name);
      if (layer === undefined) throw bad(`calls layer '${name}', which it does not define`);
      const outputs = layer instanceof InputLayer ? [inputTensor(layer)] : layer.applyAll(inputs.map(tensor));
      made.set(name, [...(made.get(name) ?? []), outputs]);
    }
    return { inputs: config.inputs.map(tensor), outputs: config.outputs.map(tensor) };
  }
}

/** The nodes the outputs depend on, each after the nodes it reads (depth-first, inputs in order). */
function orderNodes(outputs: SymbolicTensor[], where: string): GraphNode[] {
  const order: GraphNode[] = [];
  const done = new Set<GraphNode>();
  const active = new Set<GraphNode>();
  const visit = (node: GraphNode) => {
    if (done.has(node)) return;
    if (active.has(node)) throw new ArgumentError(`${where}: the graph has a cycle through ${node.layer.describe()}`);
    active.add(node);
    for (const t of node.inputs) visit(t.node);
    active.delete(node);
    done.add(node);
    order.push(node);
  };
  outputs.forEach((t) => visit(t.node));
  return order;
}

/**
 * Names every unnamed layer as Keras does — its snake-cased class name, then `_1`, `_2`, … —
 * in the graph's order, skipping names already taken; two layers of one name are an error.
 */
function nameLayers(layers: Layer[], where: string): void {
  const taken = new Map<string, Layer>();
  for (const layer of layers) {
    if (!layer.name) continue;
    if (taken.has(layer.name))
      throw new ArgumentError(
        `${where}: two layers are named '${layer.name}' (${taken.get(layer.name)!.describe()} and ${layer.describe()}): layer names must be unique in a model`,
      );
    if (layer.name.includes('/'))
      throw new ArgumentError(
        `${where}: layer name '${layer.name}' contains '/', which separates the parts of weight paths`,
      );
    taken.set(layer.name, layer);
  }
  const counts = new Map<string, number>();
  for (const layer of layers) {
    if (layer.name) continue;
    const base = layer instanceof InputLayer ? 'input_layer' : snakeCase(layer.kerasClassName);
    let name: string;
    do {
      const n = counts.get(base) ?? 0;
      counts.set(base, n + 1);
      name = n === 0 ? base : `${base}_${n}`;
    } while (taken.has(name));
    layer.nameIfUnnamed(name);
    taken.set(name, layer);
  }
}
