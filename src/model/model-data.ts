/**
 * The data a model takes, one tensor per input (or output): a Tensor alone for a model of
 * one, a list by position, or an object keyed by input (output) name, as Keras and
 * TensorFlow.js take them.
 */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';

export type ModelData = Tensor | Tensor[] | Record<string, Tensor>;

/** `data` as one tensor per name, in the names' order; `what` is 'x' (inputs) or 'y' (targets). */
export function dataList(where: string, what: 'x' | 'y', data: unknown, names: string[]): Tensor[] {
  const kind = what === 'x' ? 'input' : 'output';
  const expect = `${names.length} ${kind}s (${names.join(', ')}): give ${what} as a list of ${names.length} Tensors or an object keyed by those names`;
  let tensors: unknown[];
  if (data instanceof Tensor) {
    if (names.length !== 1) throw new ArgumentError(`${where}: the model has ${expect}`);
    tensors = [data];
  } else if (Array.isArray(data)) {
    if (data.length !== names.length)
      throw new ArgumentError(`${where}: ${what} lists ${data.length} tensors, but the model has ${expect}`);
    tensors = data;
  } else if (data !== null && typeof data === 'object') {
    const given = Object.keys(data);
    const unknown = given.find((k) => !names.includes(k));
    if (unknown !== undefined)
      throw new ArgumentError(
        `${where}: ${what} names unknown ${kind} '${unknown}' (the model's ${kind}s: ${names.join(', ')})`,
      );
    const missing = names.find((n) => !given.includes(n));
    if (missing !== undefined) throw new ArgumentError(`${where}: ${what} has no tensor for ${kind} '${missing}'`);
    tensors = names.map((n) => (data as Record<string, unknown>)[n]);
  } else {
    throw new ArgumentError(
      `${where}: ${what} must be a Tensor, a list of Tensors or an object of them, got ${data === null ? 'null' : typeof data}`,
    );
  }
  tensors.forEach((t, i) => {
    if (!(t instanceof Tensor))
      throw new ArgumentError(
        `${where}: ${what} for ${kind} '${names[i]}' is ${t === null ? 'null' : typeof t}, not a Tensor`,
      );
    if (t.rank < 1)
      throw new ShapeError(
        where,
        `${what} for ${kind} '${names[i]}' has no batch dimension (shape ${fmtShape(t.shape)})`,
      );
  });
  return tensors as Tensor[];
}

/** Checks that every tensor of x and y holds the same number of samples, naming the first that differs. */
export function sameSamples(where: string, x: Tensor[], y: Tensor[], names: { x: string[]; y: string[] }): number {
  // A model of one input (output) names none: "x has 120 samples".
  const label = (side: 'x' | 'y', i: number) => (names[side].length > 1 ? `${side} '${names[side][i]}'` : side);
  const n = x[0].shape[0];
  const all = [...x.map((t, i) => [label('x', i), t] as const), ...y.map((t, i) => [label('y', i), t] as const)];
  for (const [which, t] of all)
    if (t.shape[0] !== n)
      throw new ShapeError(
        where,
        `${label('x', 0)} has ${n} samples (${fmtShape(x[0].shape)}) but ${which} has ${t.shape[0]} (${fmtShape(t.shape)})`,
      );
  return n;
}
