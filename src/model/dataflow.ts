/**
 * A model as the exporters see it: numbered values (each a per-sample shape) and the layer
 * calls between them, in an order where every value is made before it is read. A Sequential
 * is a chain; a functional model its graph; a model used as a layer is inlined, its layers'
 * keys under the key of its call, so that every format maps layers only.
 */
import type { Layer, SampleShape } from '../nn/layer.js';

export interface DataflowCall {
  layer: Layer;
  /** Where the layer's weights live, '.'-separated (`layers.0`, `layers.dense`, `layers.block.layers.dense`): one key per layer, shared by its calls. */
  key: string;
  inputs: number[];
  outputs: number[];
}

export interface Dataflow {
  inputs: Array<{ name: string; value: number }>;
  calls: DataflowCall[];
  outputs: Array<{ name: string; value: number }>;
  /** Each value's per-sample shape, by its number. */
  shapes: SampleShape[];
}

/** What a model gives the exporters: its own dataflow, with a nested model's calls not yet inlined. */
export interface DataflowSource {
  ownDataflow(): Dataflow;
}

const isSource = (layer: Layer): layer is Layer & DataflowSource =>
  typeof (layer as Partial<DataflowSource>).ownDataflow === 'function';

/** `model`'s dataflow with every nested model's calls inlined in place of its call. */
export function flatDataflow(model: DataflowSource): Dataflow {
  const own = model.ownDataflow();
  const shapes = [...own.shapes];
  const calls: DataflowCall[] = [];
  // An outer value that an inlined model passes through unchanged is the value it passes.
  const alias = new Map<number, number>();
  const resolve = (v: number) => alias.get(v) ?? v;
  for (const outer of own.calls) {
    const call = { ...outer, inputs: outer.inputs.map(resolve) };
    if (!isSource(call.layer)) {
      calls.push(call);
      continue;
    }
    const inner = flatDataflow(call.layer);
    // The inner values, renumbered: its inputs are this call's inputs, its outputs this call's outputs, the rest new.
    const renumber = new Map<number, number>();
    inner.inputs.forEach((v, i) => renumber.set(v.value, call.inputs[i]));
    inner.outputs.forEach((v, i) => {
      if (renumber.has(v.value)) alias.set(call.outputs[i], renumber.get(v.value)!);
      else renumber.set(v.value, call.outputs[i]);
    });
    const value = (v: number) => {
      if (!renumber.has(v)) renumber.set(v, shapes.push([...inner.shapes[v]]) - 1);
      return renumber.get(v)!;
    };
    for (const c of inner.calls)
      calls.push({
        layer: c.layer,
        key: `${call.key}.${c.key}`,
        inputs: c.inputs.map(value),
        outputs: c.outputs.map(value),
      });
  }
  return {
    inputs: own.inputs,
    calls,
    outputs: own.outputs.map((o) => ({ name: o.name, value: resolve(o.value) })),
    shapes,
  };
}
